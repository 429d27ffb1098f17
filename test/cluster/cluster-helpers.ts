/** Helpers of the multi-node tests: the Redis to use, isolated key prefixes, nodes and child processes. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { RedisAdapter, type RedisAdapterOptions } from '../../src/cluster/redis-adapter.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** The Redis the cluster tests run against, if configured. */
export const TEST_REDIS_URL = process.env.HERALD_TEST_REDIS_URL ?? '';

/** The `skip` option of a suite that needs Redis: false when configured. */
export const redisSkip: false | string = TEST_REDIS_URL ? false : 'SKIP: HERALD_TEST_REDIS_URL is not set';

/** The `skip` option of a suite that starts a redis-server of its own (besides needing Redis at all). */
export const ownRedisSkip: false | string =
  redisSkip || (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0 ? false : 'SKIP: redis-server is not on PATH');

/** The Redis Cluster the cluster tests run against, if configured (.ci/run starts one): its node URLs, comma-separated. */
export const TEST_REDIS_CLUSTER_URLS = process.env.HERALD_TEST_REDIS_CLUSTER_URLS ?? '';

/** A Redis the multi-node suites run on: one Redis, or a Redis Cluster. */
export interface RedisTarget {
  readonly name: string;
  readonly url: string;
  readonly cluster: boolean;
  readonly skip: false | string;
}

export const ONE_REDIS: RedisTarget = { name: 'one Redis', url: TEST_REDIS_URL, cluster: false, skip: redisSkip };
export const REDIS_CLUSTER: RedisTarget = {
  name: 'a Redis Cluster',
  url: TEST_REDIS_CLUSTER_URLS,
  cluster: true,
  skip: TEST_REDIS_CLUSTER_URLS ? false : 'SKIP: HERALD_TEST_REDIS_CLUSTER_URLS is not set (.ci/run starts a Redis Cluster with .ci/redis-cluster.sh and sets it)',
};

/** Both targets, for suites that run on each. */
export const REDIS_TARGETS: readonly RedisTarget[] = [ONE_REDIS, REDIS_CLUSTER];

/** A client of the Redis Cluster under test (tests inspect and kill its nodes). */
export function clusterClient(urls = TEST_REDIS_CLUSTER_URLS): Cluster {
  const seeds = urls.split(',').map((url) => {
    const parsed = new URL(url.trim());
    return { host: parsed.hostname, port: Number(parsed.port || 6379) };
  });
  const cluster = new Cluster(seeds, { redisOptions: { connectTimeout: 1_000 }, clusterRetryStrategy: (times) => (times > 20 ? null : 100) });
  cluster.on('error', () => undefined);
  return cluster;
}

/** Short timers for tests: dead nodes are noticed within about a second. */
export const FAST_TIMERS = { heartbeatMs: 200, nodeExpiryMs: 1_000, commandTimeoutMs: 1_000, reconnectMaxDelayMs: 200 } as const;

/** A key prefix no other test (or run) uses. */
export function uniquePrefix(name: string): string {
  return `herald-test:${name}:${randomBytes(4).toString('hex')}:`;
}

/** Deletes every key under a prefix (test cleanup), on one Redis or on every primary of a cluster. */
export async function deletePrefix(url: string, prefix: string, cluster = false): Promise<void> {
  if (cluster) {
    const client = clusterClient(url);
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('ready', () => resolve());
        client.once('end', () => reject(new Error('cluster unreachable')));
      });
      for (const node of client.nodes('master')) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
          cursor = next;
          for (const key of keys) await node.del(key);
        } while (cursor !== '0');
      }
    } catch {
      // Nothing reachable to clean.
    } finally {
      client.disconnect();
    }
    return;
  }
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1_000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // Redis is gone (an outage test stopped it): nothing to clean.
  } finally {
    redis.disconnect();
  }
}

/** A Redis adapter for tests, with short timers. */
export function testAdapter(url: string, prefix: string, options: Partial<RedisAdapterOptions> = {}): RedisAdapter {
  return new RedisAdapter({ url, prefix, ...FAST_TIMERS, startTimeoutMs: 5_000, ...options });
}

/** Starts `count` in-process nodes sharing one Redis prefix, each with its own temporary SQLite store. */
export async function startNodes(count: number, url: string, prefix: string, options: Partial<RedisAdapterOptions> = {}): Promise<Harness[]> {
  const nodes: Harness[] = [];
  try {
    for (let i = 0; i < count; i++) {
      nodes.push(await startHarness({ apps: [{ ...TEST_APP, subscription_count: true }], deps: { adapter: testAdapter(url, prefix, options) } }));
    }
  } catch (error) {
    await Promise.allSettled(nodes.map((node) => node.close()));
    throw error;
  }
  return nodes;
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Child processes a test started; `killAll` in `after` so none outlives a failed test. */
export class Children {
  private readonly children = new Set<ChildProcess>();

  /** Starts a process and tracks it until it exits. */
  spawn(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; output: () => string; exited: Promise<void> } {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        this.children.delete(child);
        resolve();
      });
      child.once('error', () => {
        this.children.delete(child);
        resolve();
      });
    });
    return { child, output: () => output.slice(-4_000), exited };
  }

  /** SIGKILLs every process still running and waits (bounded) for them to exit. */
  async killAll(): Promise<void> {
    const waits = [...this.children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 5_000)));
    await Promise.race([Promise.all(waits), timeout]);
    clearTimeout(timer);
  }
}

