/** The Redis adapter: the shared contract, then what only a cluster has (other nodes, dead nodes, lost state). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ClusterUnavailableError, type ClusterChange, type NodeSnapshot } from '../../src/cluster/adapter.js';
import type { RedisAdapter } from '../../src/cluster/redis-adapter.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { recordingHooks, runAdapterSuite } from './adapter-suite.js';
import { Children, deletePrefix, FAST_TIMERS, freePort, ONE_REDIS, ownRedisSkip, startRedisServer, REDIS_TARGETS, redisSkip, testAdapter, TEST_REDIS_URL, uniquePrefix, type RedisTarget } from './cluster-helpers.js';

for (const target of REDIS_TARGETS) {
  runAdapterSuite(
    `RedisAdapter on ${target.name}`,
    async () => {
      const prefix = uniquePrefix('contract');
      return { adapter: testAdapter(target.url, prefix, { cluster: target.cluster }), cleanup: () => deletePrefix(target.url, prefix, target.cluster) };
    },
    { skip: target.skip },
  );
}

type Recorded = ReturnType<typeof recordingHooks>;

/** Started adapters of one test, closed (and their keys deleted) in `after`. */
class Cluster {
  readonly prefix: string;
  private readonly adapters: RedisAdapter[] = [];

  constructor(
    name: string,
    private readonly target: RedisTarget = ONE_REDIS,
  ) {
    this.prefix = uniquePrefix(name);
  }

  async node(options: Parameters<typeof testAdapter>[2] = {}, snapshot?: () => NodeSnapshot): Promise<{ adapter: RedisAdapter; recorded: Recorded }> {
    const adapter = testAdapter(this.target.url, this.prefix, { cluster: this.target.cluster, ...options });
    this.adapters.push(adapter);
    const recorded = recordingHooks(snapshot);
    await adapter.start(recorded.hooks);
    return { adapter, recorded };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.adapters.map((adapter) => adapter.close()));
    await deletePrefix(this.target.url, this.prefix, this.target.cluster);
  }
}

/**
 * A node's local state as a realtime core would keep it: each write updates it in the same step
 * as it is handed to the adapter, so the snapshot a re-registration reads (after a Redis Cluster
 * failover, say) holds what the node wrote, and re-registering changes nothing.
 */
class LocalShare {
  private readonly subscriptions = new Map<string, number>();
  private readonly presence = new Map<string, { channel: string; socketId: string; userId: string }>();
  private readonly signIns = new Map<string, string>();

  constructor(private readonly appId: string) {}

  readonly snapshot = (): NodeSnapshot => ({
    subscriptions: [...this.subscriptions].map(([channel, count]) => ({ appId: this.appId, channel, count })),
    presence: [...this.presence.values()].map(({ channel, socketId, userId }) => ({ appId: this.appId, channel, socketId, member: { userId, userInfo: null } })),
    signIns: [...this.signIns].map(([socketId, userId]) => ({ appId: this.appId, userId, socketId })),
  });

  subscribe(adapter: RedisAdapter, channel: string): Promise<number> {
    this.subscriptions.set(channel, (this.subscriptions.get(channel) ?? 0) + 1);
    return adapter.subscriptionAdded(this.appId, channel);
  }

  unsubscribe(adapter: RedisAdapter, channel: string): Promise<number> {
    const count = (this.subscriptions.get(channel) ?? 0) - 1;
    if (count > 0) this.subscriptions.set(channel, count);
    else this.subscriptions.delete(channel);
    return adapter.subscriptionRemoved(this.appId, channel);
  }

  join(adapter: RedisAdapter, channel: string, socketId: string, userId: string): Promise<boolean> {
    this.presence.set(`${channel}\n${socketId}`, { channel, socketId, userId });
    return adapter.presenceJoin(this.appId, channel, socketId, { userId, userInfo: null });
  }

