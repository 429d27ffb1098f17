/**
 * A Redis Cluster primary killed (SIGKILL) under four nodes while pushes run through all of them:
 * its replica takes over, no push fails and nothing stored is lost (the inbox is in PostgreSQL),
 * the nodes register their share again, and live delivery and the shared counts work afterwards.
 * The test starts a Redis Cluster of its own with .ci/redis-cluster.sh (redis-server and redis-cli
 * on PATH) and stops it at the end. Needs HERALD_TEST_DATABASE_URL.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis, type Cluster } from 'ioredis';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { backendCaller, inboxDevice, listAll, sdkPush, type Device } from '../helpers/inbox.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { clusterClient, ownRedisClusterSkip, readyStatus, startRedisCluster, testAdapter, uniquePrefix, type OwnRedisCluster } from './cluster-helpers.js';

const DATABASE_URL = process.env.HERALD_TEST_DATABASE_URL ?? '';
const skip = ownRedisClusterSkip || (DATABASE_URL ? false : 'SKIP: HERALD_TEST_DATABASE_URL is not set');
const NOTIFICATION = 'Internal Notification';
const USERS = Array.from({ length: 8 }, (_, i) => `fo-${i}`);

/** The address (`host:port`) of the primary serving a hash slot, from CLUSTER SLOTS. */
async function primaryOf(cluster: Cluster, slot: number): Promise<string | null> {
  for (const node of cluster.nodes('all')) {
    try {
      const ranges = (await node.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (range) return `${range[2][0]}:${range[2][1]}`;
    } catch {
      // That node is the dead one; ask another.
    }
  }
  return null;
}

/** INFO server fields of one node. */
async function serverInfo(node: Redis): Promise<Record<string, string>> {
  const text = await node.info('server');
  return Object.fromEntries(text.split(/\r?\n/).filter((line) => line.includes(':')).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]));
}

/** Polls an async condition every 100 ms until it holds; rejects after `timeoutMs`. */
async function until(condition: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function sql(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

describe('a Redis Cluster primary killed under four nodes', { skip, timeout: 90_000 }, () => {
  const prefix = uniquePrefix('failover');
  const schema = `herald_test_${randomBytes(6).toString('hex')}`;
  const stores: PostgresStore[] = [];
  let nodes: Harness[] = [];
  let inspect: Cluster;
  // A cluster of its own: killing a primary of the shared one failed the cluster tests running beside this file.
  let redis: OwnRedisCluster | null = null;

  before(async () => {
    redis = await startRedisCluster(7301);
    inspect = clusterClient(redis.urls);
    await new Promise<void>((resolve) => inspect.once('ready', () => resolve()));
    for (let i = 0; i < 4; i++) {
      const store = PostgresStore.connect(DATABASE_URL, { schema, poolSize: 4 });
      stores.push(store);
      nodes.push(await startHarness({ apps: [{ ...TEST_APP, subscription_count: true }], deps: { store, adapter: testAdapter(redis.urls, prefix, { cluster: true }) } }));
    }
  });

  after(async () => {
    await Promise.allSettled(nodes.map((node) => node.close()));
    await Promise.allSettled(stores.map((store) => store.close()));
    inspect?.disconnect();
    await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    redis?.stop();
  });

  it('loses no push, registers again and delivers live once the replica took over', async (t) => {
    const devices: Device[] = await Promise.all(USERS.map((user, i) => inboxDevice(nodes[i % 4], user)));

    // The primary holding the app's shared state (its hash slot) is the one to kill.
    const slot = Number(await inspect.cluster('KEYSLOT', `${prefix}{a:${TEST_APP.id}}:`));
    const victim = await primaryOf(inspect, slot);
    assert.ok(victim, `a primary serves slot ${slot}`);
    const victimNode = inspect.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === victim);
    assert.ok(victimNode, `the client knows ${victim}`);
    const info = await serverInfo(victimNode);

    // Pushes through every node in turn, all the time, while the primary dies and its replica takes over.
    const answered: { id: string; user: string }[] = [];
    const failures: string[] = [];
    let pushing = true;
    const pusher = (async () => {
      for (let round = 0; pushing; round++) {
        try {
          const answer = await sdkPush(nodes[round % 4].backend(), { user_ids: USERS, notification: { content: `round ${round}` } });
          for (const row of answer.notifications) answered.push({ id: row.id, user: row.user_id });
        } catch (error) {
          failures.push(String(error));
        }
        await sleep(40);
      }
    })();
    await sleep(500);
    process.kill(Number(info.process_id), 'SIGKILL');
    const killedAt = Date.now();
    let promoted: string | null = victim;
    while (promoted === victim || promoted === null) {
      assert.ok(Date.now() - killedAt < 30_000, 'a replica took over within 30 s');
      await sleep(200);
      promoted = await primaryOf(inspect, slot);
    }
    t.diagnostic(`killed ${victim}; ${promoted} took over after ${Date.now() - killedAt} ms`);
    await sleep(1_500);
    pushing = false;
    await pusher;
    assert.deepEqual(failures, [], 'every push was answered: the inbox does not need Redis');

    // Nothing stored is lost: every answered notification is listed, seq gapless, from any node.
    for (const [i, user] of USERS.entries()) {
      const listed = await listAll(backendCaller(nodes[(i + 1) % 4]), user);
      const mine = answered.filter((row) => row.user === user).map((row) => row.id);
      assert.deepEqual(listed.map((n) => n.id).sort(), [...mine].sort(), `${user}: every answered push is stored`);
      assert.deepEqual(listed.map((n) => n.seq ?? 0).sort((a, b) => a - b), Array.from({ length: mine.length }, (_, k) => k + 1), `${user}: seq 1..${mine.length}`);
    }

    // The nodes are ready again, and live delivery works on every node: each device gets the next push.
    await until(async () => (await Promise.all(nodes.map((node) => readyStatus(node.baseUrl)))).every((status) => status === 200), 'every node ready again', 20_000);
    const seen = devices.map((device) => device.of(NOTIFICATION).length);
    const last = await sdkPush(nodes[2].backend(), { user_ids: USERS, notification: { id: 'after-failover', content: 'after the failover' } });
    assert.equal(last.notifications.length, USERS.length);
    await Promise.all(devices.map((device, i) => waitFor(() => device.of(NOTIFICATION).length > seen[i], `the push after the failover on the device of ${USERS[i]}`, 15_000)));
    for (const device of devices) assert.equal(device.of(NOTIFICATION).at(-1)?.id, 'after-failover');

    // The shared counts are right again (the nodes registered their shares on the new primary).
    await until(async () => {
      const body = (await (await nodes[3].backend().get({ path: '/channels', params: { filter_by_prefix: 'private-fo-', info: 'subscription_count' } })).json()) as { channels: Record<string, { subscription_count: number }> };
      return Object.keys(body.channels).length === USERS.length && Object.values(body.channels).every((channel) => channel.subscription_count === 1);
    }, 'a subscription count of 1 for each user channel', 15_000);
    await Promise.all(devices.map((device) => device.client.disconnect()));
  });
});
