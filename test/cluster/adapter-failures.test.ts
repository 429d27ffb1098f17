/**
 * The realtime core when adapter calls reject (the shared backend is unreachable): refused
 * subscriptions leave nothing behind, leaves and sign-outs still clean up, and the snapshot the
 * adapter re-registers from always matches the node's local state. No Redis needed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClusterUnavailableError, type PresenceMember } from '../../src/cluster/adapter.js';
import { LocalAdapter } from '../../src/cluster/local-adapter.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import type { RawClient } from '../helpers/raw-client.js';

type Method = 'presenceMembers' | 'presenceJoin' | 'presenceLeave' | 'subscriptionAdded' | 'subscriptionRemoved' | 'userSignedIn' | 'userSignedOut' | 'onlineUsers' | 'cacheGet';

/** A LocalAdapter whose chosen methods reject as an unreachable backend would. */
class FlakyAdapter extends LocalAdapter {
  readonly failing = new Set<Method>();

  private check(method: Method): void {
    if (this.failing.has(method)) throw new ClusterUnavailableError('backend unreachable (test)');
  }

  override async presenceMembers(appId: string, channel: string): Promise<PresenceMember[]> {
    this.check('presenceMembers');
    return super.presenceMembers(appId, channel);
  }
  override async presenceJoin(appId: string, channel: string, socketId: string, member: PresenceMember): Promise<boolean> {
    this.check('presenceJoin');
    return super.presenceJoin(appId, channel, socketId, member);
  }
  override async presenceLeave(appId: string, channel: string, socketId: string, userId: string): Promise<boolean> {
    this.check('presenceLeave');
    return super.presenceLeave(appId, channel, socketId, userId);
  }
  override async subscriptionAdded(appId: string, channel: string): Promise<number> {
    this.check('subscriptionAdded');
    return super.subscriptionAdded(appId, channel);
  }
  override async subscriptionRemoved(appId: string, channel: string): Promise<number> {
    this.check('subscriptionRemoved');
    return super.subscriptionRemoved(appId, channel);
  }
  override async userSignedIn(appId: string, userId: string, socketId: string): Promise<boolean> {
    this.check('userSignedIn');
    return super.userSignedIn(appId, userId, socketId);
  }
  override async userSignedOut(appId: string, userId: string, socketId: string): Promise<boolean> {
    this.check('userSignedOut');
    return super.userSignedOut(appId, userId, socketId);
  }
  override async onlineUsers(appId: string, userIds: readonly string[]): Promise<string[]> {
    this.check('onlineUsers');
    return super.onlineUsers(appId, userIds);
  }
  override async cacheGet(appId: string, channel: string) {
    this.check('cacheGet');
    return super.cacheGet(appId, channel);
  }
}

