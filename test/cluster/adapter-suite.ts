/** The ClusterAdapter contract, run against every implementation (`runAdapterSuite(name, factory)`). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClusterAdapter, ClusterChange, ClusterHooks, ClusterMessage, NodeSnapshot } from '../../src/cluster/adapter.js';
import { sleep } from '../helpers/wait.js';

/** Builds a fresh adapter whose shared state no other test sees; `cleanup` runs after it is closed. */
export type AdapterFactory = () => Promise<{ adapter: ClusterAdapter; cleanup?: () => Promise<void> }>;

/** Hooks that record what the adapter reports, with an empty node snapshot. */
export function recordingHooks(snapshot: () => NodeSnapshot = () => ({ subscriptions: [], presence: [], signIns: [] })) {
  const messages: ClusterMessage[] = [];
  const changes: ClusterChange[] = [];
  const hooks: ClusterHooks = {
    onMessage: (message) => messages.push(message),
    onChange: (change) => changes.push(change),
    snapshot,
  };
  return { hooks, messages, changes };
}

/** Runs the contract every adapter must keep, single node. */
export function runAdapterSuite(name: string, factory: AdapterFactory, options: { skip?: string | false } = {}): void {
  describe(`ClusterAdapter contract: ${name}`, { skip: options.skip ?? false }, () => {
    let adapter: ClusterAdapter;
    let cleanup: (() => Promise<void>) | undefined;
    const recorded = recordingHooks();
    before(async () => {
      ({ adapter, cleanup } = await factory());
      await adapter.start(recorded.hooks);
    });
    after(async () => {
      await adapter?.close();
      await cleanup?.();
    });

    it('is ready once started', () => {
      assert.equal(adapter.isReady(), true);
    });

    it('counts subscriptions: 1 means just occupied, 0 just vacated, never below 0', async () => {
      assert.equal(await adapter.subscriptionAdded('app', 'news'), 1);
      assert.equal(await adapter.subscriptionAdded('app', 'news'), 2);
      assert.deepEqual(await adapter.channelStats('app', 'news'), { subscriptionCount: 2, userCount: 0 });
      assert.equal(await adapter.subscriptionRemoved('app', 'news'), 1);
      assert.equal(await adapter.subscriptionRemoved('app', 'news'), 0);
      assert.equal(await adapter.subscriptionRemoved('app', 'news'), 0);
      assert.deepEqual(await adapter.channelStats('app', 'news'), { subscriptionCount: 0, userCount: 0 });
    });

    it('lists occupied channels with subscription and user counts, per app', async () => {
      await adapter.subscriptionAdded('list-app', 'a');
      await adapter.subscriptionAdded('list-app', 'presence-b');
      await adapter.subscriptionAdded('list-app', 'presence-b');
      await adapter.presenceJoin('list-app', 'presence-b', '1.1', { userId: 'u1', userInfo: null });
      await adapter.presenceJoin('list-app', 'presence-b', '1.2', { userId: 'u1', userInfo: null });
      await adapter.subscriptionAdded('other-app', 'a');
      const channels = await adapter.channels('list-app');
      assert.deepEqual(Object.fromEntries(channels), {
        a: { subscriptionCount: 1, userCount: 0 },
        'presence-b': { subscriptionCount: 2, userCount: 1 },
      });
      assert.deepEqual(Object.fromEntries(await adapter.channels('other-app')), { a: { subscriptionCount: 1, userCount: 0 } });
      assert.deepEqual(Object.fromEntries(await adapter.channels('no-such-app')), {});
    });

    it("joins presence: true only on a user's first socket, one member per user with its info", async () => {
      const info = { name: 'Ann', tags: ['x'] };
      assert.equal(await adapter.presenceJoin('app', 'presence-room', '1.1', { userId: 'ann', userInfo: info }), true);
      assert.equal(await adapter.presenceJoin('app', 'presence-room', '1.2', { userId: 'ann', userInfo: info }), false);
      assert.equal(await adapter.presenceJoin('app', 'presence-room', '1.3', { userId: 'bob', userInfo: null }), true);
      const members = (await adapter.presenceMembers('app', 'presence-room')).sort((a, b) => a.userId.localeCompare(b.userId));
      assert.deepEqual(members, [
        { userId: 'ann', userInfo: info },
        { userId: 'bob', userInfo: null },
      ]);
      assert.equal((await adapter.channelStats('app', 'presence-room')).userCount, 2);
    });

    it("leaves presence: true only on the user's last socket; unknown sockets change nothing", async () => {
      await adapter.presenceJoin('app', 'presence-leave', '2.1', { userId: 'u', userInfo: 1 });
      await adapter.presenceJoin('app', 'presence-leave', '2.2', { userId: 'u', userInfo: 1 });
      assert.equal(await adapter.presenceLeave('app', 'presence-leave', '9.9', 'u'), false);
      assert.equal(await adapter.presenceLeave('app', 'presence-leave', '2.1', 'u'), false);
      assert.equal(await adapter.presenceLeave('app', 'presence-leave', '2.1', 'u'), false);
      assert.equal(await adapter.presenceLeave('app', 'presence-leave', '2.2', 'u'), true);
      assert.deepEqual(await adapter.presenceMembers('app', 'presence-leave'), []);
    });

    it('keeps user ids of any shape apart', async () => {
      const odd = ['a"b', 'ü/ñ', 'x\ny', ' ', '["u","1"]', '__proto__', 'constructor'];
      for (const [i, userId] of odd.entries()) assert.equal(await adapter.presenceJoin('app', 'presence-odd', `3.${i}`, { userId, userInfo: userId }), true);
      const members = await adapter.presenceMembers('app', 'presence-odd');
      assert.deepEqual(members.map((m) => m.userId).sort(), [...odd].sort());
      for (const member of members) assert.equal(member.userInfo, member.userId);
      for (const [i, userId] of odd.entries()) assert.equal(await adapter.presenceLeave('app', 'presence-odd', `3.${i}`, userId), true);
    });

    it('tracks signed-in users: first and last socket, online users', async () => {
      assert.equal(await adapter.userSignedIn('app', 'sam', '4.1'), true);
      assert.equal(await adapter.userSignedIn('app', 'sam', '4.2'), false);
      assert.equal(await adapter.userSignedIn('app', 'tia', '4.3'), true);
      assert.deepEqual((await adapter.onlineUsers('app', ['sam', 'nobody', 'tia'])).sort(), ['sam', 'tia']);
      assert.deepEqual(await adapter.onlineUsers('other-app', ['sam']), []);
      assert.deepEqual(await adapter.onlineUsers('app', []), []);
      assert.equal(await adapter.userSignedOut('app', 'sam', '4.1'), false);
      assert.equal(await adapter.userSignedOut('app', 'sam', '9.9'), false);
      assert.equal(await adapter.userSignedOut('app', 'sam', '4.2'), true);
      assert.deepEqual(await adapter.onlineUsers('app', ['sam', 'tia']), ['tia']);
    });

    it('keeps the last event of a cache channel until its TTL', async () => {
      assert.equal(await adapter.cacheGet('app', 'cache-none'), null);
      await adapter.cacheSet('app', 'cache-a', { event: 'first', data: { n: 1 } }, 60_000);
      await adapter.cacheSet('app', 'cache-a', { event: 'second', data: '{"n":2}' }, 60_000);
      const cached = await adapter.cacheGet('app', 'cache-a');
      assert.ok(cached);
      assert.equal(cached.event, 'second');
      assert.equal(cached.data, '{"n":2}');
      assert.ok(cached.ttlMs > 50_000 && cached.ttlMs <= 60_000, `ttl ${cached.ttlMs}`);
      assert.equal(await adapter.cacheGet('other-app', 'cache-a'), null);
      await adapter.cacheSet('app', 'cache-short', { event: 'e', data: null }, 50);
      await sleep(120);
      assert.equal(await adapter.cacheGet('app', 'cache-short'), null);
    });

    it("never hands a node its own messages, even of the channels and users it listens to", async () => {
      await adapter.listenChannel('app', 'c');
      await adapter.listenUser('app', 'u');
      adapter.send({ v: 1, type: 'publish', appId: 'app', channel: 'c', frame: '{}', exceptSocketId: null });
      adapter.send({ v: 1, type: 'terminate-user', appId: 'app', userId: 'u' });
      await sleep(100);
      assert.deepEqual(recorded.messages, []);
      assert.equal(adapter.traffic.received, 0);
      adapter.unlistenChannel('app', 'c');
      adapter.unlistenUser('app', 'u');
      assert.equal(adapter.traffic.topics, 0);
    });
  });
}
