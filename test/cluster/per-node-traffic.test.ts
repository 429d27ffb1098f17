/**
 * Four nodes, on one Redis and on a Redis Cluster: each node receives from Redis only the
 * messages of the channels its own sockets are subscribed to (per-user inbox traffic included),
 * and says so in /metrics. With one shared bus every node would receive every message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { subscribed } from '../helpers/auth.js';
import type { Harness } from '../helpers/harness.js';
import { inboxDevice, sdkPush, type Device } from '../helpers/inbox.js';
import { once, sleep } from '../helpers/wait.js';
import { sampleValue, scrape } from '../metrics/prometheus-text.js';
import { deletePrefix, REDIS_TARGETS, startNodes, uniquePrefix } from './cluster-helpers.js';

const NOTIFICATION = 'Internal Notification';
const USERS_PER_NODE = 5;

/** The cluster counters of every node, read from its /metrics. */
async function clusterCounters(nodes: readonly Harness[]): Promise<{ received: number; echoes: number; published: number; topics: number }[]> {
  return Promise.all(
    nodes.map(async (node) => {
      const metrics = await scrape(node.baseUrl);
      const read = (name: string) => sampleValue(metrics, name) ?? Number.NaN;
      return {
        received: read('herald_cluster_messages_received_total'),
        echoes: read('herald_cluster_echoes_total'),
        published: read('herald_cluster_messages_published_total'),
        topics: read('herald_cluster_topics'),
      };
    }),
  );
}

for (const target of REDIS_TARGETS) {
  describe(`each of four nodes on ${target.name} hears only its own sockets' traffic`, { skip: target.skip }, () => {
    const prefix = uniquePrefix('per-node');
    let nodes: Harness[] = [];
    before(async () => {
      nodes = await startNodes(4, target.url, prefix, { cluster: target.cluster });
    });
    after(async () => {
      await Promise.allSettled(nodes.map((node) => node.close()));
      await deletePrefix(target.url, prefix, target.cluster);
    });

    it('a push to 20 users through node 0 reaches each node as exactly the messages of its 5 users', async () => {
      const users = Array.from({ length: 4 * USERS_PER_NODE }, (_, i) => `user-${i}`);
      // User i has its device on node i % 4.
      const devices: Device[] = await Promise.all(users.map((user, i) => inboxDevice(nodes[i % 4], user)));
      await sleep(300); // the subscription counts the subscriptions announced are through
      const before = await clusterCounters(nodes);
      assert.deepEqual(before.map((node) => node.topics), [5, 5, 5, 5], 'one topic per private channel of its own users');

      const answer = await sdkPush(nodes[0].backend(), { user_ids: users, notification: { content: 'to everyone, one by one' } });
      assert.equal(answer.notifications.length, users.length);
      await Promise.all(devices.map((device) => device.waitFor(NOTIFICATION, 1, 10_000)));
      await sleep(300); // anything else on its way would land now
      for (const [i, device] of devices.entries()) assert.equal(device.of(NOTIFICATION).length, 1, `device of ${users[i]}`);

      const delta = (await clusterCounters(nodes)).map((now, n) => ({
        received: now.received - before[n].received,
        echoes: now.echoes - before[n].echoes,
        published: now.published - before[n].published,
      }));
      // Each user's channel carries two messages per push: the notification and herald:inbox_changed (§5).
      const perUser = 2;
      assert.deepEqual(delta, [
        { received: 0, echoes: perUser * USERS_PER_NODE, published: perUser * users.length },
        { received: perUser * USERS_PER_NODE, echoes: 0, published: 0 },
        { received: perUser * USERS_PER_NODE, echoes: 0, published: 0 },
        { received: perUser * USERS_PER_NODE, echoes: 0, published: 0 },
      ]);
      await Promise.all(devices.map((device) => device.client.disconnect()));
    });

    it('an event on a public channel reaches only the nodes with subscribers of it, and none after they leave', async () => {
      const clients = [nodes[1].client(), nodes[2].client()];
      const channels = await Promise.all(clients.map((client) => subscribed(client, 'lobby')));
      await sleep(300); // the subscription counts the subscriptions announced are through
      const before = await clusterCounters(nodes);
      const got = channels.map((channel, i) => once<unknown>((done) => channel.bind('hello', done), `hello on node ${i + 1}`));
      await nodes[3].backend().trigger('lobby', 'hello', { n: 1 });
      assert.deepEqual(await Promise.all(got), [{ n: 1 }, { n: 1 }]);
      for (const client of clients) client.disconnect();
      await sleep(300);
      await nodes[3].backend().trigger('lobby', 'hello', { n: 2 });
      await sleep(300);
      const now = await clusterCounters(nodes);
      assert.deepEqual(
        now.map((node, n) => node.received - before[n].received),
        [0, 1, 1, 0],
      );
      assert.deepEqual(now.map((node) => node.topics), [0, 0, 0, 0], 'no topic left once the sockets are gone');
    });
  });
}
