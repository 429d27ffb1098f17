/**
 * Isolation, against the real server process with several apps: one app's key, secret or user
 * token never reads, writes or subscribes to another app's channels or inbox; a user token reaches
 * only its own inbox; ids that look like SQL, paths or templates are stored and returned verbatim.
 * Also the WebSocket `Origin` allow-list and the per-address connection limit of the apps file.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defineApp, type App } from '../../src/config/apps.js';
import type { NotificationJson } from '../../src/inbox/notification-json.js';
import type { HeraldProcess } from '../helpers/herald-process.js';
import { signedRequest } from '../helpers/http.js';
import { countsOf, listAll, postForm, signedCall, tokenCall, tokenFor, type ListAnswer, type PushAnswer } from '../helpers/inbox.js';
import type { RawClient } from '../helpers/raw-client.js';
import { channelAuth, metricsOf, rawSocket, startWithApps } from './support.js';

const common = { max_backend_events_per_second: null, max_read_requests_per_second: null, client_events: true };
const ALPHA = defineApp({ id: 'alpha', key: 'alpha-key', secret: 'alpha-secret', ...common });
const BETA = defineApp({ id: 'beta', key: 'beta-key', secret: 'beta-secret', ...common });
const GUARDED = { id: 'guarded', key: 'guarded-key', secret: 'guarded-secret', allowed_origins: ['https://good.example', 'http://localhost:3000'], max_connections_per_ip: 3 };
const OPEN = { id: 'open', key: 'open-key', secret: 'open-secret', allowed_origins: ['*'] };
const fileApp = (app: App) => ({ id: app.id, key: app.key, secret: app.secret, ...common });

/** Ids that look like SQL, paths, templates or markup: data, nothing more. */
const NASTY = [
  "'; DROP TABLE notifications; --",
  "' OR '1'='1",
  "Robert'); DROP TABLE user_cursors;--",
  '{userId}',
  '$&',
  "$'",
  '${x}',
  '$1',
  '%s%n%x',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  '../../etc/passwd',
  'a\\b',
  '"quoted"',
  'null',
  'ünï 😀',
];

