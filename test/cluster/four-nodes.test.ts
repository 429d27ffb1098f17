/**
 * Four in-process nodes sharing one Redis, then a Redis Cluster: pusher-js clients spread across
 * them, the `pusher` SDK on any. The cluster variant SKIPs without HERALD_TEST_REDIS_CLUSTER_URLS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PresenceChannel } from 'pusher-js';
import { sdkChannelAuth, sdkUserAuth, signedIn, subscribed } from '../helpers/auth.js';
import type { Harness } from '../helpers/harness.js';
import type { RawClient } from '../helpers/raw-client.js';
import { once, sleep, waitFor } from '../helpers/wait.js';
import { deletePrefix, REDIS_TARGETS, startNodes, uniquePrefix } from './cluster-helpers.js';

for (const target of REDIS_TARGETS) describe(`four nodes sharing ${target.name}`, { skip: target.skip }, () => {
  const prefix = uniquePrefix('four-nodes');
  let nodes: Harness[] = [];
  before(async () => {
    nodes = await startNodes(4, target.url, prefix, { cluster: target.cluster });
  });
  after(async () => {
    await Promise.allSettled(nodes.map((node) => node.close()));
    await deletePrefix(target.url, prefix, target.cluster);
  });

  const backend = () => nodes[0].backend();
  /** Channel authorisation as a presence member `userId` (or for private channels). */
  const as = (userId?: string) => sdkChannelAuth(backend(), userId ? { user_id: userId, user_info: { name: userId } } : undefined);

  /** A raw socket on a node, signed in as `id` (with a watchlist). */
  async function rawUser(node: Harness, id: string, watchlist?: string[]): Promise<RawClient> {
    const raw = await node.raw();
    const { socketId } = await raw.established();
    raw.send({ event: 'pusher:signin', data: node.backend().authenticateUser(socketId, watchlist ? { id, watchlist } : { id }) });
    await raw.next('pusher:signin_success');
    return raw;
  }

  async function getJson(node: Harness, path: string, params?: Record<string, string>): Promise<unknown> {
    return (await node.backend().get({ path, params })).json();
  }

  it('delivers an event published on one node to subscribers on every node', async () => {
    const channels = await Promise.all(nodes.map((node) => subscribed(node.client(), 'news')));
    const received = channels.map((channel, i) => once<unknown>((done) => channel.bind('headline', done), `headline on node ${i}`));
    await nodes[1].backend().trigger('news', 'headline', { title: 'hello' });
    assert.deepEqual(await Promise.all(received), nodes.map(() => ({ title: 'hello' })));
  });

  it('relays a client event to the subscribers of the other nodes, never back to its sender', async () => {
    const channels = await Promise.all(nodes.map((node) => subscribed(node.client({ channelAuthorization: as() }), 'private-chat')));
    const received = [1, 2, 3].map((i) => once<unknown>((done) => channels[i].bind('client-typing', done), `client event on node ${i}`));
    let echoed = false;
    channels[0].bind('client-typing', () => (echoed = true));
    channels[0].trigger('client-typing', { who: 'ann' });
    assert.deepEqual(await Promise.all(received), [{ who: 'ann' }, { who: 'ann' }, { who: 'ann' }]);
    await sleep(150);
    assert.equal(echoed, false);
  });

  it('joins and leaves presence across nodes with one member_added and one member_removed', async () => {
    const watcher = (await subscribed(nodes[2].client({ channelAuthorization: as('watcher') }), 'presence-room')) as PresenceChannel;
    const added: string[] = [];
    const removed: string[] = [];
    watcher.bind('pusher:member_added', (member: { id: string }) => added.push(member.id));
    watcher.bind('pusher:member_removed', (member: { id: string }) => removed.push(member.id));

    const annOnNode0 = nodes[0].client({ channelAuthorization: as('ann') });
    const annChannel = (await subscribed(annOnNode0, 'presence-room')) as PresenceChannel;
    assert.deepEqual(Object.keys(annChannel.members.members).sort(), ['ann', 'watcher']);
    await waitFor(() => added.length === 1, 'member_added for ann on node 2');
    // A second socket of the same user, on another node: no second member_added.
    const annOnNode1 = nodes[1].client({ channelAuthorization: as('ann') });
    await subscribed(annOnNode1, 'presence-room');
    annOnNode0.disconnect();
    await sleep(300);
    assert.deepEqual(added, ['ann']);
    assert.deepEqual(removed, [], 'ann still has a socket on node 1');
    assert.equal(watcher.members.count, 2);

    annOnNode1.disconnect();
    await waitFor(() => removed.length === 1, 'member_removed for ann on node 2');
    await sleep(200);
    assert.deepEqual(removed, ['ann']);
    assert.deepEqual(await getJson(nodes[0], '/channels/presence-room/users'), { users: [{ id: 'watcher' }] });
  });

  it('answers GET /channels and channel info with counts summed over the nodes', async () => {
    await Promise.all(nodes.map((node) => subscribed(node.client(), 'counted')));
    await subscribed(nodes[0].client({ channelAuthorization: as('u0') }), 'presence-counted');
    await subscribed(nodes[1].client({ channelAuthorization: as('u1') }), 'presence-counted');
    await subscribed(nodes[2].client({ channelAuthorization: as('u1') }), 'presence-counted');
    for (const node of nodes) {
      assert.deepEqual(await getJson(node, '/channels', { filter_by_prefix: 'presence-counted', info: 'user_count,subscription_count' }), {
        channels: { 'presence-counted': { user_count: 2, subscription_count: 3 } },
      });
      assert.deepEqual(await getJson(node, '/channels/counted', { info: 'subscription_count' }), { occupied: true, subscription_count: 4 });
    }
    const listed = (await getJson(nodes[2], '/channels')) as { channels: Record<string, unknown> };
    assert.ok('counted' in listed.channels && 'news' in listed.channels);
  });

  it('decides occupied once: concurrent first subscriptions on every node count each socket once', async () => {
    const raws = await Promise.all(nodes.flatMap((node) => [node.raw(), node.raw(), node.raw()]));
    await Promise.all(raws.map((raw) => raw.established()));
    const results = await Promise.all(raws.map((raw) => raw.subscribe('crowded')));
    assert.ok(results.every((frame) => frame.event === 'pusher_internal:subscription_succeeded'));
    assert.deepEqual(await getJson(nodes[1], '/channels/crowded', { info: 'subscription_count' }), { occupied: true, subscription_count: 12 });
    // Every subscriber ends up told the cluster-wide count (subscription_count is on for this app).
    await Promise.all(raws.map((raw) => raw.next((f) => f.event === 'pusher_internal:subscription_count' && (f.data as { subscription_count: number }).subscription_count === 12, 'count 12')));
    for (const raw of raws) raw.close();
    let occupied = true;
    const deadline = Date.now() + 3_000;
    while (occupied && Date.now() < deadline) {
      occupied = ((await getJson(nodes[0], '/channels/crowded')) as { occupied: boolean }).occupied;
      if (occupied) await sleep(20);
    }
    assert.equal(occupied, false);
  });

  it('reaches a signed-in user on other nodes with sendToUser', async () => {
    const onNode1 = nodes[1].client({ userAuthentication: sdkUserAuth(backend(), { id: 'uma' }) });
    const onNode2 = nodes[2].client({ userAuthentication: sdkUserAuth(backend(), { id: 'uma' }) });
    await Promise.all([signedIn(onNode1), signedIn(onNode2)]);
    const got = [onNode1, onNode2].map((client, i) => once<unknown>((done) => client.user.bind('memo', done), `memo on node ${i + 1}`));
    await nodes[0].backend().sendToUser('uma', 'memo', { text: 'hi' });
    assert.deepEqual(await Promise.all(got), [{ text: 'hi' }, { text: 'hi' }]);
  });

  it('terminates the connections of a user on every node', async () => {
    const one = await rawUser(nodes[1], 'ivan');
    const two = await rawUser(nodes[2], 'ivan');
    const bystander = await rawUser(nodes[2], 'judy');
    await nodes[0].backend().terminateUserConnections('ivan');
    assert.equal((await one.closedWithin()).code, 4009);
    assert.equal((await two.closedWithin()).code, 4009);
    await bystander.roundTrip();
  });

  it('tells watchers on other nodes when a watched user comes online and goes offline', async () => {
    const watcher = await rawUser(nodes[0], 'wendy', ['vic']);
    const vicA = await rawUser(nodes[1], 'vic');
    const online = await watcher.next('pusher_internal:watchlist_events', 'online');
    assert.deepEqual(online.data, { events: [{ name: 'online', user_ids: ['vic'] }] });
    const vicB = await rawUser(nodes[2], 'vic');
    vicA.close();
    await watcher.none('pusher_internal:watchlist_events', 200);
    vicB.close();
    const offline = await watcher.next('pusher_internal:watchlist_events', 'offline');
    assert.deepEqual(offline.data, { events: [{ name: 'offline', user_ids: ['vic'] }] });
    // A watcher signing in later learns at once who is online, wherever they are connected.
    await rawUser(nodes[2], 'xena');
    const late = await rawUser(nodes[1], 'yuri', ['xena', 'vic']);
    const initial = await late.next('pusher_internal:watchlist_events', 'initial online');
    assert.deepEqual(initial.data, { events: [{ name: 'online', user_ids: ['xena'] }] });
  });

  it('replays the last event of a cache channel to a subscriber on another node', async () => {
    await nodes[0].backend().trigger('cache-weather', 'forecast', { sky: 'clear' });
    const raw = await nodes[2].raw();
    await raw.established();
    await raw.subscribe('cache-weather');
    const replay = await raw.next((f) => f.channel === 'cache-weather' && (f.event === 'forecast' || f.event === 'pusher:cache_miss'), 'cache replay');
    assert.equal(replay.event, 'forecast');
    assert.deepEqual(replay.data, { sky: 'clear' });
    const info = (await getJson(nodes[1], '/channels/cache-weather', { info: 'cache' })) as { cache: { event: string; ttl: number } };
    assert.equal(info.cache.event, 'forecast');
    assert.ok(info.cache.ttl > 0);
  });
});
