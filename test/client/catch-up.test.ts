/**
 * InboxClient catch-up against a real server: notifications pushed while the connection is cut
 * (closed by the server, or a network black hole through a TCP proxy) and while no client
 * exists all end up held exactly once, newest first, with the right unread count.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { assertExactly, ClientPool, pushMany } from '../helpers/inbox-client.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { Errors, type ProtocolError } from '../../src/protocol/errors.js';
import { sleep, waitFor } from '../helpers/wait.js';

describe('InboxClient catch-up', () => {
  let harness: Harness;
  let proxy: TcpProxy;
  let pool: ClientPool;
  before(async () => {
    harness = await startHarness({ apps: [TEST_APP], realtime: { activityTimeoutSeconds: 1, pongTimeoutMs: 500, sweepIntervalMs: 50 } });
    proxy = await TcpProxy.start(harness.port);
    pool = new ClientPool(harness);
  });
  after(async () => {
    await pool.disposeAll();
    await proxy.close();
    await harness.close();
  });

  /** Closes, with the error's close code, the server side of every socket subscribed to ada's inbox channel. */
  const closeFromServer = (error: ProtocolError): number => {
    const connections = [...(harness.server.realtime.hubOf(harness.app.id)?.channels.get('private-ada')?.subscribers ?? [])];
    for (const connection of connections) connection.close(error);
    return connections.length;
  };
  /** Sockets subscribed to a channel on the server. */
  const subscribers = (channel: string): number => harness.server.realtime.hubOf(harness.app.id)?.channels.get(channel)?.subscribers.size ?? 0;

  it('holds exactly the 200 notifications pushed while the connection is cut again and again', { timeout: 30_000 }, async () => {
    const inbox = pool.create('ada', {
      port: proxy.port,
      pusherOptions: { activityTimeout: 1000, pongTimeout: 1000 },
      requestTimeoutMs: 3_000,
    });
    const errors: string[] = [];
    inbox.errors.listen((error) => errors.push(`${error.name}: ${error.message}`));
    await inbox.init();
    assert.deepEqual(inbox.notifications, []);
    const acceptedAtStart = proxy.accepted;
    const pushed: string[] = [];
    const push = async (count: number) => pushed.push(...(await pushMany(harness, 'ada', count, `batch ${pushed.length}`)));
    // Between cuts: subscribed again on the server and holding everything pushed so far.
    const liveAgain = async (what: string) => {
      await waitFor(() => subscribers('private-ada') === 1 && inbox.notifications.length === pushed.length, `the client to be live again and hold ${pushed.length} (${what})`, 8_000);
    };

    // Live, then closed by the server (4200: pusher-js reconnects at once) in the middle of a burst.
    await push(20);
    const burst = push(20);
    await sleep(5);
    assert.equal(closeFromServer(Errors.shuttingDown()), 1, 'the client had no connection to close');
    await burst;
    await liveAgain('after a 4200 close');

    // The network goes silent: both sides notice through their activity timeouts, nothing is closed by the proxy.
    proxy.pause();
    await push(30);
    await waitFor(() => subscribers('private-ada') === 0, 'the server to drop the silent connection', 5_000);
    await sleep(1_200); // pusher-js's own pong timeout (1 s) runs out too and it tries again into the black hole
    assert.equal(inbox.notifications.length, 40, 'nothing can arrive through a paused network');
    proxy.resume();
    await push(20);
    await liveAgain('after a silent network');

    // A close code that means "back off, then reconnect" (4100), pushing while it waits.
    assert.equal(closeFromServer(Errors.overCapacity()), 1);
    await push(30);
    await liveAgain('after a 4100 close');

    // The network resets: every socket is killed, including HTTP requests in flight.
    const resetBurst = push(30);
    await sleep(10);
    proxy.killAll();
    await resetBurst;
    await liveAgain('after a reset');

    // Silent for a moment, then reset while silent (the half-open sockets never come back).
    // Short of pusher-js's own detection (1 s idle + 1 s pong): a connection attempt killed
    // half-way would wait out pusher-js's 15 s attempt timer.
    proxy.pause();
    await push(20);
    await sleep(200);
    proxy.killAll();
    proxy.resume();
    await push(30);

    assert.equal(pushed.length, 200);
    await liveAgain('after a reset while silent');
    await sleep(300); // nothing more may arrive: no duplicate, no extra
    assertExactly(inbox.notifications, pushed);
    assert.equal(inbox.pendingNotificationsCount, 200);
    assert.ok(proxy.accepted - acceptedAtStart >= 5, `expected a reconnect through the proxy after each cut, saw ${proxy.accepted - acceptedAtStart} connections`);
    assert.ok(errors.every((e) => e.startsWith('HeraldNetworkError')), `unexpected errors: ${errors.join('; ')}`);
  });

  it('shows the 30 notifications pushed while no client existed', { timeout: 10_000 }, async () => {
    const first = pool.create('grace');
    await first.init();
    const before = await pushMany(harness, 'grace', 2, 'before');
    await waitFor(() => first.notifications.length === 2, 'the first client to hold 2');
    await first.dispose();

    const offline = await pushMany(harness, 'grace', 30, 'offline');
    const next = pool.create('grace', { pageSize: 30 });
    await next.init();
    assertExactly(next.notifications, [...before, ...offline].slice(-30));
    assert.equal(next.pendingNotificationsCount, 32);
    assert.equal(next.hasMore, true);
    await next.loadMore();
    assertExactly(next.notifications, [...before, ...offline]);
    assert.equal(next.hasMore, false);
    assert.equal(next.pendingNotificationsCount, 32);
  });

  it('loads a first page of 30 for a user who was never online', { timeout: 10_000 }, async () => {
    const offline = await pushMany(harness, 'hopper', 30, 'offline');
    const inbox = pool.create('hopper', { pageSize: 50 });
    await inbox.init();
    assertExactly(inbox.notifications, offline);
    assert.equal(inbox.pendingNotificationsCount, 30);
    assert.equal(inbox.hasMore, false);
  });

  it('catches up on subscribe() what was pushed after unsubscribe()', { timeout: 10_000 }, async () => {
    const inbox = pool.create('ivy');
    await inbox.init();
    const live = await pushMany(harness, 'ivy', 2, 'live');
    await waitFor(() => inbox.notifications.length === 2, 'the live ones');
    await inbox.unsubscribe();
    await waitFor(() => subscribers('private-ivy') === 0, 'the server to see the unsubscription');
    const missed = await pushMany(harness, 'ivy', 3, 'missed');
    await sleep(100);
    assert.equal(inbox.notifications.length, 2, 'nothing arrives while unsubscribed');
    await inbox.subscribe();
    assertExactly(inbox.notifications, [...live, ...missed]);
    assert.equal(inbox.pendingNotificationsCount, 5);
    const [after] = await pushMany(harness, 'ivy', 1, 'live again');
    await waitFor(() => inbox.notifications.length === 6, 'live again after subscribe()');
    assertExactly(inbox.notifications, [...live, ...missed, after]);
    assert.equal(inbox.pendingNotificationsCount, 6);
  });
});