describe('isolation between apps and users (real process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-hardening-isolation-'));
  const children = new Set<ChildProcess>();
  const sockets: RawClient[] = [];
  let node: HeraldProcess;

  before(async () => {
    node = await startWithApps({ dir, tracker: children, apps: [fileApp(ALPHA), fileApp(BETA), GUARDED, OPEN] });
  });
  after(() => {
    for (const socket of sockets) socket.close();
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(key: string, options: Parameters<typeof rawSocket>[2] = {}): Promise<RawClient> {
    const socket = await rawSocket(node.port, key, options);
    sockets.push(socket);
    return socket;
  }

  async function subscribed(app: App, channel: string): Promise<RawClient> {
    const socket = await open(app.key);
    const { socketId } = await socket.established();
    const auth = channel.startsWith('private-') ? channelAuth(app, socketId, channel) : undefined;
    assert.equal((await socket.subscribe(channel, auth)).event, 'pusher_internal:subscription_succeeded', `${app.id} subscribes to ${channel}`);
    return socket;
  }

  describe('HTTP API across apps', () => {
    it("refuses one app's key or secret on another app's routes with 401, before reading anything", async () => {
      const routes: { method: 'GET' | 'POST'; path: string; body?: string }[] = [
        { method: 'POST', path: '/events', body: JSON.stringify({ name: 'e', channel: 'shared', data: '{}' }) },
        { method: 'POST', path: '/batch_events', body: JSON.stringify({ batch: [{ name: 'e', channel: 'shared', data: '{}' }] }) },
        { method: 'GET', path: '/channels' },
        { method: 'GET', path: '/channels/shared' },
        { method: 'POST', path: '/notifications', body: JSON.stringify({ user_ids: ['u'], notification: { content: 'x' } }) },
        { method: 'GET', path: '/users/u/notifications' },
      ];
      for (const route of routes) {
        // Alpha's own credentials, aimed at beta.
        const foreign = await signedRequest(node.baseUrl, ALPHA, { ...route, appId: BETA.id });
        assert.equal(foreign.status, 401, `alpha's credentials on beta ${route.path}: ${foreign.text}`);
        // Beta's key, signed with alpha's secret.
        const mixed = await signedRequest(node.baseUrl, BETA, { ...route, secret: ALPHA.secret });
        assert.equal(mixed.status, 401, `beta's key with alpha's secret on ${route.path}: ${mixed.text}`);
      }
      // And beta has nothing of what those requests tried to write.
      const list = await signedCall<ListAnswer>(node.baseUrl, BETA, 'GET', '/users/u/notifications');
      assert.deepEqual(list.body.notifications, []);
    });

    it("refuses one app's credentials on another app's admin API with 403", async () => {
      const basic = `Basic ${Buffer.from(`${ALPHA.id}:${ALPHA.secret}`).toString('base64')}`;
      for (const path of ['/overview', '/channels', '/users/u/notifications']) {
        const response = await fetch(`${node.baseUrl}/admin/apps/${BETA.id}${path}`, { headers: { authorization: basic }, signal: AbortSignal.timeout(5_000) });
        assert.equal(response.status, 403, path);
        await response.arrayBuffer();
      }
      const own = await fetch(`${node.baseUrl}/admin/apps/${ALPHA.id}/channels`, { headers: { authorization: basic }, signal: AbortSignal.timeout(5_000) });
      assert.equal(own.status, 200);
      await own.arrayBuffer();
    });
  });

  describe('user tokens', () => {
    it("reach their own user's inbox only, in their own app only", async () => {
      assert.equal((await signedCall(node.baseUrl, ALPHA, 'POST', '/notifications', { user_ids: ['u1', 'u2'], notification: { id: 'secret-1', content: 'for alpha users' } })).status, 200);
      assert.equal((await signedCall(node.baseUrl, BETA, 'POST', '/notifications', { user_ids: ['u1'], notification: { id: 'beta-1', content: 'for beta u1' } })).status, 200);
      const token = await tokenFor(ALPHA, 'u1');
      const own = await tokenCall<ListAnswer>(node.baseUrl, ALPHA.id, token, 'GET', '/users/u1/notifications');
      assert.deepEqual(own.body.notifications.map((n) => n.id), ['secret-1']);
      // Another user of the same app: 403, for every route.
      for (const [method, path, body] of [
        ['GET', '/users/u2/notifications'],
        ['GET', '/users/u2/notifications/count'],
        ['GET', '/users/u2/notifications/secret-1'],
        ['POST', '/users/u2/notifications/open', { all: true }],
        ['DELETE', '/users/u2/notifications/secret-1'],
      ] as const) {
        const reply = await tokenCall(node.baseUrl, ALPHA.id, token, method, path, body);
        assert.equal(reply.status, 403, `${method} ${path}`);
      }
      assert.deepEqual(await countsOf((m, p, b) => signedCall(node.baseUrl, ALPHA, m, p, b), 'u2'), { unread: 1, total: 1 }, "u2's inbox untouched");
      // The same user id in another app: the token is signed with another secret, so 401.
      const foreign = await tokenCall(node.baseUrl, BETA.id, token, 'GET', '/users/u1/notifications');
      assert.equal(foreign.status, 401);
      // A token is not a backend: no push (allow_client_push is off), no trigger, no channel list.
      assert.equal((await tokenCall(node.baseUrl, ALPHA.id, token, 'POST', '/notifications', { user_ids: ['u2'], notification: { content: 'x' } })).status, 403);
      const trigger = await fetch(`${node.baseUrl}/apps/${ALPHA.id}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'e', channel: 'shared', data: '{}' }),
        signal: AbortSignal.timeout(5_000),
      });
      assert.equal(trigger.status, 401);
      await trigger.arrayBuffer();
    });

    it('authorise only their own inbox channel (and presence rooms) in their own app', async () => {
      const token = await tokenFor(ALPHA, 'u1');
      const auth = (app: App, channel: string) => postForm(`${node.baseUrl}/apps/${app.id}/auth`, token, { socket_id: '1.2', channel_name: channel });
      assert.ok(await auth(ALPHA, 'private-u1'));
      await assert.rejects(auth(ALPHA, 'private-u2'), /403/);
      await assert.rejects(auth(ALPHA, 'private-anything'), /403/);
      await assert.rejects(auth(BETA, 'private-u1'), /401/);
      await assert.rejects(postForm(`${node.baseUrl}/apps/${BETA.id}/user-auth`, token, { socket_id: '1.2' }), /401/);
    });
  });

  describe('WebSocket across apps', () => {
    it("refuses a subscription signed with another app's key or secret", async () => {
      const socket = await open(ALPHA.key);
      const { socketId } = await socket.established();
      for (const auth of [channelAuth(BETA, socketId, 'private-room'), channelAuth({ ...ALPHA, secret: BETA.secret }, socketId, 'private-room'), channelAuth({ ...BETA, secret: ALPHA.secret }, socketId, 'private-room')]) {
        const result = await socket.subscribe('private-room', auth);
        assert.equal(result.event, 'pusher:subscription_error');
        assert.equal((result.data as { status: number }).status, 401);
      }
    });

    it('keeps events, client events and presence members of same-named channels apart', async () => {
      const alpha = await subscribed(ALPHA, 'shared');
      const beta = await subscribed(BETA, 'shared');
      assert.equal((await signedRequest(node.baseUrl, ALPHA, { method: 'POST', path: '/events', body: JSON.stringify({ name: 'alpha-only', channel: 'shared', data: '{}' }) })).status, 200);
      await alpha.next('alpha-only');
      await beta.none('alpha-only', 300);

      const alphaSender = await subscribed(ALPHA, 'private-chat');
      const betaListener = await subscribed(BETA, 'private-chat');
      const alphaListener = await subscribed(ALPHA, 'private-chat');
      alphaSender.send({ event: 'client-hello', channel: 'private-chat', data: { from: 'alpha' } });
      await alphaListener.next('client-hello');
      await betaListener.none('client-hello', 300);

      const member = async (app: App, userId: string) => {
        const socket = await open(app.key);
        const { socketId } = await socket.established();
        const channelData = JSON.stringify({ user_id: userId });
        const result = await socket.subscribe('presence-room', channelAuth(app, socketId, 'presence-room', channelData), channelData);
        return (result.data as { presence: { ids: string[] } }).presence.ids;
      };
      assert.deepEqual(await member(ALPHA, 'alice'), ['alice']);
      assert.deepEqual(await member(BETA, 'bob'), ['bob'], "beta's room does not list alpha's members");
      const channels = await signedCall<{ channels: Record<string, unknown> }>(node.baseUrl, BETA, 'GET', '/channels');
      const betaChannels = Object.keys(channels.body.channels).sort();
      assert.deepEqual(betaChannels, ['presence-room', 'private-chat', 'shared'], "beta lists its own channels only");
    });

    it("delivers an inbox push to the user's devices in its app only", async () => {
      const alphaDevice = await subscribed(ALPHA, 'private-carol');
      const betaDevice = await subscribed(BETA, 'private-carol');
      assert.equal((await signedCall(node.baseUrl, ALPHA, 'POST', '/notifications', { user_ids: ['carol'], notification: { id: 'for-alpha-carol', content: 'hi' } })).status, 200);
      const frame = await alphaDevice.next('Internal Notification');
      assert.equal((frame.data as NotificationJson).id, 'for-alpha-carol');
      await betaDevice.none('Internal Notification', 300);
      assert.deepEqual((await signedCall<ListAnswer>(node.baseUrl, BETA, 'GET', '/users/carol/notifications')).body.notifications, []);
    });
  });

  describe('ids that look like SQL, paths or templates', () => {
    it('are stored and returned verbatim, for users, notifications, payloads and idempotency keys, and harm nothing', async () => {
      const control = await signedCall<PushAnswer>(node.baseUrl, ALPHA, 'POST', '/notifications', { user_ids: ['control'], notification: { id: 'control-1', content: 'control' } });
      assert.equal(control.status, 200);
      for (const [index, userId] of NASTY.entries()) {
        const notification = {
          id: `nasty-${index}`,
          heading: userId,
          content: `content ${userId}`,
          payload: { [userId]: userId, list: [userId, { nested: userId }] },
          buttons: [{ id: 'b1', text: userId }],
        };
        const pushed = await signedCall<PushAnswer>(node.baseUrl, ALPHA, 'POST', '/notifications', { user_ids: [userId, 'witness'], notification, idempotency_key: `${userId}-key` });
        assert.equal(pushed.status, 200, `push to ${JSON.stringify(userId)}: ${JSON.stringify(pushed.body)}`);
        assert.deepEqual(pushed.body.notifications.map((row) => row.user_id).sort(), [userId, 'witness'].sort());
        const replay = await signedCall<PushAnswer>(node.baseUrl, ALPHA, 'POST', '/notifications', { user_ids: [userId, 'witness'], notification, idempotency_key: `${userId}-key` });
        assert.equal(replay.body.replayed, true, 'the same idempotency key answers the first result');

        const byBackend = await listAll((m, p, b) => signedCall(node.baseUrl, ALPHA, m, p, b), userId);
        assert.equal(byBackend.length, 1, `${JSON.stringify(userId)} has exactly its notification`);
        const [stored] = byBackend;
        assert.equal(stored.heading, userId);
        assert.equal(stored.content, `content ${userId}`);
        assert.deepEqual(stored.payload, notification.payload);
        assert.deepEqual(stored.buttons, [{ id: 'b1', text: userId, icon: null }]);
        const token = await tokenFor(ALPHA, userId);
        const byUser = await tokenCall<ListAnswer>(node.baseUrl, ALPHA.id, token, 'GET', `/users/${encodeURIComponent(userId)}/notifications`);
        assert.equal(byUser.status, 200, `${JSON.stringify(userId)} reads its own inbox with its token`);
        assert.deepEqual(byUser.body.notifications.map((n) => n.id), [`nasty-${index}`]);
        const opened = await tokenCall<{ opened: string[] }>(node.baseUrl, ALPHA.id, token, 'POST', `/users/${encodeURIComponent(userId)}/notifications/open`, { ids: [userId, `nasty-${index}`] });
        assert.deepEqual(opened.body.opened, [`nasty-${index}`], 'an id that is SQL text opens nothing');
      }
      // Nothing else was touched: the control user's inbox, and the witness got each once.
      assert.deepEqual((await listAll((m, p, b) => signedCall(node.baseUrl, ALPHA, m, p, b), 'control')).map((n) => n.id), ['control-1']);
      const witness = await listAll((m, p, b) => signedCall(node.baseUrl, ALPHA, m, p, b), 'witness');
      assert.deepEqual(witness.map((n) => n.id).sort(), NASTY.map((_, i) => `nasty-${i}`).sort());
      assert.deepEqual(await countsOf((m, p, b) => signedCall(node.baseUrl, ALPHA, m, p, b), 'witness'), { unread: NASTY.length, total: NASTY.length });
    });

    it('pass through event names, data and channel names that look like SQL or templates', async () => {
      const channel = 'private-x;DROP=1,@.';
      const socket = await subscribed(ALPHA, channel);
      const device = await subscribed(ALPHA, 'private-a;b=c@d,e.f');
      const name = "'; DROP TABLE notifications; -- ${x} $&";
      const data = JSON.stringify({ sql: "' OR 1=1 --", template: '{userId} $& ${x}' });
      assert.equal((await signedRequest(node.baseUrl, ALPHA, { method: 'POST', path: '/events', body: JSON.stringify({ name, channel, data }) })).status, 200);
      const frame = await socket.next(name);
      assert.equal(frame.raw, JSON.stringify({ event: name, channel, data }));
      // A user id made of channel characters gets live delivery on exactly its channel.
      assert.equal((await signedCall(node.baseUrl, ALPHA, 'POST', '/notifications', { user_ids: ['a;b=c@d,e.f'], notification: { id: 'live-1', content: '$& ${x}' } })).status, 200);
      assert.equal(((await device.next('Internal Notification')).data as NotificationJson).content, '$& ${x}');
    });
  });

  describe('Origin allow-list (allowed_origins)', () => {
    it('accepts listed origins (any case), and sockets without Origin (not a browser)', async () => {
      for (const origin of ['https://good.example', 'https://GOOD.example', 'http://localhost:3000']) {
        const socket = await open(GUARDED.key, { headers: { origin } });
        await socket.established();
        socket.close();
      }
      const native = await open(GUARDED.key);
      await native.established();
      native.close();
    });

    it('refuses other origins with pusher:error 4009, then closes with 4009', async () => {
      const before = (await metricsOf(node)).get('herald_connections_refused_total{code="4009"}') ?? 0;
      const refused = ['https://evil.example', 'https://good.example.evil.example', 'https://good.example:8443', 'http://good.example', 'null', 'https://localhost:3000'];
      for (const origin of refused) {
        const socket = await open(GUARDED.key, { headers: { origin } });
        const error = await socket.error();
        assert.equal(error.code, 4009, origin);
        assert.match(error.message, /Origin .* is not allowed/);
        assert.equal((await socket.closedWithin()).code, 4009, origin);
        assert.equal(socket.frames.some((frame) => frame.event === 'pusher:connection_established'), false, 'never established');
      }
      const after = (await metricsOf(node)).get('herald_connections_refused_total{code="4009"}') ?? 0;
      assert.equal(after - before, refused.length, 'each refusal counted');
    });

    it('accepts any origin with "*", and checks nothing for apps without a list', async () => {
      for (const key of [OPEN.key, ALPHA.key]) {
        const socket = await open(key, { headers: { origin: 'https://anywhere.example' } });
        await socket.established();
        socket.close();
      }
    });
  });

  describe('connections per address (max_connections_per_ip)', () => {
    it('refuses the connection past the limit with 4100, counts each address apart, and frees the slot on close', async () => {
      const from = (address: string, headers: Record<string, string> = {}) => open(GUARDED.key, { localAddress: address, headers });
      const first = [await from('127.0.0.1'), await from('127.0.0.1'), await from('127.0.0.1')];
      for (const socket of first) await socket.established();
      // X-Forwarded-For is not trusted without --trust-proxy: it cannot buy another slot.
      const over = await from('127.0.0.1', { 'x-forwarded-for': '10.9.9.9' });
      const error = await over.error();
      assert.equal(error.code, 4100);
      assert.match(error.message, /Too many connections from this address \(limit 3\)/);
      assert.equal((await over.closedWithin()).code, 4100);
      // Another address has its own three.
      for (let i = 0; i < 3; i++) await (await from('127.0.0.2')).established();
      // Another app from the same address is not limited by this one.
      await (await open(ALPHA.key, { localAddress: '127.0.0.1' })).established();
      // A slot comes back once a socket is closed.
      first[0].close();
      await first[0].closedWithin();
      await waitForSlot(() => from('127.0.0.1'));
    });
  });
});

/** Opens sockets until one is established, not refused (the server frees a slot when it sees the close), at most 3 s. */
async function waitForSlot(connect: () => Promise<RawClient>): Promise<RawClient> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const socket = await connect();
    const first = await socket.next((frame) => frame.event === 'pusher:connection_established' || frame.event === 'pusher:error', 'established or refused');
    if (first.event === 'pusher:connection_established') return socket;
    if (Date.now() > deadline) throw new Error(`still refused: ${first.raw}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('connections per address behind a trusted proxy (--trust-proxy)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-hardening-proxy-'));
  const children = new Set<ChildProcess>();
  const sockets: RawClient[] = [];
  let node: HeraldProcess;
  before(async () => {
    node = await startWithApps({ dir, tracker: children, apps: [{ ...GUARDED, max_connections_per_ip: 2 }], env: { HERALD_TRUST_PROXY: 'true' } });
  });
  after(() => {
    for (const socket of sockets) socket.close();
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts by the address the proxy appended (the last X-Forwarded-For entry), whatever the client put before it', async () => {
    const via = async (forwardedFor: string) => {
      const socket = await rawSocket(node.port, GUARDED.key, { headers: { 'x-forwarded-for': forwardedFor } });
      sockets.push(socket);
      return socket.next((frame) => frame.event === 'pusher:connection_established' || frame.event === 'pusher:error', 'established or refused');
    };
    assert.equal((await via('203.0.113.7')).event, 'pusher:connection_established');
    assert.equal((await via('1.2.3.4, 203.0.113.7')).event, 'pusher:connection_established');
    const refused = await via('5.6.7.8, 203.0.113.7');
    assert.equal(refused.event, 'pusher:error', 'a spoofed first entry does not help');
    assert.equal((refused.data as { code: number }).code, 4100);
    assert.equal((await via('203.0.113.8')).event, 'pusher:connection_established', 'another client behind the proxy');
    // The proxy's own address is not what is counted.
    assert.equal((await via('2001:db8::1')).event, 'pusher:connection_established');
  });
});
