/**
 * The admin API behind /dashboard over plain HTTP: who gets in (admin token, app id + secret,
 * nobody else), what it answers (overview, channels, presence members, the event console, send
 * event, inbox browser), and the demo endpoints existing only while the demo is on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig, ConfigError } from '../../src/config/server-config.js';
import { connected, sdkChannelAuth, subscribed } from '../helpers/auth.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { countsOf, tokenCall, tokenFor, userCaller, type ListAnswer } from '../helpers/inbox.js';
import { once, waitFor } from '../helpers/wait.js';
import { ADMIN_TOKEN, adminCall, basic, bearer, openConsole } from './admin-helpers.js';

const OTHER_APP = { id: 'other-app', key: 'other-key', secret: 'other-secret' };

describe('admin API', { timeout: 30_000 }, () => {
  let harness: Harness;
  const asApp = basic(TEST_APP.id, TEST_APP.secret);
  const asAdmin = bearer(ADMIN_TOKEN);

  before(async () => {
    harness = await startHarness({ apps: [TEST_APP, OTHER_APP], deps: { dashboard: { adminToken: ADMIN_TOKEN } } });
  });
  after(() => harness.close());

  const call = <T = Record<string, unknown>>(authorization: string | null, method: 'GET' | 'POST', path: string, body?: unknown) =>
    adminCall<T>(harness.baseUrl, authorization, method, path, body);

  it('refuses requests without credentials (401), with a wrong secret or token (401), and another app (403)', async () => {
    const overview = `/admin/apps/${TEST_APP.id}/overview`;
    for (const path of ['/admin/session', overview, `/admin/apps/${TEST_APP.id}/channels`, `/admin/apps/${TEST_APP.id}/stream`, `/admin/apps/${TEST_APP.id}/users/u1/notifications`]) {
      const reply = await call(null, 'GET', path);
      assert.equal(reply.status, 401, `${path} without credentials`);
      assert.match(String(reply.body.error), /Authorization/);
    }
    assert.equal((await call(null, 'POST', `/admin/apps/${TEST_APP.id}/events`, { name: 'e', channel: 'c', data: '{}' })).status, 401);
    assert.equal((await call(basic(TEST_APP.id, 'wrong-secret'), 'GET', overview)).status, 401, 'wrong secret');
    assert.equal((await call(basic(TEST_APP.id, ''), 'GET', overview)).status, 401, 'empty secret');
    assert.equal((await call(basic('no-such-app', TEST_APP.secret), 'GET', overview)).status, 401, 'unknown app id');
    assert.equal((await call(bearer('not-the-admin-token'), 'GET', overview)).status, 401, 'wrong admin token');
    assert.equal((await call('Basic !!!', 'GET', overview)).status, 401, 'malformed basic credentials');
    assert.equal((await call(`Token ${ADMIN_TOKEN}`, 'GET', overview)).status, 401, 'unknown scheme');
    // Another app's valid credentials reach that app only.
    const other = basic(OTHER_APP.id, OTHER_APP.secret);
    assert.equal((await call(other, 'GET', overview)).status, 403);
    assert.equal((await call(other, 'POST', `/admin/apps/${TEST_APP.id}/events`, { name: 'e', channel: 'c', data: '{}' })).status, 403);
    assert.equal((await call(other, 'GET', `/admin/apps/${OTHER_APP.id}/overview`)).status, 200);
    // An app's secret does not pass as the admin token.
    assert.equal((await call(bearer(TEST_APP.secret), 'GET', overview)).status, 401);
  });

  it('lets the admin token reach every app and an app reach itself', async () => {
    const adminSession = await call<{ scope: string; apps: { id: string }[] }>(asAdmin, 'GET', '/admin/session');
    assert.equal(adminSession.status, 200);
    assert.equal(adminSession.body.scope, 'admin');
    assert.deepEqual(adminSession.body.apps.map((app) => app.id), [TEST_APP.id, OTHER_APP.id]);
    const appSession = await call<{ scope: string; apps: { id: string }[] }>(asApp, 'GET', '/admin/session');
    assert.equal(appSession.body.scope, 'app');
    assert.deepEqual(appSession.body.apps.map((app) => app.id), [TEST_APP.id]);
    for (const appId of [TEST_APP.id, OTHER_APP.id]) assert.equal((await call(asAdmin, 'GET', `/admin/apps/${appId}/overview`)).status, 200);
    assert.equal((await call(asAdmin, 'GET', '/admin/apps/no-such-app/overview')).status, 404);
  });

  it('answers the overview: connections, channels, events per second, node rates for the admin only', async () => {
    const client = harness.client();
    await connected(client);
    await subscribed(client, 'overview-news');
    await waitFor(() => harness.server.admin!.connectionsOf(TEST_APP.id) === 1, 'the connection counted');
    await harness.backend().trigger('overview-news', 'tick', { n: 1 });
    const reply = await call<{
      connections: number;
      channels: number;
      totals: { connections_opened: number; events_published: number };
      series: { t: number[]; connections: number[]; events: number[] };
      node?: unknown;
    }>(asApp, 'GET', `/admin/apps/${TEST_APP.id}/overview`);
    assert.equal(reply.status, 200);
    assert.equal(reply.body.connections, 1);
    assert.equal(reply.body.channels, 1);
    assert.ok(reply.body.totals.connections_opened >= 1);
    assert.ok(reply.body.totals.events_published >= 1);
    assert.equal(reply.body.series.t.length, reply.body.series.connections.length);
    assert.equal(reply.body.node, undefined, 'app credentials do not see node-wide figures');
    const asOperator = await call<{ node?: { connections: number } }>(asAdmin, 'GET', `/admin/apps/${TEST_APP.id}/overview`);
    assert.equal(asOperator.body.node?.connections, 1);
    client.disconnect();
    await waitFor(() => harness.server.admin!.connectionsOf(TEST_APP.id) === 0, 'the disconnection counted');
  });

  it('lists channels by prefix with counts, and a presence channel’s members', async () => {
    const backend = harness.backend();
    const ann = harness.client({ channelAuthorization: sdkChannelAuth(backend, { user_id: 'ann', user_info: { name: 'Ann' } }) });
    const bob = harness.client({ channelAuthorization: sdkChannelAuth(backend, { user_id: 'bob' }) });
    await subscribed(ann, 'presence-room');
    await subscribed(bob, 'presence-room');
    await subscribed(ann, 'list-a');
    await subscribed(bob, 'list-a');
    await subscribed(bob, 'list-b');
    const reply = await call<{ channels: { name: string; type: string; subscription_count: number; user_count: number | null }[]; total: number }>(
      asApp,
      'GET',
      `/admin/apps/${TEST_APP.id}/channels?prefix=list-`,
    );
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.channels.map((c) => [c.name, c.type, c.subscription_count, c.user_count]), [
      ['list-a', 'public', 2, null],
      ['list-b', 'public', 1, null],
    ]);
    assert.equal(reply.body.total, 2);
    const limited = await call<{ channels: unknown[]; total: number }>(asApp, 'GET', `/admin/apps/${TEST_APP.id}/channels?prefix=list-&limit=1`);
    assert.equal(limited.body.channels.length, 1);
    assert.equal(limited.body.total, 2);
    const presence = await call<{ channels: { name: string; type: string; user_count: number | null }[] }>(asApp, 'GET', `/admin/apps/${TEST_APP.id}/channels?prefix=presence-`);
    assert.deepEqual(presence.body.channels.map((c) => [c.name, c.type, c.user_count]), [['presence-room', 'presence', 2]]);
    const members = await call<{ members: { id: string; info: unknown }[] }>(asApp, 'GET', `/admin/apps/${TEST_APP.id}/channels/presence-room/members`);
    assert.deepEqual(members.body.members.sort((a, b) => a.id.localeCompare(b.id)), [
      { id: 'ann', info: { name: 'Ann' } },
      { id: 'bob', info: null },
    ]);
    assert.equal((await call(asApp, 'GET', `/admin/apps/${TEST_APP.id}/channels/list-a/members`)).status, 400);
    assert.equal((await call(asApp, 'GET', `/admin/apps/${TEST_APP.id}/channels?limit=0`)).status, 400);
    ann.disconnect();
    bob.disconnect();
  });

  it('streams the console: connections, subscriptions, members, client events and triggered events', async () => {
    const stream = await openConsole(harness.baseUrl, asApp, TEST_APP.id);
    try {
      assert.equal(stream.status, 200);
      assert.match(stream.contentType, /^text\/event-stream/);
      const backend = harness.backend();
      const client = harness.client({ channelAuthorization: sdkChannelAuth(backend, { user_id: 'cleo' }) });
      const socketId = await connected(client);
      await stream.waitFor((line) => line.type === 'connection_opened' && line.socket_id === socketId, 'connection_opened');
      const channel = await subscribed(client, 'presence-console');
      await stream.waitFor((line) => line.type === 'channel_occupied' && line.channel === 'presence-console', 'channel_occupied');
      await stream.waitFor((line) => line.type === 'member_added' && line.user_id === 'cleo', 'member_added');
      channel.trigger('client-wave', { hi: true });
      await stream.waitFor((line) => line.type === 'client_event' && line.event === 'client-wave' && line.data === '{"hi":true}', 'client_event');
      await backend.trigger('presence-console', 'announcement', { text: 'hello' });
      const published = await stream.waitFor((line) => line.type === 'event_published' && line.event === 'announcement', 'event_published');
      assert.equal(published.channel, 'presence-console');
      assert.deepEqual(JSON.parse(published.data!), { text: 'hello' });
      // Another app's events stay out of this app's console.
      await harness.backend(harness.apps[1]).trigger('elsewhere', 'secret-event', {});
      client.disconnect();
      await stream.waitFor((line) => line.type === 'connection_closed' && line.socket_id === socketId, 'connection_closed');
      assert.ok(!stream.lines.some((line) => line.event === 'secret-event'));
    } finally {
      stream.close();
    }
  });

  it('sends an event like POST /events, validated the same way', async () => {
    const client = harness.client();
    const channel = await subscribed(client, 'send-here');
    const received = once<unknown>((done) => channel.bind('from-dashboard', done), 'the event sent from the dashboard');
    const reply = await call(asApp, 'POST', `/admin/apps/${TEST_APP.id}/events`, { name: 'from-dashboard', channels: ['send-here'], data: '{"ok":1}' });
    assert.equal(reply.status, 200);
    assert.deepEqual(await received, { ok: 1 });
    const bad = await call(asApp, 'POST', `/admin/apps/${TEST_APP.id}/events`, { name: 'x', channels: ['bad channel'], data: '' });
    assert.equal(bad.status, 400);
    assert.equal((await call(asApp, 'POST', `/admin/apps/${TEST_APP.id}/events`, { channels: ['send-here'], data: '' })).status, 400);
    client.disconnect();
  });

  it('browses a user’s inbox: pushes a test notification, counts, pages', async () => {
    const base = `/admin/apps/${TEST_APP.id}`;
    for (const content of ['first', 'second', 'third']) {
      const pushed = await call<{ notifications: { user_id: string }[] }>(asAdmin, 'POST', `${base}/notifications`, { user_ids: ['dora'], notification: { heading: 'Test', content } });
      assert.equal(pushed.status, 200);
      assert.equal(pushed.body.notifications[0].user_id, 'dora');
    }
    const count = await call<{ unread: number; total: number }>(asApp, 'GET', `${base}/users/dora/notifications/count`);
    assert.deepEqual([count.body.unread, count.body.total], [3, 3]);
    const page1 = await call<ListAnswer>(asApp, 'GET', `${base}/users/dora/notifications?limit=2`);
    assert.deepEqual(page1.body.notifications.map((n) => n.content), ['third', 'second']);
    assert.equal(page1.body.has_more, true);
    const page2 = await call<ListAnswer>(asApp, 'GET', `${base}/users/dora/notifications?limit=2&before_seq=${page1.body.notifications[1].seq}`);
    assert.deepEqual(page2.body.notifications.map((n) => n.content), ['first']);
    assert.equal(page2.body.has_more, false);
    // The user sees the same inbox through the public routes.
    assert.deepEqual(await countsOf(userCaller(harness, await tokenFor(harness.app, 'dora')), 'dora'), { unread: 3, total: 3 });
    assert.equal((await call(asApp, 'POST', `${base}/notifications`, { user_ids: ['dora'], notification: {} })).status, 400);
  });
});

describe('admin API without an admin token', { timeout: 15_000 }, () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ apps: [TEST_APP] });
  });
  after(() => harness.close());

  it('refuses every bearer token and still takes the app secret', async () => {
    const reply = await adminCall(harness.baseUrl, bearer(ADMIN_TOKEN), 'GET', '/admin/session');
    assert.equal(reply.status, 401);
    assert.match(String(reply.body.error), /No admin token is configured/);
    assert.equal((await adminCall(harness.baseUrl, bearer(''), 'GET', '/admin/session')).status, 401);
    assert.equal((await adminCall(harness.baseUrl, basic(TEST_APP.id, TEST_APP.secret), 'GET', '/admin/session')).status, 200);
  });

  it('serves the dashboard page itself without credentials, and no demo', async () => {
    const page = await fetch(`${harness.baseUrl}/dashboard`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    const script = /src="(\/dashboard\/app-[A-Z0-9]+\.js)"/.exec(html);
    assert.ok(script, 'index.html names its hashed script');
    const asset = await fetch(`${harness.baseUrl}${script[1]}`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    await asset.arrayBuffer();
    for (const path of ['/dashboard/..%2Fpackage.json', '/dashboard/nope.js', '/dashboard/.hidden.js']) {
      const missing = await fetch(`${harness.baseUrl}${path}`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(missing.status, 404, path);
      await missing.arrayBuffer();
    }
  });

  it('has no /demo and no demo endpoints when the demo is off', async () => {
    for (const [method, path] of [
      ['GET', '/demo'],
      ['GET', '/demo/'],
      ['POST', '/demo/token'],
      ['POST', '/demo/push'],
    ] as const) {
      const reply = await adminCall(harness.baseUrl, null, method, path, method === 'POST' ? { user_id: 'alice' } : undefined);
      assert.equal(reply.status, 404, `${method} ${path}`);
    }
  });

  it('ends console streams when the server closes, without holding the shutdown', async () => {
    const stream = await openConsole(harness.baseUrl, basic(TEST_APP.id, TEST_APP.secret), TEST_APP.id);
    assert.equal(stream.status, 200);
    const started = Date.now();
    await harness.close();
    await stream.ended;
    assert.ok(Date.now() - started < 3_000, `closed in ${Date.now() - started} ms`);
  });
});

describe('demo endpoints', { timeout: 15_000 }, () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ apps: [TEST_APP, OTHER_APP], deps: { demo: true } });
  });
  after(() => harness.close());

  it('serves /demo and signs demo user tokens for the demo app', async () => {
    const page = await fetch(`${harness.baseUrl}/demo`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<div id="app">/);
    const reply = await adminCall<{ token: string; user_id: string; app_id: string; app_key: string; channel: string; event: string }>(harness.baseUrl, null, 'POST', '/demo/token', { user_id: 'alice' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.user_id, 'demo-alice');
    assert.equal(reply.body.app_id, TEST_APP.id, 'the first app when no app uses the default secret');
    assert.equal(reply.body.app_key, TEST_APP.key);
    assert.equal(reply.body.channel, 'private-demo-alice');
    assert.equal(reply.body.event, 'Internal Notification');
    const list = await tokenCall(harness.baseUrl, TEST_APP.id, reply.body.token, 'GET', '/users/demo-alice/notifications');
    assert.equal(list.status, 200);
    // The token is a demo user's: it opens no one else's inbox.
    assert.equal((await tokenCall(harness.baseUrl, TEST_APP.id, reply.body.token, 'GET', '/users/alice/notifications')).status, 403);
    for (const bad of ['', 'a b', 'x'.repeat(41), 42, '../x']) {
      assert.equal((await adminCall(harness.baseUrl, null, 'POST', '/demo/token', { user_id: bad })).status, 400, JSON.stringify(bad));
    }
  });

  it('pushes on a demo user’s behalf, to demo users only', async () => {
    const { body } = await adminCall<{ token: string }>(harness.baseUrl, null, 'POST', '/demo/token', { user_id: 'demo-erin' });
    const push = (authorization: string | null, payload: unknown) => adminCall<{ notifications: { user_id: string }[] }>(harness.baseUrl, authorization, 'POST', '/demo/push', payload);
    const sent = await push(bearer(body.token), { to: ['frank', 'demo-erin'], notification: { content: 'hi from erin' } });
    assert.equal(sent.status, 200);
    assert.deepEqual(sent.body.notifications.map((n) => n.user_id).sort(), ['demo-erin', 'demo-frank']);
    const frank = await tokenCall<ListAnswer>(harness.baseUrl, TEST_APP.id, (await adminCall<{ token: string }>(harness.baseUrl, null, 'POST', '/demo/token', { user_id: 'frank' })).body.token, 'GET', '/users/demo-frank/notifications');
    assert.equal(frank.body.notifications[0].content, 'hi from erin');
    assert.equal(frank.body.notifications[0].sender_id, 'demo-erin');
    assert.equal((await push(null, { notification: { content: 'x' } })).status, 401);
    assert.equal((await push(bearer('not.a.token'), { notification: { content: 'x' } })).status, 401);
    // A real user's token of the same app does not push from the demo.
    const realToken = await tokenFor(harness.app, 'real-user');
    assert.equal((await push(bearer(realToken), { notification: { content: 'x' } })).status, 403);
    assert.equal((await push(bearer(body.token), { to: ['has space'], notification: { content: 'x' } })).status, 400);
    assert.equal((await push(bearer(body.token), { to: [], notification: { content: 'x' } })).status, 400);
    assert.equal((await push(bearer(body.token), { notification: { content: '' } })).status, 400);
  });
});

describe('dashboard and demo settings', () => {
  it('turns the demo on by default only with the default credentials', () => {
    assert.equal(loadConfig({}).demo, true);
    assert.equal(loadConfig({ demo: 'false' }).demo, false);
    assert.equal(loadConfig({ appSecret: 'a-real-secret' }).demo, false);
    assert.equal(loadConfig({ appSecret: 'a-real-secret', demo: true }).demo, true);
    assert.equal(loadConfig({}).adminToken, null);
    assert.equal(loadConfig({ adminToken: ADMIN_TOKEN }).adminToken, ADMIN_TOKEN);
    assert.throws(() => loadConfig({ adminToken: 'short' }), (error: unknown) => error instanceof ConfigError && /HERALD_ADMIN_TOKEN/.test(error.message));
  });
});