  leave(adapter: RedisAdapter, channel: string, socketId: string, userId: string): Promise<boolean> {
    this.presence.delete(`${channel}\n${socketId}`);
    return adapter.presenceLeave(this.appId, channel, socketId, userId);
  }

  signIn(adapter: RedisAdapter, userId: string, socketId: string): Promise<boolean> {
    this.signIns.set(socketId, userId);
    return adapter.userSignedIn(this.appId, userId, socketId);
  }
}

const memberChanges = (changes: readonly ClusterChange[]) => changes.filter((c): c is Extract<ClusterChange, { type: 'member' }> => c.type === 'member');
const userChanges = (changes: readonly ClusterChange[]) => changes.filter((c): c is Extract<ClusterChange, { type: 'user' }> => c.type === 'user');

for (const target of REDIS_TARGETS) describe(`RedisAdapter across nodes on ${target.name}`, { skip: target.skip }, () => {
  const cluster = new Cluster('adapters', target);
  let nodes: { adapter: RedisAdapter; recorded: Recorded }[] = [];
  const shares = [new LocalShare('app'), new LocalShare('app'), new LocalShare('app')];
  before(async () => {
    nodes = [await cluster.node({}, shares[0].snapshot), await cluster.node({}, shares[1].snapshot), await cluster.node({}, shares[2].snapshot)];
  });
  after(() => cluster.close());

  it('fans a message out to every other node listening, never back to its sender', async () => {
    const message = { v: 1, type: 'watchlist', appId: 'app', userId: 'fan-out', online: true } as const;
    await Promise.all(nodes.map(({ adapter }) => adapter.listenUser('app', 'fan-out')));
    nodes[0].adapter.send(message);
    await waitFor(() => nodes[1].recorded.messages.length > 0 && nodes[2].recorded.messages.length > 0, 'the message on nodes 1 and 2');
    assert.deepEqual(nodes[1].recorded.messages, [message]);
    assert.deepEqual(nodes[2].recorded.messages, [message]);
    await sleep(100);
    assert.deepEqual(nodes[0].recorded.messages, []);
    for (const { adapter } of nodes) adapter.unlistenUser('app', 'fan-out');
    nodes[1].recorded.messages.length = 0;
    nodes[2].recorded.messages.length = 0;
  });

  it('hands a node only the messages of the channels and users it listens to, counting what it receives', async () => {
    const [a, b, c] = nodes;
    const received = nodes.map(({ adapter }) => adapter.traffic.received);
    // Two local subscriptions of one channel on node B: one topic, kept until the last goes.
    await Promise.all([b.adapter.listenChannel('app', 'wanted'), b.adapter.listenChannel('app', 'wanted'), c.adapter.listenUser('app', 'zoe')]);
    const publish = (channel: string) => ({ v: 1, type: 'publish', appId: 'app', channel, frame: `{"n":"${channel}"}`, exceptSocketId: null }) as const;
    a.adapter.send(publish('wanted'));
    a.adapter.send(publish('unwanted'));
    a.adapter.send({ v: 1, type: 'terminate-user', appId: 'app', userId: 'zoe' });
    a.adapter.send({ v: 1, type: 'terminate-user', appId: 'app', userId: 'nobody' });
    a.adapter.send({ v: 1, type: 'publish', appId: 'other-app', channel: 'wanted', frame: '{}', exceptSocketId: null });
    await waitFor(() => b.recorded.messages.length === 1 && c.recorded.messages.length === 1, 'the wanted messages');
    b.adapter.unlistenChannel('app', 'wanted');
    a.adapter.send(publish('wanted')); // node B still has one subscription of it
    await waitFor(() => b.recorded.messages.length === 2, 'the second event of the channel');
    b.adapter.unlistenChannel('app', 'wanted');
    c.adapter.unlistenUser('app', 'zoe');
    await sleep(100);
    a.adapter.send(publish('wanted'));
    a.adapter.send({ v: 1, type: 'terminate-user', appId: 'app', userId: 'zoe' });
    await sleep(200);
    assert.deepEqual(b.recorded.messages, [publish('wanted'), publish('wanted')]);
    assert.deepEqual(c.recorded.messages, [{ v: 1, type: 'terminate-user', appId: 'app', userId: 'zoe' }]);
    assert.deepEqual(a.recorded.messages, []);
    assert.deepEqual(nodes.map(({ adapter }, i) => adapter.traffic.received - received[i]), [0, 2, 1]);
    assert.deepEqual(nodes.map(({ adapter }) => adapter.traffic.topics), [0, 0, 0]);
    b.recorded.messages.length = 0;
    c.recorded.messages.length = 0;
  });

  it('decides occupied and vacated once for the whole cluster under concurrent subscribes', async () => {
    const adds = await Promise.all(nodes.flatMap(({ adapter }) => Array.from({ length: 10 }, () => adapter.subscriptionAdded('app', 'busy'))));
    assert.equal(adds.filter((count) => count === 1).length, 1);
    assert.deepEqual([...adds].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.equal((await nodes[1].adapter.channelStats('app', 'busy')).subscriptionCount, 30);
    const removes = await Promise.all(nodes.flatMap(({ adapter }) => Array.from({ length: 10 }, () => adapter.subscriptionRemoved('app', 'busy'))));
    assert.equal(removes.filter((count) => count === 0).length, 1);
    assert.equal((await nodes[2].adapter.channels('app')).has('busy'), false);
  });

  it('joins and leaves presence once per user across nodes', async () => {
    const [a, b, c] = nodes.map((node) => node.adapter);
    assert.equal(await a.presenceJoin('app', 'presence-x', '1.1', { userId: 'ann', userInfo: { n: 1 } }), true);
    assert.equal(await b.presenceJoin('app', 'presence-x', '2.1', { userId: 'ann', userInfo: { n: 1 } }), false);
    assert.equal(await c.presenceJoin('app', 'presence-x', '3.1', { userId: 'bob', userInfo: null }), true);
    assert.equal((await a.presenceMembers('app', 'presence-x')).length, 2);
    assert.equal(await a.presenceLeave('app', 'presence-x', '1.1', 'ann'), false);
    assert.equal(await b.presenceLeave('app', 'presence-x', '2.1', 'ann'), true);
    assert.deepEqual(await b.presenceMembers('app', 'presence-x'), [{ userId: 'bob', userInfo: null }]);
    assert.equal(await c.presenceLeave('app', 'presence-x', '3.1', 'bob'), true);
  });

  it('signs users in and out once across nodes', async () => {
    const [a, b] = nodes.map((node) => node.adapter);
    assert.equal(await a.userSignedIn('app', 'sue', '1.5'), true);
    assert.equal(await b.userSignedIn('app', 'sue', '2.5'), false);
    assert.deepEqual(await nodes[2].adapter.onlineUsers('app', ['sue']), ['sue']);
    assert.equal(await a.userSignedOut('app', 'sue', '1.5'), false);
    assert.equal(await b.userSignedOut('app', 'sue', '2.5'), true);
    assert.deepEqual(await nodes[2].adapter.onlineUsers('app', ['sue']), []);
  });

  it('shares cache channel events between nodes', async () => {
    await nodes[0].adapter.cacheSet('app', 'cache-shared', { event: 'e', data: 'd' }, 10_000);
    const cached = await nodes[2].adapter.cacheGet('app', 'cache-shared');
    assert.equal(cached?.event, 'e');
    assert.equal(cached?.data, 'd');
  });

  it("removes a silent node's share once, reporting each member and user it took away", async () => {
    // A node that heartbeats once (at start) and then falls silent, as a killed process would: once
    // its share is written it never registers again either (on Redis Cluster, a topology change such
    // as the concurrent failover or the killed primary rejoining would bring its share back).
    const doomedShare = new LocalShare('app');
    let killed = false;
    const doomed = await cluster.node({ heartbeatMs: 60_000, nodeExpiryMs: 120_000 }, () => {
      if (killed) throw new Error('this node is dead');
      return doomedShare.snapshot();
    });
    await shares[0].subscribe(nodes[0].adapter, 'presence-doom');
    await shares[0].join(nodes[0].adapter, 'presence-doom', '1.9', 'stays');
    for (const [socket, userId] of [['8.1', 'gone'], ['8.2', 'gone'], ['8.3', 'stays']] as const) {
      await doomedShare.subscribe(doomed.adapter, 'presence-doom');
      await doomedShare.join(doomed.adapter, 'presence-doom', socket, userId);
    }
    await doomedShare.signIn(doomed.adapter, 'gone', '8.1');
    await doomedShare.subscribe(doomed.adapter, 'only-doomed');
    killed = true;
    assert.equal((await nodes[0].adapter.channelStats('app', 'presence-doom')).subscriptionCount, 4);

    // The tests before write some channels through the adapters alone, so a Redis Cluster failover's
    // re-registration corrects (and reports) their counts: only this test's channels count here.
    const ours = (c: ClusterChange) => c.type !== 'count' || c.channel === 'presence-doom' || c.channel === 'only-doomed';
    const all = () => nodes.flatMap((node) => node.recorded.changes.filter(ours));
    await waitFor(() => userChanges(all()).length > 0 && memberChanges(all()).length > 0, "the dead node's share removed", 5_000);
    await sleep(600);
    assert.deepEqual(memberChanges(all()), [{ type: 'member', appId: 'app', channel: 'presence-doom', userId: 'gone', userInfo: null, present: false }]);
    assert.deepEqual(userChanges(all()), [{ type: 'user', appId: 'app', userId: 'gone', online: false }]);
    const counts = all().filter((c) => c.type === 'count');
    assert.deepEqual(counts.sort((x, y) => (x.type === 'count' && y.type === 'count' ? x.channel.localeCompare(y.channel) : 0)), [
      { type: 'count', appId: 'app', channel: 'only-doomed', count: 0 },
      { type: 'count', appId: 'app', channel: 'presence-doom', count: 1 },
    ]);
    // All three reports came from one survivor.
    assert.equal(nodes.filter((node) => node.recorded.changes.some(ours)).length, 1);
    const channels = await nodes[1].adapter.channels('app');
    assert.deepEqual([channels.get('presence-doom'), channels.has('only-doomed')], [{ subscriptionCount: 1, userCount: 1 }, false]);
    assert.deepEqual(await nodes[1].adapter.onlineUsers('app', ['gone']), []);
    for (const node of nodes) node.recorded.changes.length = 0;
    await shares[0].leave(nodes[0].adapter, 'presence-doom', '1.9', 'stays');
    await shares[0].unsubscribe(nodes[0].adapter, 'presence-doom');
  });
});

describe('RedisAdapter re-registration', { skip: redisSkip }, () => {
  const cluster = new Cluster('reregister');
  let inspect: Redis;
  /** Every started node's recorded hooks, to see which survivor reported what. */
  const survivors: Recorded[] = [];
  before(() => {
    inspect = new Redis(TEST_REDIS_URL);
  });
  after(async () => {
    inspect.disconnect();
    await cluster.close();
  });

  const share: NodeSnapshot = {
    subscriptions: [{ appId: 'app', channel: 'presence-keep', count: 2 }],
    presence: [
      { appId: 'app', channel: 'presence-keep', socketId: '5.1', member: { userId: 'kim', userInfo: { k: 1 } } },
      { appId: 'app', channel: 'presence-keep', socketId: '5.2', member: { userId: 'lee', userInfo: null } },
    ],
    signIns: [{ appId: 'app', userId: 'kim', socketId: '5.1' }],
  };

  it('registers its share from the snapshot at start', async () => {
    const { adapter, recorded } = await cluster.node({}, () => share);
    survivors.push(recorded);
    assert.deepEqual(Object.fromEntries(await adapter.channels('app')), { 'presence-keep': { subscriptionCount: 2, userCount: 2 } });
    assert.deepEqual(await adapter.onlineUsers('app', ['kim', 'lee']), ['kim']);
    assert.deepEqual(recorded.changes.filter((c) => c.type === 'member').map((c) => c.type === 'member' && c.userId).sort(), ['kim', 'lee']);
    recorded.changes.length = 0;

    // Redis loses everything (a restart without persistence): the next heartbeat notices and
    // re-registers; the clients' views are older than Redis's, so nothing is announced.
    const keys = await inspect.keys(`${cluster.prefix}*`);
    await inspect.del(...keys);
    await waitFor(() => adapter.isReady(), 'ready');
    let members = 0;
    const deadline = Date.now() + 3_000;
    while (members < 2 && Date.now() < deadline) {
      members = (await adapter.presenceMembers('app', 'presence-keep')).length;
      await sleep(50);
    }
    assert.equal(members, 2);
    assert.deepEqual(Object.fromEntries(await adapter.channels('app')), { 'presence-keep': { subscriptionCount: 2, userCount: 2 } });
    assert.deepEqual(await adapter.onlineUsers('app', ['kim']), ['kim']);
    await sleep(300);
    assert.deepEqual(recorded.changes, []);
  });

  it('re-registers after being taken for dead, announcing the members who come back', async () => {
    const back: NodeSnapshot = {
      subscriptions: [{ appId: 'app', channel: 'presence-back', count: 2 }],
      presence: [
        { appId: 'app', channel: 'presence-back', socketId: '6.1', member: { userId: 'max', userInfo: null } },
        { appId: 'app', channel: 'presence-back', socketId: '6.2', member: { userId: 'ned', userInfo: { n: 2 } } },
      ],
      signIns: [{ appId: 'app', userId: 'max', socketId: '6.1' }],
    };
    // A node that stops heartbeating after its start, then (its process merely paused) comes back.
    const { adapter, recorded } = await cluster.node({ heartbeatMs: 60_000, nodeExpiryMs: 120_000 }, () => back);
    recorded.changes.length = 0;
    const observer = await cluster.node();
    survivors.push(observer.recorded);
    const seen = () => survivors.flatMap((survivor) => survivor.changes);
    await waitFor(() => memberChanges(seen()).length === 2, 'the silent node taken for dead', 3_000);
    assert.ok(memberChanges(seen()).every((c) => !c.present));
    assert.deepEqual(userChanges(seen()), [{ type: 'user', appId: 'app', userId: 'max', online: false }]);
    assert.deepEqual(await observer.adapter.presenceMembers('app', 'presence-back'), []);

    // Its connection drops and comes back: it re-registers, and as Redis kept its state, it
    // announces the members and users it brings back.
    const clients = (await inspect.client('LIST')) as string;
    const line = clients.split('\n').find((entry) => entry.includes(`name=herald-pub-${adapter.nodeId} `));
    assert.ok(line, 'the publisher connection is listed');
    await inspect.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]);
    await waitFor(() => memberChanges(recorded.changes).length === 2, 'the node re-registered and announced', 3_000);
    assert.deepEqual(
      memberChanges(recorded.changes).map((c) => [c.userId, c.present, c.userInfo]).sort(),
      [['max', true, null], ['ned', true, { n: 2 }]],
    );
    assert.deepEqual(userChanges(recorded.changes), [{ type: 'user', appId: 'app', userId: 'max', online: true }]);
    assert.equal((await observer.adapter.presenceMembers('app', 'presence-back')).length, 2);
    assert.deepEqual(memberChanges(seen()).filter((c) => c.present), []);
  });

  it('fails fast with ClusterUnavailableError, and start() fails clearly, when Redis is unreachable', async () => {
    const port = await freePort();
    const adapter = testAdapter(`redis://127.0.0.1:${port}`, cluster.prefix, { startTimeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(adapter.start(recordingHooks().hooks), /could not reach Redis at redis:\/\/127\.0\.0\.1:\d+\/? within 300 ms/);
    assert.ok(Date.now() - started < 2_000);
    assert.equal(adapter.isReady(), false);
    await assert.rejects(adapter.subscriptionAdded('app', 'x'), ClusterUnavailableError);
    await adapter.close();
  });
});

// CLIENT PAUSE holds every client of a server: on a redis-server of its own, so that the other
// test files sharing HERALD_TEST_REDIS_URL meanwhile are not held with it.
describe('RedisAdapter reaping after a stall', { skip: ownRedisSkip }, () => {
  const children = new Children();
  let cluster: Cluster;
  let pauser: Redis;
  before(async () => {
    const port = await freePort();
    await startRedisServer(children, port);
    const url = `redis://127.0.0.1:${port}`;
    cluster = new Cluster('stall', { ...ONE_REDIS, url });
    pauser = new Redis(url);
  });
  after(async () => {
    pauser?.disconnect();
    await cluster?.close();
    await children.killAll();
  });

  /** One presence socket and one signed-in socket of `userId`. */
  const shareOf = (userId: string, socketId: string): NodeSnapshot => ({
    subscriptions: [{ appId: 'app', channel: 'presence-stall', count: 1 }],
    presence: [{ appId: 'app', channel: 'presence-stall', socketId, member: { userId, userInfo: null } }],
    signIns: [{ appId: 'app', userId, socketId }],
  });
  /** A node that heartbeats once (at start) and then falls silent, as a killed process would. */
  const silentNode = (userId: string, socketId: string) => cluster.node({ heartbeatMs: 60_000, nodeExpiryMs: 120_000 }, () => shareOf(userId, socketId));

  it("reaps no live node after Redis held every node's commands past the expiry, and still reaps a silent one", async () => {
    // Commands are held, not timed out, as the Redis Cluster client retries them through a failover.
    const options = { commandTimeoutMs: 5_000 };
    const reaper = await cluster.node(options, () => shareOf('ann', '1.1'));
    const lagging = await cluster.node(options, () => shareOf('bob', '2.1'));
    const live = [reaper, lagging];
    const seen = () => live.flatMap((node) => node.recorded.changes);
    const removed = (userId: string) => memberChanges(seen()).some((c) => c.userId === userId && !c.present);
    // The reapers work: a node silent since before the stall is removed.
    await silentNode('early', '8.1');
    await waitFor(() => removed('early'), 'the early silent node reaped', 5_000);
    for (const node of live) node.recorded.changes.length = 0;

    // Every client's commands are held for twice the expiry, the reaper's heartbeats with the
    // others'. When the hold ends, one node's connection drops (its held heartbeat never runs)
    // and comes back a moment after the reaper's, as nodes find a promoted primary one by one.
    await silentNode('gone', '9.1');
    const clients = (await pauser.client('LIST')) as string;
    const line = clients.split('\n').find((entry) => entry.includes(`name=herald-pub-${lagging.adapter.nodeId} `));
    assert.ok(line, "the lagging node's publisher connection is listed");
    const [, killed] = await Promise.all([
      pauser.client('PAUSE', String(2 * FAST_TIMERS.nodeExpiryMs), 'ALL'),
      // Held behind the pause like every command, then run first when it ends.
      pauser.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]),
    ]);
    assert.equal(killed, 1);
    await waitFor(() => removed('gone'), 'the silent node reaped after the stall', 5_000);
    await sleep(4 * FAST_TIMERS.heartbeatMs);
    assert.deepEqual(
      memberChanges(seen()).map((c) => [c.userId, c.present]),
      [['gone', false]],
      'only the silent node was reaped: no live member was removed (or came back)',
    );
    assert.deepEqual(userChanges(seen()), [{ type: 'user', appId: 'app', userId: 'gone', online: false }]);
    assert.deepEqual((await reaper.adapter.presenceMembers('app', 'presence-stall')).map((m) => m.userId).sort(), ['ann', 'bob']);
  });
});