/** Starts a fresh, empty redis-server (no persistence) on `port` and waits, bounded, until it accepts connections. */
export async function startRedisServer(children: Children, port: number): Promise<ReturnType<Children['spawn']>> {
  const server = children.spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no']);
  await waitFor(() => server.output().includes('Ready to accept connections') || server.child.exitCode !== null, 'redis-server to start', 5_000);
  if (server.child.exitCode !== null) throw new Error(`redis-server exited:\n${server.output()}`);
  return server;
}

/** The script .ci/run starts its Redis Cluster with (from dist/test/cluster). */
const REDIS_CLUSTER_SCRIPT = fileURLToPath(new URL('../../../.ci/redis-cluster.sh', import.meta.url));

/** A Redis Cluster a test started for itself (3 primaries, 3 replicas), and how to stop it. */
export interface OwnRedisCluster {
  readonly urls: string;
  stop(): void;
}

/**
 * Starts a Redis Cluster of the test's own with .ci/redis-cluster.sh, on free ports from
 * `firstPort`: for a test that kills its nodes, which must not pull the shared cluster out from
 * under the files running beside it.
 */
export async function startRedisCluster(firstPort: number): Promise<OwnRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-own-redis-cluster-'));
  const stop = () => {
    spawnSync('bash', [REDIS_CLUSTER_SCRIPT, 'stop', dir], { stdio: 'ignore', timeout: 20_000 });
  };
  const { stdout, code, stderr } = await new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve) => {
    const child = spawn('bash', [REDIS_CLUSTER_SCRIPT, 'start', dir, String(firstPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('close', (exitCode) => resolve({ stdout: out, stderr: err, code: exitCode }));
  });
  if (code !== 0) {
    stop();
    throw new Error(`.ci/redis-cluster.sh start failed (${code}): ${stderr}`);
  }
  return { urls: stdout.trim(), stop };
}

/** The `skip` option of a suite that starts a Redis Cluster of its own. */
export const ownRedisClusterSkip: false | string =
  ownRedisSkip || (spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0 ? false : 'SKIP: redis-cli is not on PATH');

/** dist/src/cli.js, next to the compiled tests. */
const CLI_PATH = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** A real `herald start` process of a cluster. */
export interface NodeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly baseUrl: string;
  readonly exited: Promise<void>;
  output(): string;
}

/**
 * Starts `node dist/src/cli.js start --redis-url …` with the test app and its own SQLite file,
 * and waits (bounded) until `/ready` answers 200.
 */
export async function startNodeProcess(children: Children, url: string, prefix: string, timeoutMs = 10_000, extraArgs: readonly string[] = []): Promise<NodeProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-cluster-node-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('HERALD_')) env[key] = value;
  Object.assign(env, {
    HERALD_LOG_LEVEL: 'silent',
    HERALD_REDIS_PREFIX: prefix,
    HERALD_REDIS_HEARTBEAT_MS: String(FAST_TIMERS.heartbeatMs),
    HERALD_REDIS_NODE_EXPIRY_MS: String(FAST_TIMERS.nodeExpiryMs),
    HERALD_REDIS_RECONNECT_MAX_MS: String(FAST_TIMERS.reconnectMaxDelayMs),
  });
  const args = [
    CLI_PATH, 'start',
    '--host', '127.0.0.1', '--port', String(port),
    '--redis-url', url,
    '--database-url', `sqlite:${join(dataDir, 'herald.db')}`,
    '--app-id', TEST_APP.id, '--app-key', TEST_APP.key, '--app-secret', TEST_APP.secret, '--client-events',
    ...extraArgs,
  ];
  const { child, output, exited } = children.spawn(process.execPath, args, env);
  void exited.then(() => rmSync(dataDir, { recursive: true, force: true }));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`herald exited before it was ready:\n${output()}`);
    try {
      const response = await fetch(`${baseUrl}/ready`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) return { child, port, baseUrl, exited, output };
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`herald was not ready within ${timeoutMs} ms:\n${output()}`);
    await sleep(50);
  }
}

/** Resolves as `promise` does, or rejects after `ms` naming `what`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The status of `GET {baseUrl}/ready`, or 0 when nothing answers (bounded). */
export async function readyStatus(baseUrl: string): Promise<number> {
  try {
    const response = await fetch(`${baseUrl}/ready`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}
