/**
 * Abuse of the client-facing routes (issue 19, points 2-7), with the official SDK and raw HTTP:
 * the demo token stays in the demo, idempotency keys and notification ids of the backend cannot be
 * taken or read by users, client push is capped per user, signed query parameters cannot be
 * switched off by their case, and bodies are not read before authentication.
 */
import assert from 'node:assert/strict';
import { createHmac, createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { signChannel } from '../../src/protocol/signatures.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { countsOf, sdkPush, signedCall, tokenCall, tokenFor, type ListAnswer, type PushAnswer } from '../helpers/inbox.js';

const PUSH_APP = { id: 'abuse-app', key: 'abuse-key', secret: 'abuse-secret', allow_client_push: true };
const SOCKET_ID = '1234.5678';

/** Sends the head of a request whose body never comes; resolves with the status line of the answer, or null after `waitMs`. */
function headOnly(port: number, head: string, waitMs: number): Promise<{ status: number | null; socket: Socket }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let text = '';
    const timer = setTimeout(() => resolve({ status: null, socket }), waitMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve({ status: Number(match[1]), socket });
      }
    });
    socket.on('error', () => undefined);
  });
}

describe('client abuse (issue 19)', () => {
  let harness: Harness;
  let clock = Date.now();
  before(async () => {
    harness = await startHarness({
      apps: [PUSH_APP],
      deps: { demo: { appId: PUSH_APP.id }, now: () => clock, maxUnauthenticatedBodyBytes: 8 * 1024 },
    });
  });
  after(() => harness.close());

  const app = () => harness.app;
  const backend = () => harness.backend(app());

  describe('point 2: a demo token reaches only its own demo inbox', () => {
    async function demoToken(name: string): Promise<string> {
      const response = await fetch(`${harness.baseUrl}/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: name }) });
      assert.equal(response.status, 200);
      return ((await response.json()) as { token: string }).token;
    }

    it('cannot push through the app API even with allow_client_push on', async () => {
      const token = await demoToken('eve');
      const reply = await tokenCall(harness.baseUrl, app().id, token, 'POST', '/notifications', { user_ids: ['ceo'], notification: { content: 'phish' } });
      assert.equal(reply.status, 403);
      assert.equal(reply.body.code, 'forbidden');
      assert.deepEqual(await countsOf((method, path) => signedCall(harness.baseUrl, app(), method, path), 'ceo'), { unread: 0, total: 0 });
    });

    it("is signed into its own inbox channel only, not the app's presence channels", async () => {
      const token = await demoToken('eve');
      const presence = await tokenCall(harness.baseUrl, app().id, token, 'POST', '/auth', { socket_id: SOCKET_ID, channel_name: 'presence-board' });
      assert.equal(presence.status, 403);
      const own = await tokenCall<{ auth: string }>(harness.baseUrl, app().id, token, 'POST', '/auth', { socket_id: SOCKET_ID, channel_name: 'private-demo-eve' });
      assert.equal(own.status, 200);
      assert.equal(own.body.auth, signChannel(app().key, app().secret, SOCKET_ID, 'private-demo-eve'));
      // The demo itself keeps working: its own inbox, and pushes to demo users through /demo/push.
      const pushed = await fetch(`${harness.baseUrl}/demo/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ to: ['eve'], notification: { content: 'hello me' } }),
      });
      assert.equal(pushed.status, 200);
      const list = await tokenCall<ListAnswer>(harness.baseUrl, app().id, token, 'GET', '/users/demo-eve/notifications');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.notifications.map((n) => n.content), ['hello me']);
    });

    it("a backend-issued token keeps its presence channels", async () => {
      const token = await tokenFor(app(), 'real-user');
      const presence = await tokenCall(harness.baseUrl, app().id, token, 'POST', '/auth', { socket_id: SOCKET_ID, channel_name: 'presence-board' });
      assert.equal(presence.status, 200);
    });
  });

  describe("point 3: idempotency keys are scoped by sender", () => {
    it("a user can neither replay the backend's key nor take it first", async () => {
      const first = await sdkPush(backend(), { user_ids: ['idem-alice', 'idem-bob'], notification: { content: 'your order shipped' }, idempotency_key: 'order-1042' });
      const mallory = await tokenFor(app(), 'idem-mallory');
      const replay = await tokenCall<PushAnswer>(harness.baseUrl, app().id, mallory, 'POST', '/notifications', {
        user_ids: ['idem-mallory'],
        notification: { content: 'mine' },
        idempotency_key: 'order-1042',
      });
      assert.equal(replay.status, 200);
      assert.equal(replay.body.replayed, undefined, "the backend's result is not handed to a user");
      assert.deepEqual(replay.body.notifications.map((row) => row.user_id), ['idem-mallory']);
      assert.notEqual(replay.body.notifications[0].id, first.notifications[0].id);

      const squat = await tokenCall<PushAnswer>(harness.baseUrl, app().id, mallory, 'POST', '/notifications', {
        user_ids: ['idem-mallory'],
        notification: { content: 'taken first' },
        idempotency_key: 'order-1043',
      });
      assert.equal(squat.status, 200);
      const second = await sdkPush(backend(), { user_ids: ['idem-alice'], notification: { content: 'order 1043 shipped' }, idempotency_key: 'order-1043' });
      assert.equal(second.replayed, undefined, "a user's key does not swallow the backend's push");
      assert.deepEqual(await countsOf((method, path) => signedCall(harness.baseUrl, app(), method, path), 'idem-alice'), { unread: 2, total: 2 });
    });
  });

  describe("point 4: client-pushed notifications cannot take the backend's ids", () => {
    it('refuses a client-chosen id and names client pushes itself', async () => {
      const mallory = await tokenFor(app(), 'squat-mallory');
      const squat = await tokenCall(harness.baseUrl, app().id, mallory, 'POST', '/notifications', {
        user_ids: ['squat-victim'],
        notification: { id: 'order-1042-shipped', content: 'fake: pay here' },
      });
      assert.equal(squat.status, 400);
      assert.equal(squat.body.code, 'bad_request');
      const answer = await sdkPush(backend(), { user_ids: ['squat-victim'], notification: { id: 'order-1042-shipped', content: 'your order shipped' } });
      assert.equal(answer.notifications[0].id, 'order-1042-shipped');
      const named = await tokenCall<PushAnswer>(harness.baseUrl, app().id, mallory, 'POST', '/notifications', {
        user_ids: ['squat-victim'],
        notification: { content: 'hi' },
      });
      assert.equal(named.status, 200);
      assert.match(named.body.notifications[0].id, /^[0-9a-f-]{36}$/);
    });
  });

  describe('point 5: client push is limited per user', () => {
    it('caps the recipients of a push with a user token', async () => {
      const token = await tokenFor(app(), 'cap-sender');
      const users = Array.from({ length: 11 }, (_, i) => `cap-${i}`);
      const reply = await tokenCall(harness.baseUrl, app().id, token, 'POST', '/notifications', { user_ids: users, notification: { content: 'x' } });
      assert.equal(reply.status, 400);
      assert.match(String(reply.body.error), /client_push_max_recipients/);
      assert.deepEqual(await countsOf((method, path) => signedCall(harness.baseUrl, app(), method, path), 'cap-0'), { unread: 0, total: 0 });
      // The backend keeps its own, much larger cap.
      const fromBackend = await sdkPush(backend(), { user_ids: users, notification: { content: 'x' } });
      assert.equal(fromBackend.notifications.length, 11);
    });

    it('limits the notifications one user pushes per minute, and refills', async () => {
      const token = await tokenFor(app(), 'rate-sender');
      const users = Array.from({ length: 10 }, (_, i) => `rate-${i}`);
      const push = () => tokenCall(harness.baseUrl, app().id, token, 'POST', '/notifications', { user_ids: users, notification: { content: 'spam' } });
      for (let i = 0; i < 6; i++) assert.equal((await push()).status, 200, `push ${i} of 60 notifications`);
      const refused = await fetch(`${harness.baseUrl}/apps/${app().id}/notifications`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ user_ids: users, notification: { content: 'spam' } }),
      });
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      assert.equal(((await refused.json()) as { code: string }).code, 'rate_limited');
      // Another user is not affected, and the sender's budget comes back with time.
      const other = await tokenFor(app(), 'rate-other');
      assert.equal((await tokenCall(harness.baseUrl, app().id, other, 'POST', '/notifications', { user_ids: ['rate-0'], notification: { content: 'hi' } })).status, 200);
      clock += 60_000;
      assert.equal((await push()).status, 200);
      assert.deepEqual(await countsOf((method, path) => signedCall(harness.baseUrl, app(), method, path), 'rate-0'), { unread: 8, total: 8 });
    });
  });

  describe('point 6: signed query parameters are read as signed, whatever their case', () => {
    /** A GET signed as the Pusher spec says (names lower-cased), sent with the names as given. */
    function signedGet(path: string, params: [string, string][]): Promise<Response> {
      const fullPath = `/apps/${app().id}${path}`;
      const all: [string, string][] = [...params, ['auth_key', app().key], ['auth_timestamp', String(Math.floor(clock / 1000))], ['auth_version', '1.0']];
      const signed = all.map(([k, v]) => [k.toLowerCase(), v]).sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
      const signature = createHmac('sha256', app().secret).update(`GET\n${fullPath}\n${signed}`).digest('hex');
      const query = all.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
      return fetch(`${harness.baseUrl}${fullPath}?${query}&auth_signature=${signature}`);
    }

    it('applies LIMIT= as the signed limit', async () => {
      for (let i = 0; i < 3; i++) await sdkPush(backend(), { user_ids: ['case-user'], notification: { content: `n${i}` } });
      const upper = await signedGet('/users/case-user/notifications', [['LIMIT', '1']]);
      assert.equal(upper.status, 200);
      assert.equal(((await upper.json()) as ListAnswer).notifications.length, 1);
      const mixed = await signedGet('/users/case-user/notifications', [['Status', 'unread'], ['Limit', '2']]);
      assert.equal(((await mixed.json()) as ListAnswer).notifications.length, 2);
    });

    it('refuses a parameter given twice in different cases', async () => {
      const twice = await signedGet('/users/case-user/notifications', [['limit', '1'], ['LIMIT', '500']]);
      assert.equal(twice.status, 400);
      assert.equal(((await twice.json()) as { code: string }).code, 'bad_request');
    });
  });

  describe('point 7: bodies are read only after authentication, and unauthenticated bodies are bounded', () => {
    const bigHead = (extra: string) =>
      `POST /apps/${PUSH_APP.id}/notifications${extra} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n`;

    it('answers a bad bearer token before the 4 MB body arrives', async () => {
      const { status, socket } = await headOnly(harness.port, `${bigHead('')}Authorization: Bearer not-a-token\r\n\r\n`, 3_000);
      socket.destroy();
      assert.equal(status, 401);
    });

    it('answers a bad Pusher signature before the body arrives', async () => {
      const md5 = createHash('md5').update('x').digest('hex');
      const query = `?auth_key=${PUSH_APP.key}&auth_timestamp=${Math.floor(clock / 1000)}&auth_version=1.0&body_md5=${md5}&auth_signature=${'0'.repeat(64)}`;
      const { status, socket } = await headOnly(harness.port, `${bigHead(query)}\r\n`, 3_000);
      socket.destroy();
      assert.equal(status, 401);
    });

    it("holds a user token's push body to the client push size", async () => {
      const token = await tokenFor(app(), 'big-sender');
      const { status, socket } = await headOnly(harness.port, `${bigHead('')}Authorization: Bearer ${token}\r\n\r\n`, 3_000);
      socket.destroy();
      assert.equal(status, 413);
    });

    it('bounds the body bytes unauthenticated requests may be sending at once', async () => {
      const head = 'POST /demo/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n';
      const first = await headOnly(harness.port, head, 300);
      const second = await headOnly(harness.port, head, 300);
      assert.equal(first.status, null, 'still waiting for its body');
      assert.equal(second.status, null, 'still waiting for its body');
      const third = await headOnly(harness.port, head, 3_000);
      assert.equal(third.status, 503);
      third.socket.destroy();
      first.socket.destroy();
      second.socket.destroy();
      // Their budget is given back once they are gone.
      let status = 0;
      for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
        const response = await fetch(`${harness.baseUrl}/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: 'after' }) });
        status = response.status;
        await response.arrayBuffer();
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(status, 200);
    });
  });
});
