/**
 * Three in-process nodes on the REAL shared services, as a cluster runs in production: each node
 * has its own RedisAdapter (one key prefix for this file) and its own PostgresStore pool on one
 * database (a fresh schema for this file, dropped afterwards). Clients are spread across the
 * nodes: the inbox (gapless seq under pushes through every node, live delivery across nodes, the
 * client SDK, state events), scheduled sends released once, and webhooks decided once for the
 * cluster and sent once from the shared outbox. Runs on one Redis (HERALD_TEST_REDIS_URL) and on a
 * Redis Cluster (HERALD_TEST_REDIS_CLUSTER_URLS), with HERALD_TEST_DATABASE_URL; SKIPs, saying so, without them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { InboxClient } from '../../src/client/index.js';
import { defineApp } from '../../src/config/apps.js';
import type { NotificationJson } from '../../src/inbox/notification-json.js';
import { DELETED_EVENT, OPENED_EVENT } from '../../src/inbox/inbox.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { connected, sdkChannelAuth, subscribed } from '../helpers/auth.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { backendCaller, inboxDevice, listAll, sdkPush, tokenFor, userCaller, type Device } from '../helpers/inbox.js';
import { assertExactly, ClientPool } from '../helpers/inbox-client.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { named, Receiver, type HookEvent } from '../webhooks/receiver.js';
import { deletePrefix, REDIS_TARGETS, testAdapter, uniquePrefix } from './cluster-helpers.js';

const DATABASE_URL = process.env.HERALD_TEST_DATABASE_URL ?? '';

/** Webhook timings short enough for a test; the leave delay is the one the events below wait for. */
const WEBHOOKS = { batchWindowMs: 20, leaveDelayMs: 1_000, pollIntervalMs: 100, countIntervalMs: 60_000 } as const;
const NOTIFICATION = 'Internal Notification';

const range = (count: number, from = 1) => Array.from({ length: count }, (_, i) => from + i);
const sortedNumbers = (values: readonly number[]) => [...values].sort((a, b) => a - b);

