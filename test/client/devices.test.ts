/**
 * InboxClient state across devices and optimistic opens: two clients of one user stay in sync
 * through opens and deletes, and an open the server refuses (or never answers) is rolled back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldError, HeraldNetworkError, HeraldRequestError, type InboxClient } from '../../src/client/index.js';
import { assertExactly, clientSuite, pushMany } from '../helpers/inbox-client.js';
import { backendCaller, sdkPush } from '../helpers/inbox.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { Errors } from '../../src/protocol/errors.js';
import { sleep, waitFor } from '../helpers/wait.js';

const openedIds = (inbox: InboxClient) => inbox.notifications.filter((n) => n.opened).map((n) => n.id);

describe('InboxClient across devices', () => {
  const suite = clientSuite();

  it('keeps two clients of one user in sync through markOpened, markAllOpened and remove', { timeout: 10_000 }, async () => {
    const phone = suite.pool.create('lin');
    const laptop = suite.pool.create('lin');
    await Promise.all([phone.init(), laptop.init()]);
    const ids = await pushMany(suite.harness, 'lin', 4, 'hello');
    await waitFor(() => phone.notifications.length === 4 && laptop.notifications.length === 4, 'both clients to hold 4');
    assert.equal(phone.pendingNotificationsCount, 4);
    assert.equal(laptop.pendingNotificationsCount, 4);

    // One opened on the phone: at once there, and on the laptop through the server's event.
    const opening = phone.markOpened([ids[0]]);
    assert.deepEqual(openedIds(phone), [ids[0]], 'the phone shows it opened before the server answers');
    assert.equal(phone.pendingNotificationsCount, 3);
    await opening;
    await waitFor(() => laptop.pendingNotificationsCount === 3 && openedIds(laptop).length === 1, 'the laptop to see the open');
    assert.deepEqual(openedIds(laptop), [ids[0]]);
    assert.equal(phone.pendingNotificationsCount, 3);

    // Everything opened on the laptop.
    await laptop.markAllOpened();
    assert.equal(laptop.pendingNotificationsCount, 0);
    await waitFor(() => phone.pendingNotificationsCount === 0 && openedIds(phone).length === 4, 'the phone to see all opened');

    // Two more arrive; one is removed on the phone, the laptop drops it too.
    const more = await pushMany(suite.harness, 'lin', 2, 'more');
    await waitFor(() => phone.pendingNotificationsCount === 2 && laptop.pendingNotificationsCount === 2, 'both to count 2 new ones');
    await phone.remove(more[0]);
    assertExactly(phone.notifications, [...ids, more[1]]);
    assert.equal(phone.pendingNotificationsCount, 1);
    await waitFor(() => laptop.notifications.length === 5 && laptop.pendingNotificationsCount === 1, 'the laptop to drop the removed one');
    assertExactly(laptop.notifications, [...ids, more[1]]);

    // An opened one removed: the count stays.
    await laptop.remove(ids[1]);
    await waitFor(() => phone.notifications.length === 4, 'the phone to drop the removed opened one');
    assert.equal(phone.pendingNotificationsCount, 1);
    assert.equal(laptop.pendingNotificationsCount, 1);

    // Removing it again is a 404, typed.
    await assert.rejects(laptop.remove(ids[1]), (error: unknown) => error instanceof HeraldRequestError && error.status === 404);
  });

  it('takes opens and deletes made on another device while it was away', { timeout: 10_000 }, async () => {
    const phone = suite.pool.create('pat', { pageSize: 5 });
    const laptop = suite.pool.create('pat');
    await Promise.all([phone.init(), laptop.init()]);
    const ids = await pushMany(suite.harness, 'pat', 8, 'away');
    await waitFor(() => phone.notifications.length === 8 && laptop.notifications.length === 8, 'both to hold 8');

    await phone.unsubscribe();
    await laptop.markOpened([ids[7], ids[5]]);
    await laptop.remove(ids[6]);
    await laptop.remove(ids[1]); // older than the phone's page of 5: the change feed tells of it too
    const [newer] = await pushMany(suite.harness, 'pat', 1, 'while away');
    await phone.subscribe();

    await waitFor(() => phone.notifications.length === 7, 'the change feed applied');
    assertExactly(phone.notifications, [ids[0], ids[2], ids[3], ids[4], ids[5], ids[7], newer]);
    assert.deepEqual(openedIds(phone).sort(), [ids[5], ids[7]].sort());
    assert.equal(phone.pendingNotificationsCount, 5);
    assert.equal(laptop.pendingNotificationsCount, 5);
  });

  it('applies an open made by another device while it was catching up after a reconnect', { timeout: 10_000 }, async () => {
    // With 200 ms each way, the catch-up after the reconnect takes ~1 s: the count is fetched
    // first, so an open made after it reaches the client only as a live event, held back in the
    // buffer until the catch-up ends, then replayed.
    const latency = 200;
    const proxy = await TcpProxy.start(suite.harness.port);
    try {
      const inbox = suite.pool.create('ora', { port: proxy.port });
      await inbox.init();
      const ids = await pushMany(suite.harness, 'ora', 3, 'buffered');
      await waitFor(() => inbox.pendingNotificationsCount === 3, 'count 3');

      proxy.latencyMs = latency;
      const channel = () => suite.harness.server.realtime.hubOf(suite.harness.app.id)?.channels.get('private-ora')?.subscribers;
      for (const connection of channel() ?? []) connection.close(Errors.shuttingDown());
      await waitFor(() => (channel()?.size ?? 0) === 0, 'the old connection to go');
      await waitFor(() => (channel()?.size ?? 0) === 1, 'the client to subscribe again', 5_000);
      // subscription_succeeded reaches the client after 1 latency; its count request reaches the
      // server after 2, its catch-up page request after 4: open in the middle, after 3.
      await sleep(3 * latency);
      const opened = await backendCaller(suite.harness)<{ unread: number }>('POST', '/users/ora/notifications/open', { ids: [ids[0]] });
      assert.equal(opened.body.unread, 2);
      await waitFor(() => inbox.pendingNotificationsCount === 2 && openedIds(inbox).length === 1, 'the open to show on the client', 5_000);
      assert.deepEqual(openedIds(inbox), [ids[0]]);
      await sleep(2 * latency);
      assert.equal(inbox.pendingNotificationsCount, 2);
    } finally {
      await proxy.close();
    }
  });

  it('records a button press, and rejects one of a button the notification does not have', { timeout: 10_000 }, async () => {
    const inbox = suite.pool.create('ned');
    await inbox.init();
    const answer = await sdkPush(suite.harness.backend(), { user_ids: ['ned'], notification: { content: 'Your order shipped', buttons: [{ id: 'track', text: 'Track' }] } });
    const id = answer.notifications[0].id;
    await waitFor(() => inbox.notifications.length === 1, 'the notification');
    assert.deepEqual(inbox.notifications[0].buttons, [{ id: 'track', text: 'Track', icon: null }]);
    await inbox.pressButton(id, 'track');
    await assert.rejects(inbox.pressButton(id, 'no-such-button'), (error: unknown) => error instanceof HeraldRequestError && error.status === 404);
  });

  it('rolls markOpened back when the server refuses it, and rejects with a typed error also sent to errors', { timeout: 10_000 }, async () => {
    const inbox = suite.pool.create('max');
    await inbox.init();
    const ids = await pushMany(suite.harness, 'max', 3, 'refused');
    await waitFor(() => inbox.pendingNotificationsCount === 3, 'count 3');
    const errors: HeraldError[] = [];
    inbox.errors.listen((error) => errors.push(error));
    const counts: number[] = [];
    inbox.pendingNotificationsCountStream.listen((n) => counts.push(n));

    // The server validates every id (at most 128 characters): a real 400 for the whole call.
    const opening = inbox.markOpened([ids[0], ids[1], 'x'.repeat(129)]);
    assert.deepEqual(openedIds(inbox).sort(), [ids[0], ids[1]].sort(), 'optimistic: shown opened at once');
    assert.equal(inbox.pendingNotificationsCount, 1);
    await assert.rejects(opening, (error: unknown) => error instanceof HeraldRequestError && error.status === 400 && error.code === 'bad_request');
    assert.deepEqual(openedIds(inbox), [], 'rolled back: nothing opened');
    assert.equal(inbox.pendingNotificationsCount, 3);
    assert.deepEqual(counts, [3, 1, 3]);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof HeraldRequestError);

    // The server still has them unread, and a good open afterwards works.
    await inbox.markOpened([ids[2]]);
    assert.equal(inbox.pendingNotificationsCount, 2);
    assert.deepEqual(openedIds(inbox), [ids[2]]);
  });

  it('rolls markOpened and markAllOpened back when the network does not answer', { timeout: 10_000 }, async () => {
    const proxy = await TcpProxy.start(suite.harness.port);
    try {
      const inbox = suite.pool.create('kim', { port: proxy.port, requestTimeoutMs: 500 });
      await inbox.init();
      const ids = await pushMany(suite.harness, 'kim', 2, 'silent');
      await waitFor(() => inbox.pendingNotificationsCount === 2, 'count 2');
      const errors: HeraldError[] = [];
      inbox.errors.listen((error) => errors.push(error));

      proxy.pause();
      const started = Date.now();
      const opening = inbox.markOpened([ids[1]]);
      assert.equal(inbox.pendingNotificationsCount, 1);
      await assert.rejects(opening, HeraldNetworkError);
      assert.ok(Date.now() - started < 3_000, 'the request deadline ended it');
      assert.deepEqual(openedIds(inbox), []);
      assert.equal(inbox.pendingNotificationsCount, 2);

      const openingAll = inbox.markAllOpened();
      assert.equal(inbox.pendingNotificationsCount, 0);
      assert.equal(openedIds(inbox).length, 2);
      await assert.rejects(openingAll, HeraldNetworkError);
      assert.deepEqual(openedIds(inbox), []);
      assert.equal(inbox.pendingNotificationsCount, 2);
      assert.ok(errors.filter((e) => e instanceof HeraldNetworkError).length >= 2);

      proxy.resume();
      proxy.killAll(); // the black-holed sockets are gone for good
      await inbox.markAllOpened();
      assert.equal(inbox.pendingNotificationsCount, 0);
    } finally {
      await proxy.close();
    }
  });
});
