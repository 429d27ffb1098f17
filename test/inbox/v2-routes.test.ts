/**
 * Inbox v2 over HTTP and live (design.md §5), on SQLite and on PostgreSQL: push fields, filters,
 * counts, bulk with up_to_seq, the change feed (and 410 resync), `herald:inbox_changed` on every
 * device, snooze and expiry on time, collapse, any user id live, and the opt-in webhooks.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { INBOX_CHANGED_EVENT } from '../../src/inbox/inbox.js';
import type { NotificationJson } from '../../src/inbox/notification-json.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { InboxStore } from '../../src/store/store.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { backendCaller, inboxDevice, sdkList, sdkPush, tokenFor, userCaller, type Call, type ErrorBody } from '../helpers/inbox.js';
import { waitFor } from '../helpers/wait.js';
import { named, Receiver } from '../webhooks/receiver.js';

interface CountsJson {
  unseen: number;
  unread: number;
  total: number;
  last_seq: number;
}
interface ChangedEvent {
  change_seq: number;
  ids: string[];
  counts: CountsJson;
}
interface ChangesAnswer {
  changes: { change_seq: number; id: string; deleted: boolean; notification?: NotificationJson }[];
  has_more: boolean;
  change_seq: number;
}
interface BulkAnswer {
  affected: number;
  counts: CountsJson;
  change_seq: number;
}

const url = process.env.HERALD_TEST_DATABASE_URL;
const variants: { name: string; store?: () => { store: InboxStore; drop: () => Promise<void> } }[] = [{ name: 'sqlite' }];
if (url) {
  variants.push({
    name: 'postgres',
    store: () => {
      const schema = `herald_test_${randomBytes(6).toString('hex')}`;
      return {
        store: PostgresStore.connect(url, { schema }),
        drop: async () => {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await client.end();
        },
      };
    },
  });
} else {
  describe('inbox v2 routes: postgres', () => {
    it('SKIP: HERALD_TEST_DATABASE_URL is not set', (t) => t.skip('SKIP: HERALD_TEST_DATABASE_URL is not set'));
  });
}

for (const variant of variants) {
  describe(`inbox v2 routes: ${variant.name}`, () => {
    let harness: Harness;
    let receiver: Receiver;
    let backend: Call;
    let external: { store: InboxStore; drop: () => Promise<void> } | undefined;

    before(async () => {
      receiver = await Receiver.start();
      external = variant.store?.();
      harness = await startHarness({
        apps: [
          {
            id: 'v2-app',
            key: 'v2-key',
            secret: 'v2-secret',
            webhooks: [
              { url: receiver.url('/default') },
              { url: receiver.url('/v2'), events: ['notification_seen', 'notification_archived', 'notification_snoozed', 'notification_expired'] },
            ],
          },
        ],
        ...(external ? { deps: { store: external.store } } : {}),
      });
      backend = backendCaller(harness);
    });
    after(async () => {
      await harness.close();
      await external?.store.close();
      await external?.drop();
      await receiver.down();
    });

    it('push stores the v2 fields; lists filter by status, category, tags, tenant, priority; count and counts agree', async () => {
      const sdk = harness.backend();
      await sdkPush(sdk, { user_ids: ['ann'], notification: { id: 'bill', content: 'Invoice', category: 'billing', tags: ['money', 'eu'], priority: 'high', tenant: 'acme' } });
      await sdkPush(sdk, { user_ids: ['ann'], notification: { id: 'like', content: 'Liked', category: 'social', tags: ['fun'] } });
      await sdkPush(sdk, { user_ids: ['ann'], notification: { id: 'alert', content: 'Alert', priority: 'critical' } });
      const all = await sdkList(sdk, 'ann');
      assert.deepEqual(all.notifications.map((n) => n.id), ['alert', 'like', 'bill']);
      const bill = all.notifications[2];
      assert.deepEqual(
        [bill.category, bill.tags, bill.priority, bill.tenant, bill.seen, bill.seen_at, bill.archived, bill.snoozed_until, bill.expires_at, bill.actioned, bill.collapse_key, bill.collapsed_count],
        ['billing', ['money', 'eu'], 'high', 'acme', false, null, false, null, null, null, null, 1],
      );
      const ids = async (query: string) => (await backend<{ notifications: NotificationJson[] }>('GET', `/users/ann/notifications?${query}`)).body.notifications.map((n) => n.id);
      assert.deepEqual(await ids('category=billing,social'), ['like', 'bill']);
      assert.deepEqual(await ids('tags=eu,fun'), ['like', 'bill']);
      assert.deepEqual(await ids('tenant=acme'), ['bill']);
      assert.deepEqual(await ids('priority=high,critical'), ['alert', 'bill']);
      const token = await tokenFor(harness.app, 'ann');
      const ann = userCaller(harness, token);
      assert.equal((await ann('POST', '/users/ann/notifications/bulk', { action: 'seen', ids: ['like'] })).status, 200);
      assert.deepEqual(await ids('status=unseen'), ['alert', 'bill']);
      assert.deepEqual((await ann('GET', '/users/ann/notifications/count')).body, { unseen: 2, unread: 3, total: 3, last_seq: 3 });
      assert.deepEqual((await ann('GET', '/users/ann/notifications/count?category=billing')).body, { unseen: 1, unread: 1, total: 1, last_seq: 3 });
      const counts = await ann('POST', '/users/ann/notifications/counts', { views: { all: {}, billing: { category: ['billing'] }, urgent: { priority: ['critical'] }, archived: { archived: 'only' }, unseen: { status: 'unseen' } } });
      assert.deepEqual(counts.body, {
        views: {
          all: { unseen: 2, unread: 3, total: 3 },
          billing: { unseen: 1, unread: 1, total: 1 },
          urgent: { unseen: 1, unread: 1, total: 1 },
          archived: { unseen: 0, unread: 0, total: 0 },
          unseen: { unseen: 2, unread: 2, total: 2 },
        },
        last_seq: 3,
      });
    });

    it('refuses malformed v2 input with 400 naming the field', async () => {
      const sdk = harness.backend();
      const bad = async (notification: Record<string, unknown>, field: string) => {
        const reply = await backend<ErrorBody>('POST', '/notifications', { user_ids: ['x'], notification: { content: 'c', ...notification } });
        assert.equal(reply.status, 400, JSON.stringify(notification));
        assert.ok(reply.body.error.includes(field), `${reply.body.error} names ${field}`);
      };
      await bad({ category: 'Billing' }, 'category');
      await bad({ tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, 'tags');
      await bad({ priority: 'urgent' }, 'priority');
      await bad({ ttl_seconds: 0 }, 'ttl_seconds');
      await bad({ expires_at: 'tomorrow' }, 'expires_at');
      await bad({ expires_at: '2030-01-01T00:00:00Z', ttl_seconds: 5 }, 'ttl_seconds');
      await bad({ collapse_key: '' }, 'collapse_key');
      for (const [path, body, field] of [
        ['/users/x/notifications/bulk', { action: 'explode' }, 'action'],
        ['/users/x/notifications/bulk', { action: 'snooze', ids: ['a'] }, 'until'],
        ['/users/x/notifications/bulk', { action: 'snooze', ids: ['a'], until: '2000-01-01T00:00:00Z' }, 'until'],
        ['/users/x/notifications/bulk', { action: 'seen', up_to_seq: -1 }, 'up_to_seq'],
        ['/users/x/notifications/counts', { views: {} }, 'views'],
        ['/users/x/notifications/counts', { views: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`v${i}`, {}])) }, 'views'],
        ['/users/x/notifications/counts', { views: { a: { colour: 'red' } } }, 'colour'],
      ] as const) {
        const reply = await backend<ErrorBody>('POST', path, body);
        assert.equal(reply.status, 400, JSON.stringify(body));
        assert.ok(reply.body.error.includes(field), `${reply.body.error} names ${field}`);
      }
      const list = await backend<ErrorBody>('GET', '/users/x/notifications?archived=maybe');
      assert.equal(list.status, 400);
      assert.ok((await sdkList(sdk, 'x')).notifications);
    });

    it('every change reaches every device as herald:inbox_changed; an offline device catches up through /changes', async () => {
      const sdk = harness.backend();
      const phone = await inboxDevice(harness, 'bea');
      const laptop = await inboxDevice(harness, 'bea');
      for (const id of ['n1', 'n2', 'n3', 'n4']) await sdkPush(sdk, { user_ids: ['bea'], notification: { id, content: id } });
      await phone.waitFor(INBOX_CHANGED_EVENT, 4);
      const known = (await backend<ChangesAnswer>('GET', '/users/bea/notifications/changes?after=0')).body.change_seq;
      assert.equal(known, 4);

      const bea = userCaller(harness, await tokenFor(harness.app, 'bea'));
      const seen = await bea<BulkAnswer>('POST', '/users/bea/notifications/bulk', { action: 'seen', up_to_seq: 3 });
      assert.deepEqual(seen.body, { affected: 3, counts: { unseen: 1, unread: 4, total: 4, last_seq: 4 }, change_seq: 7 });
      await bea('POST', '/users/bea/notifications/open', { ids: ['n4'] });
      await bea('POST', '/users/bea/notifications/bulk', { action: 'archive', ids: ['n1'] });
      await bea('DELETE', '/users/bea/notifications/n2');
      const until = new Date(Date.now() + 60_000).toISOString();
      await bea('POST', '/users/bea/notifications/bulk', { action: 'snooze', ids: ['n3'], until });

      const events = await laptop.waitFor<ChangedEvent>(INBOX_CHANGED_EVENT, 9);
      const last = events.at(-1)!;
      assert.deepEqual(last, { change_seq: 11, ids: ['n3'], counts: { unseen: 0, unread: 0, total: 1, last_seq: 4 } });
      assert.deepEqual(events.slice(4).map((e) => e.change_seq), [7, 8, 9, 10, 11]);

      // The offline device held change 4: one call tells it everything since.
      const feed = (await bea<ChangesAnswer>('GET', '/users/bea/notifications/changes?after=4')).body;
      assert.equal(feed.change_seq, 11);
      assert.equal(feed.has_more, false);
      const state = new Map(feed.changes.map((c) => [c.id, c]));
      assert.equal(state.get('n1')?.notification?.archived, true);
      assert.equal(state.get('n2')?.deleted, true);
      assert.equal(state.get('n3')?.notification?.snoozed_until, until);
      assert.deepEqual([state.get('n4')?.notification?.opened, state.get('n4')?.notification?.seen], [true, true]);
      const paged = (await bea<ChangesAnswer>('GET', '/users/bea/notifications/changes?after=4&limit=2')).body;
      assert.deepEqual([paged.changes.length, paged.has_more], [2, true]);

      assert.deepEqual((await bea('GET', '/users/bea/notifications/changes')).body, { changes: [], has_more: false, change_seq: 11 }, 'no after: the cursor to start from');
      const resync = await bea<ErrorBody>('GET', '/users/bea/notifications/changes?after=999');
      assert.deepEqual([resync.status, resync.body.code], [410, 'resync']);
      const stranger = userCaller(harness, await tokenFor(harness.app, 'not-bea'));
      assert.equal((await stranger('GET', '/users/bea/notifications/changes?after=0')).status, 403);
    });

    it('collapse updates the live unopened notification (same id, new seq, count + 1) and delivers it again', async () => {
      const sdk = harness.backend();
      const device = await inboxDevice(harness, 'cal');
      const first = await sdkPush(sdk, { user_ids: ['cal'], notification: { id: 'chat-1', content: '1 new message', collapse_key: 'chat:42' } });
      const second = await sdkPush(sdk, { user_ids: ['cal'], notification: { content: '2 new messages', collapse_key: 'chat:42' } });
      assert.deepEqual(second.notifications, [{ id: 'chat-1', user_id: 'cal', seq: 2 }]);
      const delivered = await device.waitFor('Internal Notification', 2);
      assert.deepEqual(delivered.map((n) => [n.id, n.content, n.collapsed_count, n.seq]), [['chat-1', '1 new message', 1, 1], ['chat-1', '2 new messages', 2, 2]]);
      assert.equal(first.notifications[0].seq, 1);
      assert.deepEqual((await sdkList(sdk, 'cal')).notifications.map((n) => [n.id, n.collapsed_count]), [['chat-1', 2]]);
    });

    it('a snooze ends on time: resurfaced with a new seq and delivered live; expiry removes at once and is announced', async () => {
      const sdk = harness.backend();
      const device = await inboxDevice(harness, 'dan');
      await sdkPush(sdk, { user_ids: ['dan'], notification: { id: 'later', content: 'snooze me' } });
      await sdkPush(sdk, { user_ids: ['dan'], notification: { id: 'brief', content: 'gone soon', ttl_seconds: 1 } });
      const dan = userCaller(harness, await tokenFor(harness.app, 'dan'));
      const until = new Date(Date.now() + 600).toISOString();
      await dan('POST', '/users/dan/notifications/bulk', { action: 'snooze', ids: ['later'], until });
      assert.deepEqual((await sdkList(sdk, 'dan')).notifications.map((n) => n.id), ['brief']);
      await waitFor(() => device.of<NotificationJson>('Internal Notification').filter((n) => n.id === 'later').length === 2, 'the resurfaced notification', 5_000);
      const again = device.of<NotificationJson>('Internal Notification').filter((n) => n.id === 'later')[1];
      assert.deepEqual([again.seq, again.snoozed_until], [3, null]);
      await waitFor(() => device.of<ChangedEvent>(INBOX_CHANGED_EVENT).some((e) => e.ids.includes('brief') && e.counts.total === 1), 'the expiry event', 5_000);
      assert.deepEqual((await sdkList(sdk, 'dan')).notifications.map((n) => n.id), ['later']);
      const feed = (await dan<ChangesAnswer>('GET', '/users/dan/notifications/changes?after=2')).body;
      assert.deepEqual(feed.changes.map((c) => [c.id, c.deleted]).sort(), [['brief', true], ['later', false]]);
    });

    it('any user id gets live delivery on the documented channel, authorised by the built-in auth', async () => {
      const sdk = harness.backend();
      const userId = 'auth0|123';
      const token = await tokenFor(harness.app, userId);
      const reply = await fetch(`${harness.baseUrl}/apps/v2-app/auth`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'socket_id=1234.5678&channel_name=private-%3DYXV0aDB8MTIz',
      });
      assert.equal(reply.status, 200);
      const device = await inboxDevice(harness, userId);
      assert.equal(device.channel.name, 'private-=YXV0aDB8MTIz');
      await sdkPush(sdk, { user_ids: [userId, 'with space'], notification: { id: 'hi', content: 'hello' } });
      const [event] = await device.waitFor('Internal Notification');
      assert.equal(event.id, 'hi');
      const spaced = await inboxDevice(harness, 'with space');
      assert.equal(spaced.channel.name, 'private-=d2l0aCBzcGFjZQ');
      const other = await fetch(`${harness.baseUrl}/apps/v2-app/auth`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await tokenFor(harness.app, 'auth0|124')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'socket_id=1234.5678&channel_name=private-%3DYXV0aDB8MTIz',
      });
      assert.equal(other.status, 403);
    });

    it('the new state webhooks reach only targets that subscribed to them', async () => {
      const sdk = harness.backend();
      await sdkPush(sdk, { user_ids: ['eve'], notification: { id: 'w1', content: 'hook', ttl_seconds: 1 } });
      await sdkPush(sdk, { user_ids: ['eve'], notification: { id: 'w2', content: 'hook' } });
      const eve = backend;
      await eve('POST', '/users/eve/notifications/bulk', { action: 'seen', ids: ['w2'] });
      await eve('POST', '/users/eve/notifications/bulk', { action: 'archive', ids: ['w2'] });
      const until = new Date(Date.now() + 3_600_000).toISOString();
      await eve('POST', '/users/eve/notifications/bulk', { action: 'snooze', ids: ['w2'], until });
      const eves = (list: ReturnType<Receiver['events']>) => list.filter((e) => e.user_id === 'eve');
      const events = await receiver.waitForEvents(
        sdk,
        (list) => ['notification_seen', 'notification_archived', 'notification_snoozed', 'notification_expired'].every((name) => named(eves(list), name).length > 0),
        'the four v2 webhook events',
        8_000,
        '/v2',
      );
      assert.deepEqual(named(eves(events), 'notification_seen'), [{ name: 'notification_seen', user_id: 'eve', ids: ['w2'] }]);
      assert.deepEqual(named(eves(events), 'notification_archived'), [{ name: 'notification_archived', user_id: 'eve', ids: ['w2'] }]);
      assert.deepEqual(named(eves(events), 'notification_snoozed'), [{ name: 'notification_snoozed', user_id: 'eve', ids: ['w2'], until }]);
      assert.deepEqual(named(eves(events), 'notification_expired'), [{ name: 'notification_expired', user_id: 'eve', ids: ['w1'] }]);
      const defaults = receiver.events(sdk, '/default').map((e) => e.name);
      assert.ok(!defaults.some((name) => ['notification_seen', 'notification_archived', 'notification_snoozed', 'notification_expired'].includes(name)), defaults.join(','));
    });
  });
}
