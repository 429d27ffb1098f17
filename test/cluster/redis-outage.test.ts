/**
 * A Redis outage: a redis-server of its own is killed and restarted (empty) under two nodes.
 * Sockets survive, `/ready` goes 503 then 200, calls fail fast, and everything works again after.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Channel } from 'pusher-js';
import { ClusterUnavailableError } from '../../src/cluster/adapter.js';
import { subscribed } from '../helpers/auth.js';
import type { Harness } from '../helpers/harness.js';
import type { Frame, RawClient } from '../helpers/raw-client.js';
import { once } from '../helpers/wait.js';
import { Children, freePort, ownRedisSkip, readyStatus, startNodes, startRedisServer, uniquePrefix, within } from './cluster-helpers.js';

const PRESENCE = 'presence-outage';

describe('a Redis outage under two nodes', { skip: ownRedisSkip }, () => {
  const children = new Children();
  let port = 0;
  let redis: ReturnType<Children['spawn']> | null = null;
  let nodes: Harness[] = [];

  /** Starts a fresh, empty redis-server on `port` and waits (bounded) until it accepts connections. */
  async function startRedis(): Promise<void> {
    redis = await startRedisServer(children, port);
  }

  before(async () => {
    port = await freePort();
    await startRedis();
    nodes = await startNodes(2, `redis://127.0.0.1:${port}`, uniquePrefix('outage'), { commandTimeoutMs: 500, reconnectMaxDelayMs: 100 });
  });
  after(async () => {
    await Promise.allSettled(nodes.map((node) => node.close()));
    await children.killAll();
  });

  const backend = (i = 0) => nodes[i].backend();
  const memberEvent = (event: string, userId: string) => (f: Frame) => f.event === event && (f.data as { user_id?: string }).user_id === userId;

  /** A raw socket on a node, subscribed to the ticker and to the presence channel as `userId`. */
  async function member(node: Harness, userId: string): Promise<RawClient> {
    const raw = await node.raw();
    const { socketId } = await raw.established();
    assert.equal((await raw.subscribe('ticker')).event, 'pusher_internal:subscription_succeeded');
    const { auth, channel_data } = backend().authorizeChannel(socketId, PRESENCE, { user_id: userId, user_info: {} });
    assert.equal((await raw.subscribe(PRESENCE, auth, channel_data)).event, 'pusher_internal:subscription_succeeded');
    return raw;
  }

  async function waitForReady(status: number, what: string): Promise<void> {
    const deadline = Date.now() + 6_000;
    let seen: number[] = [];
    while (Date.now() < deadline) {
      seen = await Promise.all(nodes.map((node) => readyStatus(node.baseUrl)));
      if (seen.every((s) => s === status)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail(`${what}: /ready answered ${seen.join(', ')}`);
  }

  it('keeps sockets, reports not ready, fails fast, and recovers fan-out and presence when Redis returns', async () => {
    const ann = await member(nodes[0], 'ann');
    const bob = await member(nodes[1], 'bob');
    await ann.next(memberEvent('pusher_internal:member_added', 'bob'), 'bob joined');
    const pjs = nodes[1].client();
    const ticker: Channel = await subscribed(pjs, 'ticker');
    await backend(0).trigger('ticker', 'tick', { n: 1 });
    await bob.next('tick');
    await waitForReady(200, 'before the outage');

    // Redis dies.
    assert.ok(redis);
    redis.child.kill('SIGKILL');
    await within(redis.exited, 5_000, 'redis-server to exit');
    await waitForReady(503, 'during the outage');

    // Sockets stay open and served; the pusher-js client never notices.
    await ann.roundTrip();
    await bob.roundTrip();
    assert.equal(pjs.connection.state, 'connected');
    // Publishing degrades to this node's subscribers.
    await backend(1).trigger('ticker', 'tick', { n: 2 });
    await bob.next((f) => f.event === 'tick' && (f.data as { n: number }).n === 2, 'local tick');
    // Calls that need shared state fail fast, not hang.
    let started = Date.now();
    await assert.rejects(nodes[0].server.realtime.adapter.channels('test-app'), ClusterUnavailableError);
    assert.ok(Date.now() - started < 200, 'adapter call failed fast');
    started = Date.now();
    const refused = await nodes[1].raw();
    await refused.established();
    const result = await refused.subscribe('ticker');
    assert.equal(result.event, 'pusher:subscription_error');
    assert.equal((result.data as { status: number }).status, 503);
    const status = await backend(0).get({ path: '/channels' }).then(
      (r) => r.status,
      (error: { status?: number }) => error.status ?? 0,
    );
    assert.equal(status, 503);
    assert.ok(Date.now() - started < 1_500, 'refusals came fast');

    // Redis comes back empty; each node re-registers its share from its local state.
    await startRedis();
    await waitForReady(200, 'after Redis returned');
    await ann.roundTrip();
    const users = (await (await backend(1).get({ path: `/channels/${PRESENCE}/users` })).json()) as { users: { id: string }[] };
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['ann', 'bob']);
    const stats = (await (await backend(0).get({ path: '/channels/ticker', params: { info: 'subscription_count' } })).json()) as object;
    assert.deepEqual(stats, { occupied: true, subscription_count: 3 });

    // Fan-out across nodes works again, both ways, and the pusher-js client gets it too.
    const pjsTick = once<unknown>((done) => ticker.bind('tick', done), 'pusher-js tick');
    await backend(0).trigger('ticker', 'tick', { n: 3 });
    await bob.next((f) => f.event === 'tick' && (f.data as { n: number }).n === 3, 'tick from node 0');
    assert.deepEqual(await pjsTick, { n: 3 });
    await backend(1).trigger('ticker', 'tick', { n: 4 });
    await ann.next((f) => f.event === 'tick' && (f.data as { n: number }).n === 4, 'tick from node 1');

    // Presence works again: one member_added and one member_removed across nodes.
    assert.equal((await refused.subscribe('ticker')).event, 'pusher_internal:subscription_succeeded');
    const cy = await member(nodes[1], 'cy');
    await ann.next(memberEvent('pusher_internal:member_added', 'cy'), 'cy joined');
    cy.close();
    await ann.next(memberEvent('pusher_internal:member_removed', 'cy'), 'cy left');
    await ann.none((f) => memberEvent('pusher_internal:member_added', 'cy')(f) || memberEvent('pusher_internal:member_removed', 'cy')(f), 300, 'a repeated member event');
  });
});
