/**
 * `herald start --workers N` (src/workers.ts): the workers share the port, an event published over
 * the HTTP API (whichever worker takes the request) reaches sockets on every worker through Redis,
 * the primary's metrics port sums the workers, and SIGTERM to the primary drains them all. Needs
 * HERALD_TEST_REDIS_URL; without it those tests print SKIP. More than one worker without Redis is
 * refused (no Redis needed for that one).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Pusher from 'pusher';
import { sampleValue, scrape } from '../metrics/prometheus-text.js';
import { TEST_APP } from '../helpers/harness.js';
import { RawClient } from '../helpers/raw-client.js';
import { sleep } from '../helpers/wait.js';
import { Children, deletePrefix, freePort, redisSkip, TEST_REDIS_URL, uniquePrefix, within } from './cluster-helpers.js';

const CLI_PATH = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** The environment without the outer shell's HERALD_* settings. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('HERALD_')) env[key] = value;
  return { ...env, HERALD_LOG_LEVEL: 'warn', ...extra };
}

/** Pids of the live processes whose parent is `pid` (the workers of a primary). */
function childPids(pid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') pids.push(Number(entry));
    } catch {
      // The process is gone.
    }
  }
  return pids;
}

/** Established TCP connections on local port `port` held by process `pid` (from /proc). */
function connectionsOf(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {
      // Closed meanwhile.
    }
  }
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const localPort = parseInt(fields[1].split(':')[1], 16);
      if (localPort === port && fields[3] === '01' && inodes.has(fields[9])) count++;
    }
  }
  return count;
}

describe('herald start --workers', () => {
  const children = new Children();
  after(() => children.killAll());

  it('refuses more than one worker without --redis-url, naming the setting', async () => {
    const port = await freePort();
    const { child, output, exited } = children.spawn(process.execPath, [CLI_PATH, 'start', '--host', '127.0.0.1', '--port', String(port), '--workers', '2'], cleanEnv({}));
    await within(exited, 10_000, 'the refusal');
    assert.equal(child.exitCode, 78, output());
    assert.match(output(), /HERALD_WORKERS \/ --workers: more than 1 needs HERALD_REDIS_URL \/ --redis-url/);
  });
});

describe('herald start --workers 2 with Redis', { skip: redisSkip }, () => {
  const children = new Children();
  const prefix = uniquePrefix('workers');
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-workers-'));
  const sockets: RawClient[] = [];
  let primary: ReturnType<Children['spawn']>;
  let port = 0;
  let metricsPort = 0;
  let workers: number[] = [];

  before(async () => {
    port = await freePort();
    metricsPort = await freePort();
    const args = [
      CLI_PATH, 'start', '--workers', '2',
      '--host', '127.0.0.1', '--port', String(port), '--metrics-port', String(metricsPort),
      '--redis-url', TEST_REDIS_URL,
      '--database-url', `sqlite:${join(dataDir, 'herald.db')}`,
      '--app-id', TEST_APP.id, '--app-key', TEST_APP.key, '--app-secret', TEST_APP.secret,
    ];
    primary = children.spawn(process.execPath, args, cleanEnv({ HERALD_REDIS_PREFIX: prefix }));
    // Each worker answers the primary's metrics requests once it listens: one app each.
    const deadline = Date.now() + 20_000;
    for (;;) {
      assert.equal(primary.child.exitCode, null, `the primary exited:\n${primary.output()}`);
      const apps = await scrape(`http://127.0.0.1:${metricsPort}`).then((text) => sampleValue(text, 'herald_apps'), () => undefined);
      if (apps === 2) break;
      assert.ok(Date.now() < deadline, `both workers listening (herald_apps summed: ${apps}):\n${primary.output()}`);
      await sleep(100);
    }
    workers = childPids(primary.child.pid!);
    assert.equal(workers.length, 2, `two workers under the primary ${primary.child.pid}`);
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await children.killAll();
    await deletePrefix(TEST_REDIS_URL, prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('spreads sockets over both workers and delivers an event published through either to all of them', async () => {
    for (let i = 0; i < 8; i++) {
      const socket = await RawClient.connect(`ws://127.0.0.1:${port}/app/${TEST_APP.key}?protocol=7&client=raw&version=1`);
      sockets.push(socket);
      await socket.established();
      assert.equal((await socket.subscribe('news')).event, 'pusher_internal:subscription_succeeded');
    }
    const perWorker = workers.map((pid) => connectionsOf(pid, port));
    assert.ok(perWorker.every((count) => count > 0), `sockets on both workers, got ${perWorker.join(' and ')}`);
    assert.equal(perWorker[0] + perWorker[1], 8);

    // No keep-alive: each request is a new connection, handed to the workers in turn.
    const backend = new Pusher({ appId: TEST_APP.id, key: TEST_APP.key, secret: TEST_APP.secret, host: '127.0.0.1', port: String(port), useTLS: false, agent: new Agent({ keepAlive: false }) });
    for (let n = 0; n < 4; n++) {
      const response = await backend.trigger('news', 'story', { n });
      assert.equal(response.status, 200);
      for (const [i, socket] of sockets.entries()) {
        const frame = await socket.next((f) => f.event === 'story' && (f.data as { n: number }).n === n, `event ${n} on socket ${i}`, 5_000);
        assert.equal(frame.channel, 'news');
      }
    }
  });

  it('sums every worker on the metrics port of the primary', async () => {
    const text = await scrape(`http://127.0.0.1:${metricsPort}`);
    assert.equal(sampleValue(text, 'herald_connections', { app: TEST_APP.id }), 8);
    assert.ok((sampleValue(text, 'herald_websocket_messages_sent_total') ?? 0) >= 8 * 4);
  });

  it('drains every worker on SIGTERM to the primary: sockets closed with 4200, exit 0', async () => {
    primary.child.kill('SIGTERM');
    const closes = await within(Promise.all(sockets.map((socket) => socket.closed)), 15_000, 'every socket closed');
    for (const close of closes) assert.equal(close.code, 4200);
    await within(primary.exited, 15_000, 'the primary to exit');
    assert.equal(primary.child.exitCode, 0, primary.output());
    await sleep(100);
    for (const pid of workers) assert.throws(() => readFileSync(`/proc/${pid}/stat`), `worker ${pid} is gone`);
  });
});
