/** A real node process killed with SIGKILL: the survivors remove its share and tell their clients once. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Harness } from '../helpers/harness.js';
import { RawClient, type Frame } from '../helpers/raw-client.js';
import { Children, deletePrefix, redisSkip, startNodeProcess, startNodes, TEST_REDIS_URL, uniquePrefix, within, type NodeProcess } from './cluster-helpers.js';

const CHANNEL = 'presence-crash';

describe('a node killed with SIGKILL', { skip: redisSkip }, () => {
  const prefix = uniquePrefix('crash');
  const children = new Children();
  let nodes: Harness[] = [];
  let doomed: NodeProcess;
  before(async () => {
    nodes = await startNodes(2, TEST_REDIS_URL, prefix);
    doomed = await startNodeProcess(children, TEST_REDIS_URL, prefix);
  });
  after(async () => {
    await children.killAll();
    await Promise.allSettled(nodes.map((node) => node.close()));
    await deletePrefix(TEST_REDIS_URL, prefix);
  });

  const backend = () => nodes[0].backend();

  /** Opens a raw socket to a URL, subscribes it to the presence channel as `userId`, optionally signed in. */
  async function member(connect: () => Promise<RawClient>, userId: string, signIn?: { watchlist?: string[] }): Promise<RawClient> {
    const raw = await connect();
    const { socketId } = await raw.established();
    if (signIn) {
      raw.send({ event: 'pusher:signin', data: backend().authenticateUser(socketId, { id: userId, ...signIn }) });
      await raw.next('pusher:signin_success');
    }
    const { auth, channel_data } = backend().authorizeChannel(socketId, CHANNEL, { user_id: userId, user_info: { name: userId } });
    const result = await raw.subscribe(CHANNEL, auth, channel_data);
    assert.equal(result.event, 'pusher_internal:subscription_succeeded', `${userId} subscribed`);
    return raw;
  }

  const removedFrame = (userId: string) => (f: Frame) => f.event === 'pusher_internal:member_removed' && (f.data as { user_id: string }).user_id === userId;
  const addedFrame = (userId: string) => (f: Frame) => f.event === 'pusher_internal:member_added' && (f.data as { user_id: string }).user_id === userId;

  it('has its presence members removed, member_removed delivered once on every surviving node, and its users go offline', async () => {
    const onDoomed = () => RawClient.connect(`ws://127.0.0.1:${doomed.port}/app/${nodes[0].app.key}?protocol=7&client=raw&version=1`);
    const observers = [
      await member(() => nodes[0].raw(), 'observer-0', { watchlist: ['victim'] }),
      await member(() => nodes[1].raw(), 'observer-1'),
    ];
    // 'both' also has a socket on a surviving node, so it stays a member.
    await member(() => nodes[1].raw(), 'both');
    const victims = [await member(onDoomed, 'victim', {}), await member(onDoomed, 'victim'), await member(onDoomed, 'both')];
    for (const observer of observers) await observer.next(addedFrame('victim'), 'member_added victim');
    await observers[0].next((f) => f.event === 'pusher_internal:watchlist_events', 'victim online');
    const before = (await (await backend().get({ path: `/channels/${CHANNEL}`, params: { info: 'user_count,subscription_count' } })).json()) as object;
    assert.deepEqual(before, { occupied: true, user_count: 4, subscription_count: 6 });

    const killedAt = Date.now();
    doomed.child.kill('SIGKILL');
    await within(doomed.exited, 5_000, 'the killed node to exit');
    await Promise.all(victims.map((victim) => victim.closedWithin(3_000)));

    for (const observer of observers) await observer.next(removedFrame('victim'), 'member_removed victim', 8_000);
    const offline = await observers[0].next((f) => f.event === 'pusher_internal:watchlist_events', 'victim offline', 3_000);
    assert.deepEqual(offline.data, { events: [{ name: 'offline', user_ids: ['victim'] }] });
    assert.ok(Date.now() - killedAt < 8_000);
    // Exactly once: no second member_removed, none for 'both' who is still connected elsewhere.
    for (const observer of observers) {
      await observer.none((f) => removedFrame('victim')(f) || removedFrame('both')(f), 600, 'a second or wrong member_removed');
    }
    for (const node of nodes) {
      const users = (await (await node.backend().get({ path: `/channels/${CHANNEL}/users` })).json()) as { users: { id: string }[] };
      assert.deepEqual(users.users.map((u) => u.id).sort(), ['both', 'observer-0', 'observer-1']);
      const stats = (await (await node.backend().get({ path: `/channels/${CHANNEL}`, params: { info: 'user_count,subscription_count' } })).json()) as object;
      assert.deepEqual(stats, { occupied: true, user_count: 3, subscription_count: 3 });
    }
  });
});
