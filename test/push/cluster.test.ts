/**
 * Three nodes on one PostgreSQL database evaluate and send the same due pushes at once: each push
 * rule is evaluated on exactly one node, and each device gets each message exactly once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { signedCall } from '../helpers/inbox.js';
import { LocalPushService, type TestSubscription } from './local-push-service.js';
import { ManualClock } from './push-helpers.js';

const DATABASE_URL = process.env.HERALD_TEST_DATABASE_URL;
const APP = {
  id: 'push-cluster',
  key: 'push-cluster-key',
  secret: 'push-cluster-secret',
  push: { vapid: { subject: 'mailto:ops@example.com' }, default: { policy: 'if_unseen', delay_seconds: 30, ttl_seconds: 3600 } },
};
const USERS = Array.from({ length: 12 }, (_, i) => `user-${i}`);

describe('push on three nodes sharing PostgreSQL', { skip: DATABASE_URL ? false : 'SKIP: HERALD_TEST_DATABASE_URL is not set', timeout: 60_000 }, () => {
  const schema = `herald_push_${randomBytes(6).toString('hex')}`;
  // Starts at the real time, so Pusher signatures (checked against the node's clock) stay valid.
  const clock = new ManualClock(Date.now());
  const service = new LocalPushService(clock.now);
  const nodes: Harness[] = [];
  const devices = new Map<string, TestSubscription[]>();

  before(async () => {
    await service.start();
    for (let i = 0; i < 3; i++) {
      const store = PostgresStore.connect(DATABASE_URL!, { schema, poolSize: 4 });
      nodes.push(await startHarness({ apps: [APP], deps: { store, now: clock.now, nodeName: `push-node-${i}`, push: { pollIntervalMs: 3_600_000 } } }));
    }
  });
  after(async () => {
    for (const node of nodes) {
      await node.close();
      await node.server.store.close();
    }
    await service.close();
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  it('evaluates each due rule once and sends each device each message once', async () => {
    for (const [i, user] of USERS.entries()) {
      const subscriptions = [service.subscribe(), service.subscribe()];
      devices.set(user, subscriptions);
      for (const subscription of subscriptions) {
        const reply = await signedCall(nodes[i % 3].baseUrl, nodes[i % 3].app, 'POST', `/users/${user}/devices`, { kind: 'webpush', subscription: subscription.json });
        assert.equal(reply.status, 201);
      }
    }
    for (const [i, user] of USERS.entries()) {
      const reply = await signedCall(nodes[i % 3].baseUrl, nodes[i % 3].app, 'POST', '/notifications', {
        user_ids: [user],
        notification: { id: `only-${user}`, content: `for ${user}` },
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
    }
    clock.advance(30_000);
    await Promise.all(nodes.flatMap((node) => [node.server.pushWorker.tick(), node.server.pushWorker.tick()]));
    await Promise.all(nodes.map((node) => node.server.pushWorker.tick()));
    for (const [user, subscriptions] of devices) {
      for (const subscription of subscriptions) {
        assert.deepEqual(service.delivered(subscription).map((body) => body.id), [`only-${user}`], `${user}: once per device`);
      }
    }
    const evaluated = nodes.map((node) => node.server.pushWorker.counters.evaluated);
    assert.equal(evaluated.reduce((a, b) => a + b, 0), USERS.length, `each rule evaluated once: ${evaluated.join(' + ')}`);
    assert.deepEqual(await nodes[0].server.store.offline.countPush(), { jobs: 0, pending: 0, parked: 0 });
  });
});
