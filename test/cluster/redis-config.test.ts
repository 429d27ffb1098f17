/** The Redis settings: `HERALD_REDIS_URL` / `--redis-url`, the advanced `HERALD_REDIS_*` tuning, and their validation. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/apps.js';
import { RedisAdapter } from '../../src/cluster/redis-adapter.js';
import { loadConfig, SETTINGS, settingsFromEnv } from '../../src/config/server-config.js';
import { Children, deletePrefix, REDIS_CLUSTER, startNodeProcess, uniquePrefix } from './cluster-helpers.js';

const noFile = (path: string): string => {
  throw new Error(`unexpected read of ${path}`);
};

describe('the redisUrl setting', () => {
  it('is HERALD_REDIS_URL and --redis-url, off by default', () => {
    assert.equal(SETTINGS.redisUrl.env, 'HERALD_REDIS_URL');
    assert.equal(SETTINGS.redisUrl.flag, 'redis-url');
    assert.equal(loadConfig({}, noFile).redisUrl, null);
    assert.deepEqual(settingsFromEnv({ HERALD_REDIS_URL: 'redis://cache:6379' }), { redisUrl: 'redis://cache:6379' });
  });

  it('accepts redis:// and rediss:// URLs', () => {
    assert.equal(loadConfig({ redisUrl: 'redis://10.0.0.5:6379/2' }, noFile).redisUrl, 'redis://10.0.0.5:6379/2');
    assert.equal(loadConfig({ redisUrl: 'rediss://:secret@redis.example:6380' }, noFile).redisUrl, 'rediss://:secret@redis.example:6380');
  });

  for (const bad of ['localhost:6379', 'http://redis:6379', 'redis://', '']) {
    it(`rejects ${JSON.stringify(bad)}, naming the variable and the flag`, () => {
      assert.throws(
        () => loadConfig({ redisUrl: bad }, noFile),
        (error: unknown) => error instanceof ConfigError && /HERALD_REDIS_URL \/ --redis-url/.test(error.message),
      );
    });
  }

  it('takes several comma-separated nodes of a Redis Cluster with --redis-cluster, and only then', () => {
    const urls = 'redis://10.0.0.5:7000, redis://10.0.0.6:7000';
    const config = loadConfig({ redisUrl: urls, redisCluster: 'true' }, noFile);
    assert.equal(config.redisUrl, urls);
    assert.equal(config.redisCluster, true);
    assert.equal(loadConfig({ redisUrl: 'redis://10.0.0.5:7000' }, noFile).redisCluster, false);
    assert.deepEqual(settingsFromEnv({ HERALD_REDIS_CLUSTER: 'true' }), { redisCluster: 'true' });
    assert.throws(() => loadConfig({ redisUrl: urls }, noFile), (error: unknown) => error instanceof ConfigError && /HERALD_REDIS_CLUSTER=true \/ --redis-cluster/.test(error.message));
    assert.throws(() => loadConfig({ redisCluster: 'true' }, noFile), (error: unknown) => error instanceof ConfigError && /HERALD_REDIS_CLUSTER \/ --redis-cluster: needs HERALD_REDIS_URL/.test(error.message));
    assert.throws(() => loadConfig({ redisUrl: 'redis://a:1,http://b:2', redisCluster: 'true' }, noFile), /HERALD_REDIS_URL \/ --redis-url/);
  });

  it('refuses a key prefix with a hash tag brace: Herald places its own after the prefix', () => {
    assert.throws(() => new RedisAdapter({ url: 'redis://127.0.0.1:1', prefix: 'a{b}:' }), /must not contain \{ or \}/);
  });

  it('is listed by herald --help', () => {
    const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
    const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--redis-url <value>/);
    assert.match(help.stdout, /HERALD_REDIS_URL/);
    assert.match(help.stdout, /--redis-cluster/);
  });
});

describe('Redis tuning', () => {
  it('reads HERALD_REDIS_* milliseconds and the prefix, leaving the rest to defaults', () => {
    const tuning = (env: NodeJS.ProcessEnv) => loadConfig(settingsFromEnv(env), noFile).redis;
    assert.deepEqual(tuning({ HERALD_REDIS_HEARTBEAT_MS: '250', HERALD_REDIS_NODE_EXPIRY_MS: '1000', HERALD_REDIS_PREFIX: 'blue:' }), {
      prefix: 'blue:',
      heartbeatMs: 250,
      nodeExpiryMs: 1000,
    });
    assert.deepEqual(tuning({}), {});
  });

  it('refuses values that are not positive whole milliseconds, naming the variable', () => {
    for (const value of ['0', '-5', '1.5', 'soon', '2s']) {
      assert.throws(() => loadConfig(settingsFromEnv({ HERALD_REDIS_COMMAND_TIMEOUT_MS: value }), noFile), (error: unknown) => error instanceof ConfigError && /HERALD_REDIS_COMMAND_TIMEOUT_MS/.test(error.message));
    }
  });

  it('lists every HERALD_REDIS_* setting and the worker index in herald --help', () => {
    const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
    const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8', timeout: 10_000 });
    for (const name of ['HERALD_REDIS_PREFIX', 'HERALD_REDIS_HEARTBEAT_MS', 'HERALD_REDIS_NODE_EXPIRY_MS', 'HERALD_REDIS_COMMAND_TIMEOUT_MS', 'HERALD_REDIS_RECONNECT_MAX_MS', 'HERALD_WORKER_INDEX']) {
      assert.ok(help.stdout.includes(name), name);
    }
  });

  it('refuses a node expiry shorter than two heartbeats', () => {
    assert.throws(() => new RedisAdapter({ url: 'redis://127.0.0.1:1', heartbeatMs: 1_000, nodeExpiryMs: 1_500 }), /at least twice the heartbeat/);
  });
});

describe('herald start --redis-cluster', { skip: REDIS_CLUSTER.skip }, () => {
  const children = new Children();
  const prefix = uniquePrefix('cli-cluster');
  after(async () => {
    await children.killAll();
    await deletePrefix(REDIS_CLUSTER.url, prefix, true);
  });

  it('joins a Redis Cluster given one of its nodes, and is ready', async () => {
    const firstNode = REDIS_CLUSTER.url.split(',')[0];
    const node = await startNodeProcess(children, firstNode, prefix, 15_000, ['--redis-cluster']);
    const metrics = await (await fetch(`${node.baseUrl}/metrics`)).text();
    assert.match(metrics, /^herald_cluster_topics 0$/m);
  });
});