describe('the realtime core when adapter calls reject', () => {
  const adapter = new FlakyAdapter();
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ deps: { adapter } });
  });
  after(() => harness.close());

  const appId = () => harness.app.id;
  const snapshot = () => harness.server.realtime.snapshot();
  const subscriptionsOf = (channel: string) => snapshot().subscriptions.filter((s) => s.channel === channel);

  async function presence(raw: RawClient, socketId: string, channel: string, userId: string) {
    const { auth, channel_data } = harness.backend().authorizeChannel(socketId, channel, { user_id: userId, user_info: { name: userId } });
    return raw.subscribe(channel, auth, channel_data);
  }

  it('refuses a subscription with subscription_error 503 and keeps no trace of it; a retry later works', async () => {
    const raw = await harness.raw();
    await raw.established();
    adapter.failing.add('subscriptionAdded');
    const refused = await raw.subscribe('news');
    assert.equal(refused.event, 'pusher:subscription_error');
    assert.equal((refused.data as { status: number }).status, 503);
    assert.deepEqual(subscriptionsOf('news'), []);
    await harness.backend().trigger('news', 'headline', {});
    await raw.none('headline', 150);

    adapter.failing.clear();
    assert.equal((await raw.subscribe('news')).event, 'pusher_internal:subscription_succeeded');
    assert.deepEqual(subscriptionsOf('news'), [{ appId: appId(), channel: 'news', count: 1 }]);
    assert.equal((await adapter.channelStats(appId(), 'news')).subscriptionCount, 1);
    await harness.backend().trigger('news', 'headline', { n: 1 });
    await raw.next('headline');
  });

  it('undoes a presence join whose count write failed, so no member is left behind', async () => {
    const watcher = await harness.raw();
    const watcherId = (await watcher.established()).socketId;
    assert.equal((await presence(watcher, watcherId, 'presence-partial', 'watcher')).event, 'pusher_internal:subscription_succeeded');
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    adapter.failing.add('subscriptionAdded');
    const refused = await presence(raw, socketId, 'presence-partial', 'ghost');
    adapter.failing.clear();
    assert.equal(refused.event, 'pusher:subscription_error');
    assert.deepEqual((await adapter.presenceMembers(appId(), 'presence-partial')).map((m) => m.userId), ['watcher']);
    assert.deepEqual(snapshot().presence.filter((p) => p.channel === 'presence-partial').map((p) => p.member.userId), ['watcher']);
    await watcher.none('pusher_internal:member_added', 150);
  });

  it('refuses a presence subscription when the member list cannot be read', async () => {
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    adapter.failing.add('presenceMembers');
    const refused = await presence(raw, socketId, 'presence-unreadable', 'u');
    adapter.failing.clear();
    assert.equal(refused.event, 'pusher:subscription_error');
    assert.deepEqual(subscriptionsOf('presence-unreadable'), []);
    assert.deepEqual(await adapter.presenceMembers(appId(), 'presence-unreadable'), []);
  });

  it('answers a cache channel subscription with cache_miss when the cache cannot be read', async () => {
    const raw = await harness.raw();
    await raw.established();
    adapter.failing.add('cacheGet');
    assert.equal((await raw.subscribe('cache-unreadable')).event, 'pusher_internal:subscription_succeeded');
    await raw.next('pusher:cache_miss');
    adapter.failing.clear();
  });

  it('keeps a sign-in locally when it cannot be recorded, and cleans everything up on close even when the leaves fail', async () => {
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    adapter.failing.add('userSignedIn');
    adapter.failing.add('onlineUsers');
    raw.send({ event: 'pusher:signin', data: harness.backend().authenticateUser(socketId, { id: 'kept', watchlist: ['someone'] }) });
    await raw.next('pusher:signin_success');
    adapter.failing.clear();
    await raw.roundTrip();
    // Local state the adapter re-registers from once the backend is back.
    assert.deepEqual(snapshot().signIns.filter((s) => s.socketId === socketId), [{ appId: appId(), userId: 'kept', socketId }]);
    assert.equal((await presence(raw, socketId, 'presence-leaving', 'kept')).event, 'pusher_internal:subscription_succeeded');
    const connection = harness.server.realtime.hubOf(appId())?.connections.get(socketId);
    assert.ok(connection);

    for (const method of ['presenceLeave', 'subscriptionRemoved', 'userSignedOut'] as const) adapter.failing.add(method);
    raw.close();
    await connection.cleanedUp;
    adapter.failing.clear();
    const after = snapshot();
    assert.deepEqual(after.signIns.filter((s) => s.socketId === socketId), []);
    assert.deepEqual(after.presence.filter((p) => p.socketId === socketId), []);
    assert.deepEqual(after.subscriptions.filter((s) => s.channel === 'presence-leaving'), []);
    const hub = harness.server.realtime.hubOf(appId());
    assert.equal(hub?.users.has('kept'), false);
    assert.equal(hub?.watchers.has('someone'), false);
    assert.equal(hub?.connections.has(socketId), false);
  });
});
