/**
 * InboxClient tokens and permissions: a token function is asked again when its token expires or
 * is refused (and when it fails once), a bad string token fails init() with HeraldAuthError,
 * and client push follows the app's allow_client_push.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldAuthError, HeraldError, InboxClient } from '../../src/client/index.js';
import { signUserToken } from '../../src/inbox/user-tokens.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { ClientPool, pushMany } from '../helpers/inbox-client.js';
import { Errors } from '../../src/protocol/errors.js';
import { waitFor } from '../helpers/wait.js';

const PUSH_APP = { id: 'push-app', key: 'push-key', secret: 'push-secret', allow_client_push: true };

describe('InboxClient tokens and permissions', () => {
  let harness: Harness;
  let pool: ClientPool;
  // The server and the clients judge token expiry by this clock: a test moves it past an expiry
  // instead of waiting for it.
  let shift = 0;
  const now = () => Date.now() + shift;
  before(async () => {
    harness = await startHarness({ apps: [TEST_APP, PUSH_APP], deps: { now } });
    pool = new ClientPool(harness);
  });
  after(async () => {
    await pool.disposeAll();
    await harness.close();
  });

  /** Closes the server side of every socket subscribed to a user's inbox channel. */
  const closeFromServer = (userId: string): number => {
    const connections = [...(harness.server.realtime.hubOf(harness.app.id)?.channels.get(`private-${userId}`)?.subscribers ?? [])];
    for (const connection of connections) connection.close(Errors.shuttingDown());
    return connections.length;
  };

  it('asks token() again once its token has expired, and carries on', { timeout: 25_000 }, async () => {
    const issued: number[] = [];
    // A token is refreshed halfway through its life: a minute leaves a loaded machine ample time
    // for the steps before the clock is moved past its expiry.
    const token = async () => {
      issued.push(issued.length === 0 ? 60 : 3600);
      return signUserToken({ appSecret: TEST_APP.secret, userId: 'eve', expiresInSeconds: issued[issued.length - 1] - Math.ceil(shift / 1000) });
    };
    const inbox = pool.create('eve', { token, now });
    await inbox.init();
    assert.equal(issued.length, 1);
    const [first] = await pushMany(harness, 'eve', 1, 'before expiry');
    await waitFor(() => inbox.notifications.length === 1, 'the first notification');
    await inbox.markOpened([first]);
    assert.equal(issued.length, 1, 'a token with time left is reused');

    shift += 60_200; // the first token has expired
    const [second] = await pushMany(harness, 'eve', 1, 'after expiry');
    await waitFor(() => inbox.notifications.length === 2, 'a live notification after expiry');
    await inbox.markOpened([second]);
    assert.equal(issued.length, 2, 'one fresh token for the request after expiry');
    assert.equal(inbox.pendingNotificationsCount, 0);

    // A reconnect authorises the channel again, with the fresh token; nothing new is asked.
    assert.equal(closeFromServer('eve'), 1);
    const [third] = await pushMany(harness, 'eve', 1, 'across a reconnect');
    await waitFor(() => inbox.notifications.length === 3 && inbox.pendingNotificationsCount === 1, 'the notification pushed across the reconnect');
    assert.equal(inbox.notifications[0].id, third);
    await inbox.loadMore();
    assert.equal(issued.length, 2);
  });

  it('asks token() again when the server refuses a token that looked fine', { timeout: 10_000 }, async () => {
    let calls = 0;
    const token = async () => {
      calls++;
      // The first one is signed with the wrong secret: the client cannot tell, the server says 401.
      return signUserToken({ appSecret: calls === 1 ? 'not-the-secret' : TEST_APP.secret, userId: 'fay' });
    };
    const inbox = pool.create('fay', { token });
    await inbox.init();
    assert.equal(calls, 2);
    await pushMany(harness, 'fay', 1);
    await waitFor(() => inbox.pendingNotificationsCount === 1, 'a live notification');
    assert.equal(calls, 2);
  });

  it('retries the subscription when token() fails once during a reconnect', { timeout: 15_000 }, async () => {
    let calls = 0;
    const token = async () => {
      calls++;
      if (calls === 2) throw new Error('the app backend is briefly down');
      return signUserToken({ appSecret: TEST_APP.secret, userId: 'gus', expiresInSeconds: (calls === 1 ? 60 : 3600) - Math.ceil(shift / 1000) });
    };
    const inbox = pool.create('gus', { token, now });
    const errors: HeraldError[] = [];
    inbox.errors.listen((error) => errors.push(error));
    await inbox.init();
    shift += 60_100; // expired: the reconnect needs a new token, and token() fails the first time
    assert.equal(closeFromServer('gus'), 1);
    await pushMany(harness, 'gus', 1, 'during the outage');
    await waitFor(() => inbox.notifications.length === 1, 'the catch-up after the retried subscription', 6_000);
    assert.equal(calls, 3);
    assert.ok(errors.some((e) => e instanceof HeraldAuthError && e.message.includes('briefly down')), 'the failure was reported');
    await pushMany(harness, 'gus', 1, 'live again');
    await waitFor(() => inbox.notifications.length === 2 && inbox.pendingNotificationsCount === 2, 'live again');
  });

  it('rejects init() with HeraldAuthError for an invalid string token, and for another user\'s token', { timeout: 10_000 }, async () => {
    const invalid = pool.create('hal', { token: 'not-a-jwt' });
    const errors: HeraldError[] = [];
    invalid.errors.listen((error) => errors.push(error));
    await assert.rejects(invalid.init(), (error: unknown) => error instanceof HeraldAuthError && error.status === 401);
    assert.equal(errors.length, 1, 'reported once');

    const expired = pool.create('hal', { token: await signUserToken({ appSecret: TEST_APP.secret, userId: 'hal', expiresInSeconds: -10 }) });
    await assert.rejects(expired.init(), (error: unknown) => error instanceof HeraldAuthError && error.status === 401);

    const stranger = pool.create('hal', { token: await signUserToken({ appSecret: TEST_APP.secret, userId: 'not-hal' }) });
    await assert.rejects(stranger.init(), (error: unknown) => error instanceof HeraldAuthError && error.status === 403);
  });

  it('rejects init() at once for an unknown app key, not at the timeout', { timeout: 10_000 }, async () => {
    const inbox = pool.create('ian', { appKey: 'no-such-key', initTimeoutMs: 8_000 });
    const started = Date.now();
    await assert.rejects(inbox.init(), (error: unknown) => error instanceof HeraldError && error.code === '4001');
    assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
  });

  it('lets init() be called again after it failed, and shares one init between callers', { timeout: 10_000 }, async () => {
    let good = false;
    const inbox = pool.create('jo', { token: async () => signUserToken({ appSecret: good ? TEST_APP.secret : 'wrong', userId: 'jo' }) });
    await assert.rejects(inbox.init(), HeraldAuthError);
    good = true;
    await pushMany(harness, 'jo', 2);
    const [a, b] = [inbox.init(), inbox.init()];
    await Promise.all([a, b]);
    assert.equal(inbox.notifications.length, 2, 'both callers resumed after the first sync');
    assert.equal(inbox.pendingNotificationsCount, 2);
  });

  it('pushes from the client when the app allows it, and rejects with HeraldAuthError (403) when not', { timeout: 10_000 }, async () => {
    const pushApp = harness.apps[1];
    const sender = pool.create('kai', { app: pushApp });
    const receiver = pool.create('lou', { app: pushApp });
    await Promise.all([sender.init(), receiver.init()]);
    const rows = await sender.push(['lou'], { content: 'hi from kai', heading: 'Hello' });
    assert.equal(rows.length, 1);
    assert.equal(rows[0].user_id, 'lou');
    await waitFor(() => receiver.notifications.length === 1, 'the pushed notification');
    assert.equal(receiver.notifications[0].id, rows[0].id);
    assert.equal(receiver.notifications[0].sender_id, 'kai');
    assert.equal(receiver.pendingNotificationsCount, 1);

    const denied = pool.create('kai');
    await denied.init();
    const errors: HeraldError[] = [];
    denied.errors.listen((error) => errors.push(error));
    await assert.rejects(denied.push(['lou'], { content: 'not allowed' }), (error: unknown) => error instanceof HeraldAuthError && error.status === 403);
    assert.equal(errors.length, 1);
  });

  it('fails every call after dispose() with HeraldDisposedError, and refuses a page size the server would not serve', async () => {
    const options = { host: '127.0.0.1', port: harness.port, appId: TEST_APP.id, appKey: TEST_APP.key, userId: 'max', token: 'unused' };
    assert.throws(() => new InboxClient({ ...options, pageSize: 501 }), RangeError);
    assert.throws(() => new InboxClient({ ...options, pageSize: 0 }), RangeError);
    const inbox = new InboxClient(options);
    await inbox.dispose();
    await assert.rejects(inbox.init(), { name: 'HeraldDisposedError' });
    await assert.rejects(inbox.markOpened(['x']), { name: 'HeraldDisposedError' });
    await assert.rejects(inbox.push(['x'], { content: 'x' }), { name: 'HeraldDisposedError' });
  });
});