/** Runs SQL on a plain connection of the test database (schema cleanup). */
async function sql(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

for (const target of REDIS_TARGETS) describe(`three nodes on ${target.name} and the shared PostgreSQL`, { skip: DATABASE_URL ? target.skip : 'SKIP: HERALD_TEST_DATABASE_URL is not set', timeout: 40_000 }, () => {
  const prefix = uniquePrefix('shared-services');
  const schema = `herald_test_${randomBytes(6).toString('hex')}`;
  const stores: PostgresStore[] = [];
  let nodes: Harness[] = [];
  let receiver: Receiver;
  let app: ReturnType<typeof defineApp>;
  let pools: ClientPool[] = [];

  before(async () => {
    receiver = await Receiver.start();
    const appOptions = {
      ...TEST_APP,
      subscription_count: true,
      webhooks: [{ url: receiver.url('/hook'), events: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'notification_deleted'] }],
    };
    app = defineApp(appOptions);
    for (let i = 0; i < 3; i++) {
      const store = PostgresStore.connect(DATABASE_URL, { schema, poolSize: 5 });
      stores.push(store);
      nodes.push(await startHarness({ apps: [appOptions], deps: { store, adapter: testAdapter(target.url, prefix, { cluster: target.cluster }), webhooks: WEBHOOKS } }));
    }
    pools = nodes.map((node) => new ClientPool(node));
  });

  after(async () => {
    await Promise.allSettled(pools.map((pool) => pool.disposeAll()));
    await Promise.allSettled(nodes.map((node) => node.close()));
    await Promise.allSettled(stores.map((store) => store.close()));
    await Promise.allSettled([sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`), deletePrefix(target.url, prefix, target.cluster), receiver?.down()]);
  });

  /** Notifications this many nodes published live so far (each node counts what it released or pushed). */
  const deliveriesPerNode = () => nodes.map((node) => node.server.inbox.counters.deliveries);

  /** Asserts a device got each of `ids` exactly once on its inbox channel, and nothing else. */
  function assertReceivedOnce(device: Device, ids: readonly string[], where: string): NotificationJson[] {
    const got = device.of(NOTIFICATION);
    const counts = new Map<string, number>();
    for (const n of got) counts.set(n.id, (counts.get(n.id) ?? 0) + 1);
    const twice = [...counts].filter(([, count]) => count > 1).map(([id]) => id);
    assert.deepEqual(twice, [], `${where}: received more than once`);
    assert.deepEqual([...counts.keys()].sort(), [...ids].sort(), `${where}: received exactly the notifications sent`);
    return got;
  }

  it('3 × 40 concurrent pushes through all three nodes: seq 1..120, all live on node A, exactly 120 in an InboxClient on node B, state events across nodes', async () => {
    const user = 'ursula';
    const device = await inboxDevice(nodes[0], user);
    const inbox: InboxClient = pools[1].create(user);
    await inbox.init();
    assert.equal(inbox.notifications.length, 0);

    // Every node's HTTP API at once, through the official SDK: 40 pushes each, all in flight together.
    const answers = await Promise.all(
      nodes.flatMap((node, n) => {
        const backend = node.backend();
        return range(40).map((i) => sdkPush(backend, { user_ids: [user], notification: { id: `n${n}-${i}`, content: `from node ${n}, #${i}` } }));
      }),
    );
    const pushed = answers.map((answer) => answer.notifications[0]);
    assert.deepEqual(sortedNumbers(pushed.map((row) => row.seq!)), range(120), 'seqs 1..120 without a gap or a repeat');
    const idsBySeq = [...pushed].sort((a, b) => a.seq! - b.seq!).map((row) => row.id);

    // Node A published its own 40; nodes B and C published theirs through Redis.
    await device.waitFor(NOTIFICATION, 120, 10_000);
    const live = assertReceivedOnce(device, idsBySeq, 'pusher-js on node A');
    assert.deepEqual(sortedNumbers(live.map((n) => n.seq!)), range(120));
    for (const n of live) assert.equal(n.id, idsBySeq[n.seq! - 1], `live ${n.id} carries the seq its push answered`);

    // The client SDK on node B: exactly the 120, newest first, no duplicate, the right count.
    await waitFor(() => inbox.notifications.length >= 120 && inbox.pendingNotificationsCount >= 120, 'the InboxClient on node B to hold 120', 10_000);
    await sleep(200); // anything late or duplicated would land now
    assertExactly(inbox.notifications, idsBySeq);
    assert.equal(inbox.pendingNotificationsCount, 120);

    // Node C reads the same gapless list from the shared database.
    const listed = await listAll(backendCaller(nodes[2]), user, 50);
    assert.deepEqual(listed.map((n) => n.seq), range(120));
    assert.deepEqual(listed.map((n) => n.id), idsBySeq);

    // Opening and deleting through node C reaches the device on node A and the client on node B.
    const onC = userCaller(nodes[2], await tokenFor(app, user));
    const opened = await onC<{ opened: string[] }>('POST', `/users/${user}/notifications/open`, { ids: [idsBySeq[0], idsBySeq[1]] });
    assert.deepEqual(opened.body.opened, [idsBySeq[0], idsBySeq[1]]);
    const [openedEvent] = await device.waitFor<Record<string, unknown>>(OPENED_EVENT);
    assert.deepEqual({ ...openedEvent, opened_at: typeof openedEvent.opened_at }, { ids: [idsBySeq[0], idsBySeq[1]], all: false, unread: 118, total: 120, last_seq: 120, opened_at: 'string' });
    assert.equal((await onC('DELETE', `/users/${user}/notifications/${idsBySeq[119]}`)).status, 200);
    const [deletedEvent] = await device.waitFor<Record<string, unknown>>(DELETED_EVENT);
    assert.deepEqual(deletedEvent, { id: idsBySeq[119], unread: 117, total: 119, last_seq: 120 });
    await waitFor(() => inbox.pendingNotificationsCount === 117 && inbox.notifications.length === 119, 'the InboxClient on node B to apply both state events', 5_000);
    assertExactly(inbox.notifications, idsBySeq.slice(0, 119));
    assert.deepEqual(inbox.notifications.filter((n) => n.opened).map((n) => n.id).sort(), [idsBySeq[0], idsBySeq[1]].sort());
  });

  it('scheduled through node A, released exactly once although all three schedulers poll the shared database', async (t) => {
    const user = 'sched';
    // A device of the user on every node: a second release, by any node, would reach all three twice.
    const devices = await Promise.all(nodes.map((node) => inboxDevice(node, user)));
    const before = deliveriesPerNode();
    const start = Date.now() + 600;
    // 20 notifications falling due 40 ms apart, so the three schedulers (50 ms polls) race for them.
    const ids = range(20, 0).map((i) => `s${i}`);
    const backend = nodes[0].backend();
    const answers = await Promise.all(
      ids.map((id, i) => sdkPush(backend, { user_ids: [user], notification: { id, content: id, send_after: new Date(start + i * 40).toISOString() } })),
    );
    assert.ok(answers.every((answer) => answer.notifications[0].seq === null), 'scheduled: no seq yet');
    assert.equal(devices[0].of(NOTIFICATION).length, 0);

    await Promise.all(devices.map((device) => device.waitFor(NOTIFICATION, 20, 8_000)));
    await sleep(300); // six more polls of every scheduler: a second release would show now
    for (const [n, device] of devices.entries()) {
      const got = assertReceivedOnce(device, ids, `device on node ${n}`);
      assert.deepEqual(sortedNumbers(got.map((notification) => notification.seq!)), range(20), `device on node ${n}: seqs 1..20`);
    }
    const released = deliveriesPerNode().map((count, n) => count - before[n]);
    t.diagnostic(`notifications released per node: ${released.join(', ')}`);
    assert.equal(released.reduce((sum, count) => sum + count, 0), 20, 'each released by one node only');
    assert.deepEqual((await listAll(backendCaller(nodes[1]), user)).map((n) => n.seq), range(20));
  });

  it('channel_occupied / channel_vacated and member_added / member_removed reach the webhook once for channels and members spread over two nodes', async () => {
    const backend = nodes[0].backend();
    const as = (userId: string) => sdkChannelAuth(backend, { user_id: userId, user_info: { name: userId } });
    // The same public channel subscribed on nodes A and B at the same moment.
    const onA = nodes[0].client({ channelAuthorization: as('pat') });
    const onB = nodes[1].client({ channelAuthorization: as('pat') });
    await Promise.all([connected(onA), connected(onB)]);
    await Promise.all([subscribed(onA, 'hooked'), subscribed(onB, 'hooked')]);
    // One presence member with a socket on each of the two nodes.
    await Promise.all([subscribed(onA, 'presence-hooked'), subscribed(onB, 'presence-hooked')]);
    const mine = (events: HookEvent[]) => events.filter((e) => e.channel === 'hooked' || e.channel === 'presence-hooked');
    await receiver.waitForEvents(backend, (events) => named(mine(events), 'member_added').length >= 1 && named(mine(events), 'channel_occupied').length >= 2, 'occupied and member_added');

    onA.unsubscribe('hooked');
    onA.unsubscribe('presence-hooked');
    await sleep(WEBHOOKS.leaveDelayMs + 300); // still occupied and present through node B: nothing to send
    assert.deepEqual(named(mine(receiver.events(backend)), 'channel_vacated'), []);
    assert.deepEqual(named(mine(receiver.events(backend)), 'member_removed'), []);
    onB.unsubscribe('hooked');
    onB.unsubscribe('presence-hooked');
    await receiver.waitForEvents(backend, (events) => named(mine(events), 'channel_vacated').length >= 2 && named(mine(events), 'member_removed').length >= 1, 'vacated and member_removed');
    await sleep(WEBHOOKS.leaveDelayMs + 300); // a second one from another node would be here by now

    const events = mine(receiver.events(backend));
    const summary = events.map((e) => `${e.name} ${String(e.channel)}${e.user_id ? ` ${String(e.user_id)}` : ''}`).sort();
    assert.deepEqual(summary, [
      'channel_occupied hooked',
      'channel_occupied presence-hooked',
      'channel_vacated hooked',
      'channel_vacated presence-hooked',
      'member_added presence-hooked pat',
      'member_removed presence-hooked pat',
    ]);
  });

  it('a page reload that lands on another node within the leave delay is not reported as a leave; the real leave afterwards is', async () => {
    const backend = nodes[0].backend();
    const as = (userId: string) => sdkChannelAuth(backend, { user_id: userId, user_info: { name: userId } });
    const mine = (events: HookEvent[]) =>
      events.filter((e) => e.channel === 'reload' || e.channel === 'presence-reload').map((e) => `${e.name} ${String(e.channel)}${e.user_id ? ` ${String(e.user_id)}` : ''}`);
    const first = nodes[0].client({ channelAuthorization: as('rae') });
    await Promise.all([subscribed(first, 'reload'), subscribed(first, 'presence-reload')]);
    await receiver.waitForEvents(backend, (events) => mine(events).length === 3, 'occupied ×2 and member_added');
    const second = nodes[1].client({ channelAuthorization: as('rae') });
    await connected(second);
    // The page reloads: the old socket closes on node A; once the cluster has seen it leave, the
    // new one (round robin) subscribes on node B, well within node A's leave delay.
    const left = Date.now();
    first.disconnect();
    const readC = async (path: string) => (await nodes[2].backend().get({ path })).json() as Promise<{ occupied?: boolean; users?: unknown[] }>;
    for (;;) {
      const [channel, members] = await Promise.all([readC('/channels/reload'), readC('/channels/presence-reload/users')]);
      if (channel.occupied === false && members.users?.length === 0) break;
      assert.ok(Date.now() - left < 2_000, 'node A\'s leave reached the shared state');
      await sleep(10);
    }
    await Promise.all([subscribed(second, 'reload'), subscribed(second, 'presence-reload')]);
    assert.ok(Date.now() - left < WEBHOOKS.leaveDelayMs, `back within the leave delay (${Date.now() - left} ms)`);
    await sleep(WEBHOOKS.leaveDelayMs + 500); // node A's held leaves ran out and were checked
    // Node B reports the return at once (its delay cannot cancel node A's leave): a repeated
    // occupied / member_added, harmless. Node A finds the channel and member back and drops its leaves.
    const afterReload = mine(receiver.events(backend));
    assert.deepEqual(afterReload.filter((e) => e.startsWith('channel_vacated') || e.startsWith('member_removed')), [], `no leave reported: ${afterReload.join(', ')}`);
    assert.deepEqual([...afterReload].sort(), [
      'channel_occupied presence-reload',
      'channel_occupied presence-reload',
      'channel_occupied reload',
      'channel_occupied reload',
      'member_added presence-reload rae',
      'member_added presence-reload rae',
    ]);

    second.disconnect();
    await receiver.waitForEvents(backend, (events) => mine(events).length >= afterReload.length + 3, 'the real leave', 5_000);
    await sleep(WEBHOOKS.leaveDelayMs + 300);
    assert.deepEqual(mine(receiver.events(backend)).slice(afterReload.length).sort(), [
      'channel_vacated presence-reload',
      'channel_vacated reload',
      'member_removed presence-reload rae',
    ]);
  });

  it('webhook batches written on every node are each delivered once from the shared outbox', async (t) => {
    const user = 'hooks';
    const ids = range(30, 0).map((i) => `d${i}`);
    await Promise.all(ids.map((id, i) => sdkPush(nodes[i % 3].backend(), { user_ids: [user], notification: { id, content: id } })));
    const backend = nodes[0].backend();
    const deliveredBefore = nodes.map((node) => node.server.webhooks.stats.delivered);
    const acceptedBefore = receiver.accepted('/hook').length;
    // Deleted through the three nodes at once: each node batches and writes its own events to the one outbox.
    await Promise.all(
      ids.map(async (id, i) => {
        const reply = await backendCaller(nodes[i % 3])('DELETE', `/users/${user}/notifications/${id}`);
        assert.equal(reply.status, 200, `delete ${id}`);
      }),
    );
    const deletedOf = (events: HookEvent[]) => named(events, 'notification_deleted').filter((e) => e.user_id === user);
    await receiver.waitForEvents(backend, (events) => deletedOf(events).length >= 30, '30 notification_deleted events', 10_000);
    await sleep(500); // five polls of every sender: a batch sent twice would be here by now

    const batches = receiver.accepted('/hook').slice(acceptedBefore);
    assert.equal(new Set(batches.map((d) => d.rawBody)).size, batches.length, 'no batch body arrived twice');
    assert.deepEqual(deletedOf(receiver.events(backend)).map((e) => e.id).sort(), [...ids].sort(), 'every deletion exactly once');
    const sent = nodes.map((node, n) => node.server.webhooks.stats.delivered - deliveredBefore[n]);
    t.diagnostic(`${batches.length} batches; sent per node: ${sent.join(', ')}`);
    assert.equal(sent.reduce((sum, count) => sum + count, 0), batches.length, 'each accepted batch was sent by exactly one node');
    assert.deepEqual(await stores[2].outbox.countWebhooks(app.id), { pending: 0, parked: 0 });
  });
});
