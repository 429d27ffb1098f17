/** The per-user routes, with a Pusher signature and with a bearer user token, and their authentication. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT, base64url } from 'jose';
import type { NotificationJson } from '../../src/inbox/notification-json.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import {
  backendCaller,
  sdkList,
  sdkPush,
  sdkRejection,
  signedCall,
  tokenCall,
  tokenFor,
  userCaller,
  type Call,
  countsOf,
  type ErrorBody,
  type ListAnswer,
  type PushAnswer,
} from '../helpers/inbox.js';

const encoder = new TextEncoder();

describe('inbox per-user routes', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ apps: [TEST_APP] });
  });
  after(() => harness.close());

  /** Pushes `n` notifications to a user one by one; returns their ids by seq (index 0 = seq 1). */
  async function fill(userId: string, n: number, extra: Record<string, unknown> = {}): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 1; i <= n; i++) {
      const answer = await sdkPush(harness.backend(), { user_ids: [userId], notification: { id: `${userId}-n${i}`, content: `number ${i}`, ...extra } });
      assert.equal(answer.notifications[0].seq, i);
      ids.push(answer.notifications[0].id);
    }
    return ids;
  }

  const seqs = (list: ListAnswer) => list.notifications.map((n) => n.seq);
  const range = (from: number, to: number) => {
    const out: number[] = [];
    for (let i = from; from <= to ? i <= to : i >= to; from <= to ? i++ : i--) out.push(i);
    return out;
  };

  // Every behaviour is checked once with the backend's signature and once with the user's own token.
  for (const via of ['signature', 'token'] as const) {
    describe(`with a ${via}`, () => {
      const user = `reader-${via}`;
      let call: Call;
      let ids: string[];
      before(async () => {
        call = via === 'signature' ? backendCaller(harness) : userCaller(harness, await tokenFor(harness.app, user));
        ids = await fill(user, 60, { buttons: [{ id: 'yes', text: 'Yes' }] });
      });

      it('lists newest first, 50 by default, with has_more', async () => {
        const reply = await call<ListAnswer>('GET', `/users/${user}/notifications`);
        assert.equal(reply.status, 200);
        assert.deepEqual(seqs(reply.body), range(60, 11));
        assert.equal(reply.body.has_more, true);
        assert.equal(reply.body.notifications[0].id, ids[59]);
        assert.equal(reply.body.notifications[0].content, 'number 60');
      });

      it('pages back with before_seq until has_more is false, with no gap or repeat', async () => {
        const seen: number[] = [];
        let path = `/users/${user}/notifications?limit=25`;
        for (let page = 0; page < 10; page++) {
          const reply = await call<ListAnswer>('GET', path);
          assert.equal(reply.status, 200);
          seen.push(...seqs(reply.body).map(Number));
          if (!reply.body.has_more) break;
          path = `/users/${user}/notifications?limit=25&before_seq=${seen[seen.length - 1]}`;
        }
        assert.deepEqual(seen, range(60, 1));
        const last = await call<ListAnswer>('GET', `/users/${user}/notifications?before_seq=11&limit=10`);
        assert.deepEqual(seqs(last.body), range(10, 1));
        assert.equal(last.body.has_more, false);
      });

      it('catches up with after_seq, oldest first', async () => {
        const tail = await call<ListAnswer>('GET', `/users/${user}/notifications?after_seq=55`);
        assert.equal(tail.status, 200);
        assert.deepEqual(seqs(tail.body), [56, 57, 58, 59, 60]);
        assert.equal(tail.body.has_more, false);
        const head = await call<ListAnswer>('GET', `/users/${user}/notifications?after_seq=0&limit=10`);
        assert.deepEqual(seqs(head.body), range(1, 10));
        assert.equal(head.body.has_more, true);
        const none = await call<ListAnswer>('GET', `/users/${user}/notifications?after_seq=60`);
        assert.deepEqual(none.body, { notifications: [], has_more: false });
      });

      it('accepts limit up to 500 and refuses anything else with 400', async () => {
        const max = await call<ListAnswer>('GET', `/users/${user}/notifications?limit=500`);
        assert.equal(max.status, 200);
        assert.equal(max.body.notifications.length, 60);
        assert.equal(max.body.has_more, false);
        for (const query of ['limit=501', 'limit=0', 'limit=-1', 'limit=ten', 'limit=1.5', 'before_seq=-3', 'after_seq=x', 'before_seq=5&after_seq=1', 'status=bogus']) {
          const reply = await call<ErrorBody>('GET', `/users/${user}/notifications?${query}`);
          assert.equal(reply.status, 400, query);
          assert.equal(reply.body.code, 'bad_request', query);
          const field = query.startsWith('limit') ? 'limit' : query.startsWith('status') ? 'status' : 'seq';
          assert.ok(reply.body.error.includes(field), `"${reply.body.error}" names ${field}`);
        }
      });

      it('counts, opens by ids and all, and lists status=unread', async () => {
        assert.deepEqual(await countsOf(call, user), { unread: 60, total: 60 });

        const opened = await call<{ opened: string[]; unread: number }>('POST', `/users/${user}/notifications/open`, { ids: [ids[59], ids[58], 'no-such-id'] });
        assert.equal(opened.status, 200);
        assert.deepEqual([...opened.body.opened].sort(), [ids[58], ids[59]].sort());
        assert.equal(opened.body.unread, 58);
        const again = await call<{ opened: string[]; unread: number }>('POST', `/users/${user}/notifications/open`, { ids: [ids[59]] });
        assert.deepEqual(again.body.opened, [], 'opening twice changes nothing');
        assert.equal(again.body.unread, 58);
        assert.deepEqual(await countsOf(call, user), { unread: 58, total: 60 });

        const one = await call<NotificationJson>('GET', `/users/${user}/notifications/${ids[59]}`);
        assert.equal(one.body.opened, true);
        assert.ok(one.body.opened_at !== null && !Number.isNaN(Date.parse(one.body.opened_at)));

        const unread = await call<ListAnswer>('GET', `/users/${user}/notifications?status=unread&limit=5`);
        assert.deepEqual(seqs(unread.body), [58, 57, 56, 55, 54]);
        assert.ok(unread.body.notifications.every((n) => !n.opened));
        const unreadAfter = await call<ListAnswer>('GET', `/users/${user}/notifications?status=unread&after_seq=55`);
        assert.deepEqual(seqs(unreadAfter.body), [56, 57, 58]);

        const all = await call<{ opened: string[]; unread: number }>('POST', `/users/${user}/notifications/open`, { all: true });
        assert.equal(all.status, 200);
        assert.equal(all.body.opened.length, 58);
        assert.equal(all.body.unread, 0);
        assert.deepEqual(await countsOf(call, user), { unread: 0, total: 60 });
        const none = await call<ListAnswer>('GET', `/users/${user}/notifications?status=unread`);
        assert.deepEqual(none.body, { notifications: [], has_more: false });
      });

      it('refuses a malformed open body with 400', async () => {
        for (const body of [{}, { ids: [] }, { ids: 'n1' }, { ids: [1, 2] }, { all: 'yes' }, { all: false }, { ids: [ids[0]], colour: 'red' }]) {
          const reply = await call<ErrorBody>('POST', `/users/${user}/notifications/open`, body);
          assert.equal(reply.status, 400, JSON.stringify(body));
          assert.equal(reply.body.code, 'bad_request');
        }
        const both = await call<ErrorBody>('POST', `/users/${user}/notifications/open`, { all: true, ids: [ids[0]] });
        assert.equal(both.status, 400);
        assert.ok(both.body.error.includes('ids') && both.body.error.includes('all'), `"${both.body.error}" names both fields`);
        assert.ok(!both.body.error.includes('must be true'), `"${both.body.error}" does not claim "all" is wrong`);
        const tooMany = await call<ErrorBody>('POST', `/users/${user}/notifications/open`, { ids: Array.from({ length: 501 }, (_, i) => `x${i}`) });
        assert.equal(tooMany.status, 400);
        assert.ok(tooMany.body.error.includes('ids'));
      });

      it('gets one notification as the list shows it, 404 for an unknown id', async () => {
        const listed = await call<ListAnswer>('GET', `/users/${user}/notifications?after_seq=9&limit=1`);
        const one = await call<NotificationJson>('GET', `/users/${user}/notifications/${ids[9]}`);
        assert.equal(one.status, 200);
        assert.deepEqual(one.body, listed.body.notifications[0]);
        const missing = await call<ErrorBody>('GET', `/users/${user}/notifications/nope`);
        assert.equal(missing.status, 404);
        assert.equal(missing.body.code, 'not_found');
        const otherUsers = await call<ErrorBody>('GET', `/users/${user}/notifications/${ids[9].replace(user, 'someone')}`);
        assert.equal(otherUsers.status, 404);
      });

      it('records a button press; 404 for an unknown notification or button', async () => {
        const pressed = await call('POST', `/users/${user}/notifications/${ids[0]}/actions/yes`);
        assert.equal(pressed.status, 200);
        const unknownButton = await call<ErrorBody>('POST', `/users/${user}/notifications/${ids[0]}/actions/no`);
        assert.equal(unknownButton.status, 404);
        assert.equal(unknownButton.body.code, 'not_found');
        const unknownNotification = await call<ErrorBody>('POST', `/users/${user}/notifications/nope/actions/yes`);
        assert.equal(unknownNotification.status, 404);
        assert.equal(unknownNotification.body.code, 'not_found');
      });

      it('deletes a notification for that user; 404 the second time', async () => {
        const gone = await call<{ unread: number; total: number }>('DELETE', `/users/${user}/notifications/${ids[1]}`);
        assert.equal(gone.status, 200);
        assert.equal(gone.body.total, 59);
        assert.equal(gone.body.unread, 0);
        const again = await call<ErrorBody>('DELETE', `/users/${user}/notifications/${ids[1]}`);
        assert.equal(again.status, 404);
        assert.equal(again.body.code, 'not_found');
        assert.equal((await call('GET', `/users/${user}/notifications/${ids[1]}`)).status, 404);
        const around = await call<ListAnswer>('GET', `/users/${user}/notifications?after_seq=0&limit=3`);
        assert.deepEqual(seqs(around.body), [1, 3, 4]);
        assert.deepEqual(await countsOf(call, user), { unread: 0, total: 59 });
        assert.equal((await call('POST', `/users/${user}/notifications/${ids[1]}/actions/yes`)).status, 404, 'no action on a deleted one');
      });
    });
  }

  it('lists through the official SDK (pusher.get)', async () => {
    await fill('sdk-reader', 3);
    const page = await sdkList(harness.backend(), 'sdk-reader', { limit: 2 });
    assert.deepEqual(seqs(page), [3, 2]);
    assert.equal(page.has_more, true);
    const catchUp = await sdkList(harness.backend(), 'sdk-reader', { after_seq: 1 });
    assert.deepEqual(seqs(catchUp), [2, 3]);
    const { status, body } = await sdkRejection(sdkList(harness.backend(), 'sdk-reader', { limit: 501 }));
    assert.equal(status, 400);
    assert.equal(body.code, 'bad_request');
  });

  describe('authentication', () => {
    const owner = 'owner';
    let id: string;
    before(async () => {
      const answer: PushAnswer = await sdkPush(harness.backend(), {
        user_ids: [owner],
        notification: { id: 'owned', content: 'mine', buttons: [{ id: 'ok', text: 'OK' }] },
      });
      id = answer.notifications[0].id;
    });

    const routes = (userId: string): [method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown][] => [
      ['GET', `/users/${userId}/notifications`],
      ['GET', `/users/${userId}/notifications/count`],
      ['GET', `/users/${userId}/notifications/${id}`],
      ['POST', `/users/${userId}/notifications/open`, { all: true }],
      ['POST', `/users/${userId}/notifications/${id}/actions/ok`],
      ['DELETE', `/users/${userId}/notifications/${id}`],
    ];

    async function assertUntouched(): Promise<void> {
      const one = await signedCall<NotificationJson>(harness.baseUrl, harness.app, 'GET', `/users/${owner}/notifications/${id}`);
      assert.equal(one.status, 200, 'the notification is still there');
      assert.equal(one.body.opened, false, 'and still unread');
    }

    it("is 403 for another user's inbox with a user token", async () => {
      const intruder = await tokenFor(harness.app, 'intruder');
      for (const [method, path, body] of routes(owner)) {
        const reply = await tokenCall<ErrorBody>(harness.baseUrl, harness.app.id, intruder, method, path, body);
        assert.equal(reply.status, 403, `${method} ${path}`);
        assert.equal(reply.body.code, 'forbidden');
      }
      await assertUntouched();
    });

    it('is 401 for tokens that are bad, expired, unsigned, of another algorithm or secret, or without sub or exp', async () => {
      const secret = encoder.encode(harness.app.secret);
      const now = Math.floor(Date.now() / 1000);
      const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
      const claims = base64url.encode(JSON.stringify({ sub: owner, exp: now + 3600 }));
      const tokens: Record<string, string> = {
        garbage: 'not-a-jwt',
        'expired': await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(owner).setExpirationTime(now - 60).sign(secret),
        'alg none': `${header}.${claims}.`,
        'alg none with a signature part': `${header}.${claims}.${base64url.encode('x')}`,
        HS512: await new SignJWT({}).setProtectedHeader({ alg: 'HS512' }).setSubject(owner).setExpirationTime(now + 3600).sign(secret),
        'other secret': await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(owner).setExpirationTime(now + 3600).sign(encoder.encode('not-the-secret')),
        'no sub': await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(now + 3600).sign(secret),
        'empty sub': await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('').setExpirationTime(now + 3600).sign(secret),
        'no exp': await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(owner).sign(secret),
        'not yet valid': await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(owner).setNotBefore(now + 600).setExpirationTime(now + 3600).sign(secret),
        'tampered payload': await (async () => {
          const good = await tokenFor(harness.app, 'intruder');
          const [h, , s] = good.split('.');
          return `${h}.${claims}.${s}`;
        })(),
      };
      for (const [name, token] of Object.entries(tokens)) {
        for (const [method, path, body] of routes(owner)) {
          const reply = await tokenCall<ErrorBody>(harness.baseUrl, harness.app.id, token, method, path, body);
          assert.equal(reply.status, 401, `${name}: ${method} ${path}`);
          assert.equal(reply.body.code, 'unauthorized', name);
        }
      }
      await assertUntouched();
    });

    it('is 401 without any authentication, with a non-bearer header, or with a bad Pusher signature', async () => {
      for (const [method, path, body] of routes(owner)) {
        const none = await tokenCall<ErrorBody>(harness.baseUrl, harness.app.id, null, method, path, body);
        assert.equal(none.status, 401, `${method} ${path}`);
        assert.equal(none.body.code, 'unauthorized');
        const basic = await tokenCall<ErrorBody>(harness.baseUrl, harness.app.id, `Basic ${Buffer.from('a:b').toString('base64')}`, method, path, body);
        assert.equal(basic.status, 401);
        const badSignature = await signedCall<ErrorBody>(harness.baseUrl, harness.app, method, path, body, { secret: 'wrong' });
        assert.equal(badSignature.status, 401);
        assert.equal(badSignature.body.code, 'unauthorized');
      }
      const push = await tokenCall<ErrorBody>(harness.baseUrl, harness.app.id, null, 'POST', '/notifications', { user_ids: [owner], notification: { content: 'x' } });
      assert.equal(push.status, 401);
      await assertUntouched();
    });

    it('is 404 for an unknown app, with a signature or a token', async () => {
      const token = await tokenFor(harness.app, owner);
      for (const [method, path, body] of routes(owner)) {
        const signed = await signedCall<ErrorBody>(harness.baseUrl, harness.app, method, path, body, { appId: 'no-such-app' });
        assert.equal(signed.status, 404, `${method} ${path}`);
        assert.equal(signed.body.code, 'not_found');
        const bearer = await tokenCall<ErrorBody>(harness.baseUrl, 'no-such-app', token, method, path, body);
        assert.equal(bearer.status, 404);
      }
      const push = await signedCall<ErrorBody>(harness.baseUrl, harness.app, 'POST', '/notifications', { user_ids: [owner], notification: { content: 'x' } }, { appId: 'no-such-app' });
      assert.equal(push.status, 404);
      await assertUntouched();
    });

    it("lets the owner's token and the backend reach the owner's inbox", async () => {
      const token = await tokenFor(harness.app, owner);
      const mine = await tokenCall<ListAnswer>(harness.baseUrl, harness.app.id, token, 'GET', `/users/${owner}/notifications`);
      assert.equal(mine.status, 200);
      assert.deepEqual(mine.body.notifications.map((n) => n.id), [id]);
      const backend = await signedCall<ListAnswer>(harness.baseUrl, harness.app, 'GET', `/users/${owner}/notifications`);
      assert.deepEqual(backend.body, mine.body);
    });
  });
});
