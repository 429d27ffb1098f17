/** Push: the answer, live delivery to pusher-js, per-app channel and event names, validation, idempotency, client push. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NotificationJson } from '../../src/inbox/notification-json.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import {
  backendCaller,
  countsOf,
  inboxDevice,
  postForm,
  sdkPush,
  sdkRejection,
  signedCall,
  tokenCall,
  tokenFor,
  type Call,
  type ListAnswer,
  type PushAnswer,
} from '../helpers/inbox.js';
import { sleep } from '../helpers/wait.js';

const CUSTOM_APP = {
  id: 'custom-app',
  key: 'custom-key',
  secret: 'custom-secret',
  inbox_channel_template: 'private-inbox-{userId}',
  inbox_event_name: 'inbox:new',
};
const CLIENT_PUSH_APP = { id: 'client-push-app', key: 'client-push-key', secret: 'client-push-secret', allow_client_push: true };

const NOTIFICATION_FIELDS = ['id', 'heading', 'content', 'payload', 'image_url', 'send_after', 'opened', 'buttons', 'created_at', 'opened_at', 'seq'];

describe('inbox push', () => {
  let harness: Harness;
  let backend: Call;
  before(async () => {
    harness = await startHarness({ apps: [TEST_APP, CUSTOM_APP, CLIENT_PUSH_APP] });
    backend = backendCaller(harness);
  });
  after(() => harness.close());

  const counts = (userId: string) => countsOf(backend, userId);

  it('answers one row per user after storing, and delivers the notification JSON on private-{userId}', async () => {
    const alice = await inboxDevice(harness, 'push-alice');
    const bob = await inboxDevice(harness, 'push-bob');
    const before = Date.now();
    const answer = await sdkPush(harness.backend(), {
      user_ids: ['push-alice', 'push-bob'],
      notification: {
        heading: 'Order shipped',
        content: 'Your order #42 is on its way',
        payload: { order: { id: 42, items: ['a', 'b'] }, urgent: true },
        image_url: 'https://cdn.example.com/box.png',
        buttons: [
          { id: 'track', text: 'Track', icon: 'https://cdn.example.com/track.svg' },
          { id: 'dismiss', text: 'Dismiss' },
        ],
      },
    });
    assert.equal(answer.notifications.length, 2);
    const id = answer.notifications[0].id;
    assert.ok(typeof id === 'string' && id.length > 0, 'a generated id');
    assert.deepEqual(
      answer.notifications.map((row) => ({ ...row })).sort((a, b) => a.user_id.localeCompare(b.user_id)),
      [
        { id, user_id: 'push-alice', seq: 1 },
        { id, user_id: 'push-bob', seq: 1 },
      ],
    );

    const [event] = await alice.waitFor('Internal Notification');
    for (const field of NOTIFICATION_FIELDS) assert.ok(field in event, `the event carries "${field}"`);
    const { created_at: createdAt, ...rest } = event;
    assert.deepEqual(
      { ...rest, sender_id: undefined },
      {
        id,
        heading: 'Order shipped',
        content: 'Your order #42 is on its way',
        payload: { order: { id: 42, items: ['a', 'b'] }, urgent: true },
        image_url: 'https://cdn.example.com/box.png',
        send_after: null,
        opened: false,
        buttons: [
          { id: 'track', text: 'Track', icon: 'https://cdn.example.com/track.svg' },
          { id: 'dismiss', text: 'Dismiss', icon: null },
        ],
        opened_at: null,
        seq: 1,
        sender_id: undefined,
        // Inbox v2 fields (design.md §5), at their defaults.
        category: null, tags: [], priority: 'normal', tenant: null, seen: false, seen_at: null, archived: false, archived_at: null,
        snoozed_until: null, expires_at: null, actioned: null, collapse_key: null, collapsed_count: 1,
      },
    );
    assert.match(createdAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    const createdMs = Date.parse(createdAt);
    assert.ok(createdMs >= before - 1_000 && createdMs <= Date.now() + 1_000, `created_at ${createdAt} is about now`);

    const [bobEvent] = await bob.waitFor('Internal Notification');
    assert.equal(bobEvent.id, id);
    assert.equal(bobEvent.seq, 1);
    await sleep(150);
    assert.equal(alice.of('Internal Notification').length, 1, 'each user gets the notification once, on its own channel');
    assert.equal(bob.of('Internal Notification').length, 1);

    // What was delivered is what the inbox answers.
    const listed = await backend<ListAnswer>('GET', '/users/push-alice/notifications');
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.notifications, [event]);
  });

  it('uses the app\'s inbox_channel_template and inbox_event_name', async () => {
    const custom = harness.apps[1];
    const device = await inboxDevice(harness, 'carol', { app: custom });
    assert.equal(device.channel.name, 'private-inbox-carol');
    const answer = await sdkPush(harness.backend(custom), { user_ids: ['carol'], notification: { content: 'custom channel' } });
    const [event] = await device.waitFor('inbox:new');
    assert.equal(event.id, answer.notifications[0].id);
    assert.equal(event.content, 'custom channel');
    assert.equal(device.of('Internal Notification').length, 0, 'the default event name is not used');

    // The built-in auth follows the template: private-{userId} is not this app's inbox channel.
    const token = await tokenFor(custom, 'carol');
    await assert.rejects(
      postForm(`${harness.baseUrl}/apps/${custom.id}/auth`, token, { socket_id: '123.456', channel_name: 'private-carol' }),
      (error: { status?: number }) => error.status === 403,
    );
  });

  describe('validation', () => {
    const valid = { content: 'hello' };
    const many = (n: number) => Array.from({ length: n }, (_, i) => `bulk-${i}`);
    const cases: [string, Record<string, unknown>, string][] = [
      ['missing content', { user_ids: ['val-1'], notification: { heading: 'h' } }, 'notification.content'],
      ['content not a string', { user_ids: ['val-1'], notification: { content: 42 } }, 'notification.content'],
      ['blank content', { user_ids: ['val-1'], notification: { content: '   ' } }, 'notification.content'],
      ['NUL in content', { user_ids: ['val-1'], notification: { content: 'a\u0000b' } }, 'notification.content'],
      ['unpaired surrogate in payload', { user_ids: ['val-1'], notification: { content: 'x', payload: { note: '\ud800' } } }, 'notification.payload.note'],
      ['heading not a string', { user_ids: ['val-1'], notification: { content: 'x', heading: 7 } }, 'notification.heading'],
      ['image_url not a URL', { user_ids: ['val-1'], notification: { content: 'x', image_url: 'not a url' } }, 'notification.image_url'],
      ['image_url not http(s)', { user_ids: ['val-1'], notification: { content: 'x', image_url: 'javascript:alert(1)' } }, 'notification.image_url'],
      ['image_url not a string', { user_ids: ['val-1'], notification: { content: 'x', image_url: 12 } }, 'notification.image_url'],
      ['send_after not a date', { user_ids: ['val-1'], notification: { content: 'x', send_after: 'tomorrow' } }, 'notification.send_after'],
      ['send_after impossible date', { user_ids: ['val-1'], notification: { content: 'x', send_after: '2026-13-45T00:00:00Z' } }, 'notification.send_after'],
      ['send_after not a calendar day', { user_ids: ['val-1'], notification: { content: 'x', send_after: '2026-02-30T09:00:00Z' } }, 'notification.send_after'],
      ['send_after at hour 24', { user_ids: ['val-1'], notification: { content: 'x', send_after: '2026-12-01T24:00:00Z' } }, 'notification.send_after'],
      ['send_after without a time zone', { user_ids: ['val-1'], notification: { content: 'x', send_after: '2026-12-01T09:00:00' } }, 'notification.send_after'],
      ['send_after not ISO-8601', { user_ids: ['val-1'], notification: { content: 'x', send_after: '2026-12-01 09:00' } }, 'notification.send_after'],
      ['send_after a number', { user_ids: ['val-1'], notification: { content: 'x', send_after: 1767225600000 } }, 'notification.send_after'],
      ['buttons not an array', { user_ids: ['val-1'], notification: { content: 'x', buttons: { id: 'a', text: 'A' } } }, 'notification.buttons'],
      ['button without id', { user_ids: ['val-1'], notification: { content: 'x', buttons: [{ text: 'A' }] } }, 'notification.buttons[0].id'],
      ['button without text', { user_ids: ['val-1'], notification: { content: 'x', buttons: [{ id: 'a' }] } }, 'notification.buttons[0].text'],
      ['button not an object', { user_ids: ['val-1'], notification: { content: 'x', buttons: ['a'] } }, 'notification.buttons[0]'],
      ['repeated button id', { user_ids: ['val-1'], notification: { content: 'x', buttons: [{ id: 'a', text: 'A' }, { id: 'a', text: 'B' }] } }, 'notification.buttons[1].id'],
      ['unknown button field', { user_ids: ['val-1'], notification: { content: 'x', buttons: [{ id: 'a', text: 'A', colour: 'red' }] } }, 'colour'],
      ['button icon not a string', { user_ids: ['val-1'], notification: { content: 'x', buttons: [{ id: 'a', text: 'A', icon: 5 }] } }, 'notification.buttons[0].icon'],
      ['too many buttons', { user_ids: ['val-1'], notification: { content: 'x', buttons: Array.from({ length: 11 }, (_, i) => ({ id: `b${i}`, text: 'B' })) } }, 'notification.buttons'],
      ['unknown notification field', { user_ids: ['val-1'], notification: { content: 'x', title: 'nope' } }, 'notification.title'],
      ['notification id "count" (the count route)', { user_ids: ['val-1'], notification: { content: 'x', id: 'count' } }, 'notification.id'],
      ['bad notification id', { user_ids: ['val-1'], notification: { content: 'x', id: 'has spaces' } }, 'notification.id'],
      ['unknown push field', { user_ids: ['val-1'], notification: valid, priority: 'high' }, 'priority'],
      ['missing notification', { user_ids: ['val-1'] }, 'notification'],
      ['notification an array', { user_ids: ['val-1'], notification: [valid] }, 'notification'],
      ['missing user_ids', { notification: valid }, 'user_ids'],
      ['empty user_ids', { user_ids: [], notification: valid }, 'user_ids'],
      ['user_ids not an array', { user_ids: 'val-1', notification: valid }, 'user_ids'],
      ['a user id not a string', { user_ids: ['val-1', 5], notification: valid }, 'user_ids[1]'],
      ['an empty user id', { user_ids: ['val-1', ''], notification: valid }, 'user_ids[1]'],
      ['a user id too long', { user_ids: ['val-1', 'u'.repeat(201)], notification: valid }, 'user_ids[1]'],
      ['more than 10,000 user_ids', { user_ids: ['val-1', ...many(10_000)], notification: valid }, 'user_ids'],
      ['idempotency_key not a string', { user_ids: ['val-1'], notification: valid, idempotency_key: 5 }, 'idempotency_key'],
    ];
    for (const [name, body, field] of cases) {
      it(`is 400 naming the field: ${name}`, async () => {
        const { status, body: error } = await sdkRejection(sdkPush(harness.backend(), body));
        assert.equal(status, 400);
        assert.equal(error.code, 'bad_request');
        assert.ok(error.error.includes(field), `"${error.error}" names ${field}`);
      });
    }

    it('is 400 for a body that is not a JSON object', async () => {
      for (const body of ['{not json', '[1,2]', '"text"']) {
        const reply = await signedCall(harness.baseUrl, harness.app, 'POST', '/notifications', body);
        assert.equal(reply.status, 400, body);
        assert.equal(reply.body.code, 'bad_request');
      }
    });

    it('is 413 for a notification larger than the app\'s payload limit', async () => {
      const { status, body } = await sdkRejection(sdkPush(harness.backend(), { user_ids: ['val-1'], notification: { content: 'x'.repeat(11_000) } }));
      assert.equal(status, 413);
      assert.equal(body.code, 'payload_too_large');
      assert.ok(body.error.includes('notification'));
    });

    it('stores nothing for a rejected push', async () => {
      // Every case above addressed val-1 (and the bulk ones bulk-*): none of them left a row.
      assert.deepEqual(await counts('val-1'), { unread: 0, total: 0 });
      assert.deepEqual(await counts('bulk-0'), { unread: 0, total: 0 });
      const listed = await backend<ListAnswer>('GET', '/users/val-1/notifications');
      assert.deepEqual(listed.body.notifications, []);
    });

    it('accepts exactly 10,000 users in one push', async () => {
      const users = many(10_000);
      const answer = await sdkPush(harness.backend(), { user_ids: users, notification: { content: 'to everyone' } });
      assert.equal(answer.notifications.length, 10_000);
      assert.deepEqual(new Set(answer.notifications.map((row) => row.user_id)), new Set(users));
      assert.ok(answer.notifications.every((row) => row.seq === 1 && row.id === answer.notifications[0].id));
      assert.deepEqual(await counts('bulk-9999'), { unread: 1, total: 1 });
    });
  });

  it('stores a push to a user id that cannot name a channel, readable over HTTP only', async () => {
    const user = 'auth0|5f7c8ec7c33c6c004bbafe82';
    const answer = await sdkPush(harness.backend(), { user_ids: [user], notification: { content: 'no live channel' } });
    assert.equal(answer.notifications[0].seq, 1);
    const listed = await signedCall<ListAnswer>(harness.baseUrl, harness.app, 'GET', `/users/${encodeURIComponent(user)}/notifications`);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.notifications.map((n) => n.id), [answer.notifications[0].id]);
  });

  it('is 409 for an id one of the users already has, and then stores nothing for anyone', async () => {
    await sdkPush(harness.backend(), { user_ids: ['dup-b'], notification: { id: 'promo-1', content: 'first' } });
    const { status, body } = await sdkRejection(sdkPush(harness.backend(), { user_ids: ['dup-a', 'dup-b'], notification: { id: 'promo-1', content: 'again' } }));
    assert.equal(status, 409);
    assert.equal(body.code, 'conflict');
    assert.deepEqual(await counts('dup-a'), { unread: 0, total: 0 }, 'the other recipient got nothing: one transaction');
    assert.deepEqual(await counts('dup-b'), { unread: 1, total: 1 });
    const first = await backend<NotificationJson>('GET', '/users/dup-b/notifications/promo-1');
    assert.equal(first.body.content, 'first');
  });

  it('answers a retry with the same idempotency key with the same rows, storing and delivering nothing new', async () => {
    const device = await inboxDevice(harness, 'idem');
    const body = { user_ids: ['idem', 'idem-2'], notification: { content: 'once' }, idempotency_key: 'order-42-shipped' };
    const first = await sdkPush(harness.backend(), body);
    await device.waitFor('Internal Notification');
    const retry = await sdkPush(harness.backend(), body);
    assert.deepEqual(retry.notifications, first.notifications);
    // Even a retry with a different body is the first push's answer.
    const changed = await sdkPush(harness.backend(), { ...body, notification: { content: 'changed' } });
    assert.deepEqual(changed.notifications, first.notifications);
    assert.deepEqual(await counts('idem'), { unread: 1, total: 1 });
    assert.deepEqual(await counts('idem-2'), { unread: 1, total: 1 });
    await sleep(200);
    assert.equal(device.of('Internal Notification').length, 1, 'a replay is not delivered again');

    const other = await sdkPush(harness.backend(), { ...body, idempotency_key: 'order-43-shipped' });
    assert.notEqual(other.notifications[0].id, first.notifications[0].id);
    assert.equal(other.notifications.find((row) => row.user_id === 'idem')?.seq, 2);
    assert.deepEqual(await counts('idem'), { unread: 2, total: 2 });
  });

  it('refuses a push with a user token when allow_client_push is off (403), and stores nothing', async () => {
    const token = await tokenFor(harness.app, 'sender');
    const reply = await tokenCall<PushAnswer & { code: string }>(harness.baseUrl, harness.app.id, token, 'POST', '/notifications', {
      user_ids: ['client-target'],
      notification: { content: 'from a client' },
    });
    assert.equal(reply.status, 403);
    assert.equal(reply.body.code, 'forbidden');
    assert.deepEqual(await counts('client-target'), { unread: 0, total: 0 });
  });

  it('accepts a push with a user token when allow_client_push is on, recording the sender', async () => {
    const app = harness.apps[2];
    const token = await tokenFor(app, 'sender');
    const reply = await tokenCall<PushAnswer>(harness.baseUrl, app.id, token, 'POST', '/notifications', {
      user_ids: ['client-target'],
      notification: { content: 'from a client' },
    });
    assert.equal(reply.status, 200);
    const [row] = reply.body.notifications;
    assert.equal(row.seq, 1);
    const stored = await signedCall<NotificationJson>(harness.baseUrl, app, 'GET', `/users/client-target/notifications/${row.id}`);
    assert.equal(stored.status, 200);
    assert.equal(stored.body.sender_id, 'sender');

    const fromBackend = await sdkPush(harness.backend(app), { user_ids: ['client-target'], notification: { content: 'from the backend' } });
    const backendRow = await signedCall<NotificationJson>(harness.baseUrl, app, 'GET', `/users/client-target/notifications/${fromBackend.notifications[0].id}`);
    assert.equal(backendRow.body.sender_id, null);

    // A push needs a valid token: a bad one is 401 even when client push is allowed.
    const bad = await tokenCall(harness.baseUrl, app.id, `${token}x`, 'POST', '/notifications', { user_ids: ['client-target'], notification: { content: 'x' } });
    assert.equal(bad.status, 401);
  });
});
