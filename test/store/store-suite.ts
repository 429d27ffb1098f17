/** The InboxStore contract as a node:test suite, run against every implementation. */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DuplicateNotificationError,
  type InboxStore,
  type NewWebhookBatch,
  type NotificationInput,
  type StoredNotification,
  type WebhookBatch,
} from '../../src/store/store.js';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const HOUR = 60 * 60 * 1000;

/** Milliseconds after T0. */
function at(ms: number): Date {
  return new Date(T0.getTime() + ms);
}

function newApp(): string {
  return `app-${randomUUID()}`;
}

/** A minimal valid input, with overrides. */
export function notification(id: string, overrides: Partial<NotificationInput> = {}): NotificationInput {
  return { id, heading: null, content: `content of ${id}`, payload: null, imageUrl: null, sendAfter: null, buttons: [], senderId: null, ...overrides };
}

function seqs(list: readonly StoredNotification[]): (number | null)[] {
  return list.map((n) => n.seq);
}

/**
 * Runs the contract against a fresh store from `createStore` (migrated by the suite, closed after it).
 * Every test uses its own app ids, so the database may be shared with other runs.
 */
export function runStoreSuite(name: string, createStore: () => Promise<InboxStore>, cleanup?: () => Promise<void>): void {
  describe(`InboxStore contract: ${name}`, () => {
    let store: InboxStore;

    before(async () => {
      store = await createStore();
      await store.migrate();
    });

    after(async () => {
      await store.close();
      await cleanup?.();
    });

    /** Pushes `count` visible notifications n1..n{count} to one user, one push each. */
    async function pushMany(appId: string, userId: string, count: number): Promise<void> {
      for (let i = 1; i <= count; i++) await store.push(appId, [userId], notification(`n${i}`), null, at(i));
    }

    /** Releases everything due at `now`, in batches, and returns the released rows of `appId`. */
    async function releaseAll(now: Date, appId: string): Promise<StoredNotification[]> {
      const mine: StoredNotification[] = [];
      for (;;) {
        const batch = await store.releaseDue(now, 100);
        mine.push(...batch.filter((n) => n.appId === appId));
        if (batch.length < 100) return mine;
      }
    }

    it('migrate twice is harmless', async () => {
      await store.migrate();
      await store.migrate();
      assert.equal(await store.ping(), true);
    });

    it('push stores every field, then list, get and count show it', async () => {
      const app = newApp();
      const input = notification('welcome', {
        heading: 'Hello',
        content: 'World',
        payload: { deep: [1, 'two', { three: null }] },
        imageUrl: 'https://example.com/a.png',
        buttons: [{ id: 'ok', text: 'OK', icon: null }, { id: 'no', text: 'No', icon: 'x.png' }],
        senderId: 'alice',
      });
      const result = await store.push(app, ['bob'], input, null, T0);
      assert.equal(result.replayed, false);
      assert.deepEqual(result.rows, [{ id: 'welcome', userId: 'bob', seq: 1 }]);
      const expected: StoredNotification = {
        appId: app, userId: 'bob', id: 'welcome', seq: 1, heading: 'Hello', content: 'World',
        payload: { deep: [1, 'two', { three: null }] }, imageUrl: 'https://example.com/a.png', sendAfter: null,
        buttons: [{ id: 'ok', text: 'OK', icon: null }, { id: 'no', text: 'No', icon: 'x.png' }],
        senderId: 'alice', opened: false, openedAt: null, createdAt: T0,
      };
      assert.deepEqual(result.visible, [expected]);
      assert.deepEqual(await store.get(app, 'bob', 'welcome'), expected);
      assert.deepEqual(await store.list(app, 'bob', { limit: 10, unreadOnly: false }), { notifications: [expected], hasMore: false });
      assert.deepEqual(await store.count(app, 'bob'), { unread: 1, total: 1, lastSeq: 1 });
      assert.deepEqual(await store.count(app, 'carol'), { unread: 0, total: 0, lastSeq: 0 });
      assert.equal(await store.get(app, 'carol', 'welcome'), null);
    });

    it('payload may be any JSON value', async () => {
      const app = newApp();
      const payloads: unknown[] = ['text', 42, [1, 2], null, true, { a: { b: 'c' } }];
      for (const [i, payload] of payloads.entries()) await store.push(app, ['u'], notification(`p${i}`, { payload }), null, T0);
      for (const [i, payload] of payloads.entries()) assert.deepEqual((await store.get(app, 'u', `p${i}`))?.payload, payload);
    });

    it('seq is contiguous per user and independent between users and apps', async () => {
      const app = newApp();
      const other = newApp();
      await pushMany(app, 'a', 3);
      await store.push(app, ['b'], notification('n1'), null, T0);
      await store.push(other, ['a'], notification('n1'), null, T0);
      const both = await store.push(app, ['a', 'b'], notification('both'), null, T0);
      assert.deepEqual(both.rows, [{ id: 'both', userId: 'a', seq: 4 }, { id: 'both', userId: 'b', seq: 2 }]);
      const list = await store.list(app, 'a', { afterSeq: 0, limit: 10, unreadOnly: false });
      assert.deepEqual(seqs(list.notifications), [1, 2, 3, 4]);
      assert.deepEqual((await store.list(other, 'a', { limit: 10, unreadOnly: false })).notifications.map((n) => [n.id, n.seq]), [['n1', 1]]);
    });

    it('repeated user ids in one push are stored once', async () => {
      const app = newApp();
      const result = await store.push(app, ['a', 'b', 'a'], notification('x'), null, T0);
      assert.deepEqual(result.rows.map((r) => [r.userId, r.seq]), [['a', 1], ['b', 1]]);
      assert.equal(result.visible.length, 2);
      assert.deepEqual(await store.count(app, 'a'), { unread: 1, total: 1, lastSeq: 1 });
    });

    it('lists newest first with before_seq, oldest first with after_seq, with limit and has_more', async () => {
      const app = newApp();
      await pushMany(app, 'u', 5);
      const page = (q: Parameters<InboxStore['list']>[2]) => store.list(app, 'u', q).then((r) => [seqs(r.notifications), r.hasMore]);
      assert.deepEqual(await page({ limit: 2, unreadOnly: false }), [[5, 4], true]);
      assert.deepEqual(await page({ beforeSeq: 4, limit: 2, unreadOnly: false }), [[3, 2], true]);
      assert.deepEqual(await page({ beforeSeq: 2, limit: 2, unreadOnly: false }), [[1], false]);
      assert.deepEqual(await page({ beforeSeq: 3, limit: 2, unreadOnly: false }), [[2, 1], false]);
      assert.deepEqual(await page({ afterSeq: 2, limit: 2, unreadOnly: false }), [[3, 4], true]);
      assert.deepEqual(await page({ afterSeq: 4, limit: 2, unreadOnly: false }), [[5], false]);
      assert.deepEqual(await page({ afterSeq: 5, limit: 2, unreadOnly: false }), [[], false]);
      assert.deepEqual(await page({ limit: 5, unreadOnly: false }), [[5, 4, 3, 2, 1], false]);
      await store.open(app, 'u', ['n5', 'n3'], T0);
      assert.deepEqual(await page({ limit: 10, unreadOnly: true }), [[4, 2, 1], false]);
      assert.deepEqual(await page({ limit: 2, unreadOnly: true }), [[4, 2], true]);
      assert.deepEqual(await page({ afterSeq: 1, limit: 10, unreadOnly: true }), [[2, 4], false]);
    });

    it('opens by ids and all, returning changed ids and counts', async () => {
      const app = newApp();
      await pushMany(app, 'u', 3);
      const first = await store.open(app, 'u', ['n2', 'missing', 'n1'], at(HOUR));
      assert.deepEqual(first, { opened: ['n2', 'n1'], counts: { unread: 1, total: 3, lastSeq: 3 } });
      const opened = await store.get(app, 'u', 'n2');
      assert.equal(opened?.opened, true);
      assert.deepEqual(opened?.openedAt, at(HOUR));
      assert.deepEqual(await store.open(app, 'u', ['n2', 'n1'], at(2 * HOUR)), { opened: [], counts: { unread: 1, total: 3, lastSeq: 3 } });
      assert.deepEqual((await store.get(app, 'u', 'n2'))?.openedAt, at(HOUR), 'opening again keeps the first time');
      assert.deepEqual(await store.open(app, 'u', 'all', at(3 * HOUR)), { opened: ['n3'], counts: { unread: 0, total: 3, lastSeq: 3 } });
      assert.deepEqual(await store.open(app, 'u', 'all', at(4 * HOUR)), { opened: [], counts: { unread: 0, total: 3, lastSeq: 3 } });
    });

    it('open all returns every unread id', async () => {
      const app = newApp();
      await pushMany(app, 'u', 4);
      await store.open(app, 'u', ['n3'], T0);
      const result = await store.open(app, 'u', 'all', T0);
      assert.deepEqual([...result.opened].sort(), ['n1', 'n2', 'n4']);
      assert.deepEqual(result.counts, { unread: 0, total: 4, lastSeq: 4 });
    });

    it('deletes a notification once', async () => {
      const app = newApp();
      await pushMany(app, 'u', 2);
      await store.open(app, 'u', ['n2'], T0);
      assert.deepEqual(await store.delete(app, 'u', 'n1'), { unread: 0, total: 1, lastSeq: 2 });
      assert.equal(await store.delete(app, 'u', 'n1'), null);
      assert.equal(await store.delete(app, 'u', 'unknown'), null);
      assert.equal(await store.delete(app, 'other-user', 'n2'), null);
      assert.equal(await store.get(app, 'u', 'n1'), null);
      assert.deepEqual(await store.delete(app, 'u', 'n2'), { unread: 0, total: 0, lastSeq: 2 });
    });

    it('records button actions on known notifications only', async () => {
      const app = newApp();
      await store.push(app, ['u'], notification('n1', { buttons: [{ id: 'ok', text: 'OK', icon: null }] }), null, T0);
      assert.equal(await store.recordAction(app, 'u', 'n1', 'ok', T0), true);
      assert.equal(await store.recordAction(app, 'u', 'n1', 'ok', at(1)), true);
      assert.equal(await store.recordAction(app, 'u', 'unknown', 'ok', T0), false);
      assert.equal(await store.recordAction(app, 'other', 'n1', 'ok', T0), false);
      await store.delete(app, 'u', 'n1');
      assert.equal(await store.recordAction(app, 'u', 'n1', 'ok', T0), false);
    });

    it('replays a push with the same idempotency key without storing', async () => {
      const app = newApp();
      const first = await store.push(app, ['a', 'b'], notification('x'), 'key-1', T0);
      const second = await store.push(app, ['a', 'b', 'c'], notification('y'), 'key-1', at(HOUR));
      assert.deepEqual(second, { rows: first.rows, replayed: true, visible: [] });
      assert.deepEqual(await store.count(app, 'a'), { unread: 1, total: 1, lastSeq: 1 });
      assert.deepEqual(await store.count(app, 'c'), { unread: 0, total: 0, lastSeq: 0 });
      assert.equal(await store.get(app, 'a', 'y'), null);
    });

    it('scopes idempotency keys per app', async () => {
      const app = newApp();
      const other = newApp();
      await store.push(app, ['a'], notification('x'), 'shared-key', T0);
      const result = await store.push(other, ['a'], notification('x'), 'shared-key', T0);
      assert.equal(result.replayed, false);
      assert.deepEqual(result.rows, [{ id: 'x', userId: 'a', seq: 1 }]);
      assert.equal(result.visible.length, 1);
    });

    it('scopes idempotency keys per sender: the backend and each user have their own', async () => {
      const app = newApp();
      const byUser = await store.push(app, ['victim'], notification('from-user', { senderId: 'mallory' }), 'order-1', T0);
      assert.equal(byUser.replayed, false);
      const byBackend = await store.push(app, ['victim'], notification('from-backend'), 'order-1', at(1));
      assert.equal(byBackend.replayed, false, "a user's key does not stop the backend's push");
      assert.deepEqual(byBackend.rows, [{ id: 'from-backend', userId: 'victim', seq: 2 }]);
      const otherUser = await store.push(app, ['victim'], notification('from-other', { senderId: 'trent' }), 'order-1', at(2));
      assert.equal(otherUser.replayed, false, "nor does it answer another user's push");
      const backendRetry = await store.push(app, ['victim'], notification('again'), 'order-1', at(3));
      assert.deepEqual(backendRetry, { rows: byBackend.rows, replayed: true, visible: [] });
      const userRetry = await store.push(app, ['victim'], notification('again', { senderId: 'mallory' }), 'order-1', at(4));
      assert.deepEqual(userRetry, { rows: byUser.rows, replayed: true, visible: [] });
    });

    it('forgets idempotency keys after 24 hours', async () => {
      const app = newApp();
      await store.push(app, ['a'], notification('x'), 'k', T0);
      assert.equal((await store.push(app, ['a'], notification('y'), 'k', at(24 * HOUR - 1))).replayed, true);
      const late = await store.push(app, ['a'], notification('y'), 'k', at(24 * HOUR + 1));
      assert.equal(late.replayed, false);
      assert.deepEqual(late.rows, [{ id: 'y', userId: 'a', seq: 2 }]);
    });

    it('does not replay a key removed by prune', async () => {
      const app = newApp();
      await store.push(app, ['a'], notification('x'), 'k', T0);
      await store.pruneIdempotencyKeys(at(1));
      const again = await store.push(app, ['a'], notification('y'), 'k', at(HOUR));
      assert.equal(again.replayed, false);
      assert.deepEqual(await store.count(app, 'a'), { unread: 2, total: 2, lastSeq: 2 });
      await store.pruneIdempotencyKeys(T0);
      assert.equal((await store.push(app, ['a'], notification('z'), 'k', at(2 * HOUR))).replayed, true, 'a younger key survives prune');
    });

    it('rejects a duplicate id for a user and stores nothing for anyone', async () => {
      const app = newApp();
      await store.push(app, ['b'], notification('x'), null, T0);
      await assert.rejects(
        store.push(app, ['a', 'b', 'c'], notification('x'), 'dup-key', T0),
        (error: unknown) => error instanceof DuplicateNotificationError && error.notificationId === 'x',
      );
      assert.deepEqual(await store.count(app, 'a'), { unread: 0, total: 0, lastSeq: 0 });
      assert.deepEqual(await store.count(app, 'c'), { unread: 0, total: 0, lastSeq: 0 });
      assert.deepEqual(await store.count(app, 'b'), { unread: 1, total: 1, lastSeq: 1 });
      const retry = await store.push(app, ['a', 'b', 'c'], notification('y'), 'dup-key', T0);
      assert.equal(retry.replayed, false, 'the failed push did not keep its idempotency key');
      assert.deepEqual(retry.rows.map((r) => r.seq), [1, 2, 1], 'the failed push did not consume seqs');
    });

    it('keeps scheduled notifications invisible until released, then gives them the next seq', async () => {
      const app = newApp();
      const due = at(HOUR);
      await pushMany(app, 'u', 2);
      const scheduled = await store.push(app, ['u', 'v'], notification('later', { sendAfter: due }), null, T0);
      assert.deepEqual(scheduled, { rows: [{ id: 'later', userId: 'u', seq: null }, { id: 'later', userId: 'v', seq: null }], replayed: false, visible: [] });
      assert.equal(await store.get(app, 'u', 'later'), null);
      assert.deepEqual(await store.count(app, 'u'), { unread: 2, total: 2, lastSeq: 2 });
      assert.deepEqual(seqs((await store.list(app, 'u', { limit: 10, unreadOnly: false })).notifications), [2, 1]);
      assert.deepEqual(await store.open(app, 'u', ['later'], T0), { opened: [], counts: { unread: 2, total: 2, lastSeq: 2 } });
      assert.deepEqual((await store.open(app, 'v', 'all', T0)).opened, []);
      assert.equal(await store.delete(app, 'u', 'later'), null);
      assert.equal(await store.recordAction(app, 'u', 'later', 'ok', T0), false);
      await assert.rejects(store.push(app, ['u'], notification('later'), null, T0), DuplicateNotificationError);
      await store.push(app, ['u'], notification('n3'), null, at(1));

      const nextDue = await store.nextDueAt();
      assert.ok(nextDue !== null && nextDue <= due);
      assert.deepEqual(await releaseAll(at(HOUR - 1), app), [], 'not due yet');
      const released = await releaseAll(due, app);
      assert.deepEqual(released.map((n) => [n.userId, n.id, n.seq]), [['u', 'later', 4], ['v', 'later', 1]]);
      assert.deepEqual(released[0], await store.get(app, 'u', 'later'));
      assert.deepEqual(released[0].sendAfter, due);
      assert.deepEqual(released[0].createdAt, T0);
      assert.deepEqual(await store.count(app, 'u'), { unread: 4, total: 4, lastSeq: 4 });
      assert.deepEqual(seqs((await store.list(app, 'u', { afterSeq: 3, limit: 10, unreadOnly: false })).notifications), [4]);
      const after = await store.nextDueAt();
      assert.ok(after === null || after > due, 'nothing due at the release time is left');
    });

    it('makes a push visible at once when send_after is not in the future', async () => {
      const app = newApp();
      const result = await store.push(app, ['u'], notification('x', { sendAfter: T0 }), null, T0);
      assert.deepEqual(result.rows, [{ id: 'x', userId: 'u', seq: 1 }]);
      assert.deepEqual(result.visible[0]?.sendAfter, T0);
    });

    it('releases due notifications in send_after order, at most limit at a time', async () => {
      const app = newApp();
      const base = at(10 * HOUR);
      for (let i = 5; i >= 1; i--) await store.push(app, ['u'], notification(`s${i}`, { sendAfter: new Date(base.getTime() + i) }), null, T0);
      const now = new Date(base.getTime() + 5);
      const mine: StoredNotification[] = [];
      for (let round = 0; mine.length < 5; round++) {
        assert.ok(round < 100, 'released everything');
        const batch = await store.releaseDue(now, 2);
        assert.ok(batch.length <= 2);
        // This app alone still has that many rows due; rows of others may fill a batch but never shrink it.
        if (5 - mine.length >= 2) assert.equal(batch.length, 2);
        mine.push(...batch.filter((n) => n.appId === app));
      }
      assert.deepEqual(mine.map((n) => [n.id, n.seq]), [['s1', 1], ['s2', 2], ['s3', 3], ['s4', 4], ['s5', 5]]);
      assert.deepEqual(await store.releaseDue(now, 0), []);
    });

    it('stores a push to 10,000 users in one call', async (t) => {
      const app = newApp();
      const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
      const started = performance.now();
      const result = await store.push(app, users, notification('broadcast', { payload: { kind: 'news' } }), 'big', T0);
      t.diagnostic(`push to 10,000 users took ${(performance.now() - started).toFixed(1)} ms`);
      assert.equal(result.rows.length, 10_000);
      assert.ok(result.rows.every((r, i) => r.userId === users[i] && r.seq === 1));
      assert.equal(result.visible.length, 10_000);
      assert.deepEqual(await store.count(app, 'user-9999'), { unread: 1, total: 1, lastSeq: 1 });
      assert.equal((await store.get(app, 'user-5000', 'broadcast'))?.seq, 1);
      const replay = await store.push(app, users, notification('broadcast'), 'big', T0);
      assert.equal(replay.replayed, true);
      assert.deepEqual(replay.rows, result.rows);
    });

    it('gives concurrent pushes to one user seqs without gaps', async () => {
      const app = newApp();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.push(app, ['u'], notification(`c${i}`), null, T0)));
      assert.deepEqual(results.map((r) => r.rows[0].seq).sort((a, b) => a! - b!), Array.from({ length: 20 }, (_, i) => i + 1));
      const list = await store.list(app, 'u', { afterSeq: 0, limit: 100, unreadOnly: false });
      assert.deepEqual(seqs(list.notifications), Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it('answers ping', async () => {
      assert.equal(await store.ping(), true);
    });

    describe('WebhookOutbox', () => {
      const W0 = new Date('2031-01-01T00:00:00.000Z').getTime();
      const FAR = new Date('2100-01-01T00:00:00.000Z');
      const LEASE = 60_000;
      const w = (ms: number) => new Date(W0 + ms);

      function batch(appId: string, target: string, body: string, createdMs = 0, dueMs = createdMs): NewWebhookBatch {
        return { appId, target, body, createdAt: w(createdMs), nextAttemptAt: w(dueMs) };
      }

      /** Claims at `nowMs` (leased for LEASE, to `holder`) and returns the claimed batches of `appId`. */
      async function claimMine(appId: string, nowMs: number, limit = 1000, holder = 'node-a'): Promise<WebhookBatch[]> {
        return (await store.outbox.claimWebhooks(w(nowMs), w(nowMs + LEASE), limit, holder)).filter((b) => b.appId === appId);
      }

      const bodies = (list: readonly WebhookBatch[]) => list.map((b) => b.body);

      /** Completes everything still pending (claimable far in the future), so later tests start from an empty outbox. */
      async function drain(): Promise<void> {
        for (let round = 0; round < 1000; round++) {
          const claimed = await store.outbox.claimWebhooks(FAR, new Date(FAR.getTime() + LEASE), 1000, 'drain');
          if (claimed.length === 0) return;
          for (const b of claimed) await store.outbox.completeWebhook(b.id);
        }
        throw new Error('the outbox did not drain');
      }

      after(drain);

      it('stores batches, claims the due ones with every field, and completes them', async () => {
        const app = newApp();
        await store.outbox.enqueueWebhooks([batch(app, 'https://a.example/hook', '{"n":1}', 0, 10), batch(app, 'https://b.example/hook', '{"n":2}', 5, 10)]);
        assert.deepEqual(await store.outbox.countWebhooks(app), { pending: 2, parked: 0 });
        assert.deepEqual(await claimMine(app, 9), [], 'not due yet');
        const claimed = await claimMine(app, 10);
        assert.equal(claimed.length, 2);
        assert.ok(claimed[0].id < claimed[1].id);
        assert.equal(typeof claimed[0].lease, 'string');
        assert.deepEqual(
          claimed.map(({ id: _id, lease: _lease, ...rest }) => rest),
          [
            { appId: app, target: 'https://a.example/hook', body: '{"n":1}', createdAt: w(0), nextAttemptAt: w(10), attempts: 0, lastError: null },
            { appId: app, target: 'https://b.example/hook', body: '{"n":2}', createdAt: w(5), nextAttemptAt: w(10), attempts: 0, lastError: null },
          ],
        );
        assert.deepEqual(await claimMine(app, 10), [], 'leased batches are not handed out again');
        for (const b of claimed) await store.outbox.completeWebhook(b.id);
        assert.deepEqual(await store.outbox.countWebhooks(app), { pending: 0, parked: 0 });
        assert.deepEqual(await claimMine(app, LEASE * 10), [], 'completed batches are gone');
        await store.outbox.enqueueWebhooks([]);
      });

      it('hands out the batches of one target one at a time, in creation order', async () => {
        const app = newApp();
        const a = 'https://a.example/hook';
        await store.outbox.enqueueWebhooks([batch(app, a, 'a1'), batch(app, a, 'a2'), batch(app, 'https://b.example/hook', 'b1'), batch(app, a, 'a3')]);
        await store.outbox.enqueueWebhooks([batch(app, a, 'a4')]);
        const first = await claimMine(app, 0);
        assert.deepEqual(bodies(first), ['a1', 'b1']);
        const other = newApp();
        await store.outbox.enqueueWebhooks([batch(other, a, 'other-a1')]);
        assert.deepEqual(bodies(await claimMine(other, 0)), ['other-a1'], 'targets are per app');
        assert.deepEqual(await claimMine(app, 0), [], 'a2 waits while a1 is being sent');
        await store.outbox.completeWebhook(first[0].id);
        const second = await claimMine(app, 1);
        assert.deepEqual(bodies(second), ['a2']);
        assert.equal(await store.outbox.rescheduleWebhook(second[0].id, second[0].lease, w(100), 1, 'HTTP 500'), true);
        assert.deepEqual(await claimMine(app, 50), [], 'a3 waits while a2 is retrying');
        const retried = await claimMine(app, 100);
        assert.deepEqual(retried.map((b) => [b.body, b.attempts, b.lastError, b.nextAttemptAt]), [['a2', 1, 'HTTP 500', w(100)]]);
        assert.equal(await store.outbox.parkWebhook(retried[0].id, retried[0].lease, 2, 'HTTP 503', w(100)), true);
        const third = await claimMine(app, 100);
        assert.deepEqual(bodies(third), ['a3'], 'parking a batch lets the next one of its target go');
        await store.outbox.completeWebhook(third[0].id);
        assert.deepEqual(bodies(await claimMine(app, 100)), ['a4']);
        assert.deepEqual(await store.outbox.countWebhooks(app), { pending: 2, parked: 1 }, 'a4 and b1 are still leased, a2 parked');
        await drain();
      });

      it('claims a batch again once its lease ran out; a stale lease cannot reschedule or park it', async () => {
        const app = newApp();
        await store.outbox.enqueueWebhooks([batch(app, 't', 'x')]);
        const [first] = await claimMine(app, 0);
        assert.deepEqual(await claimMine(app, LEASE - 1), []);
        const [second] = await claimMine(app, LEASE);
        assert.equal(second.id, first.id);
        assert.notEqual(second.lease, first.lease);
        assert.equal(await store.outbox.rescheduleWebhook(first.id, first.lease, w(0), 1, 'late'), false);
        assert.equal(await store.outbox.parkWebhook(first.id, first.lease, 1, 'late', w(0)), false);
        assert.equal(await store.outbox.rescheduleWebhook(second.id, second.lease, w(LEASE + 10), 1, 'timeout'), true);
        assert.equal(await store.outbox.rescheduleWebhook(second.id, second.lease, w(LEASE + 10), 1, 'twice'), false, 'a lease ends with its reschedule');
        const [third] = await claimMine(app, LEASE + 10);
        assert.deepEqual([third.body, third.attempts, third.lastError], ['x', 1, 'timeout']);
        await store.outbox.completeWebhook(third.id);
        await store.outbox.completeWebhook(third.id);
        assert.deepEqual(await store.outbox.countWebhooks(app), { pending: 0, parked: 0 });
      });

      it('ends the leases of one holder only, leaving those batches as they were before the claim', async () => {
        const app = newApp();
        await store.outbox.enqueueWebhooks([batch(app, 't1', 'r1'), batch(app, 't2', 'r2'), batch(app, 't3', 'r3'), batch(app, 't4', 'r4')]);
        const [r1] = await claimMine(app, 0, 1, 'node-a');
        const [r2] = await claimMine(app, 0, 1, 'node-a|b'); // a holder whose name starts like another's
        const [r3] = await claimMine(app, 0, 1, 'node-b');
        const [r4] = await claimMine(app, 0, 1, 'node-a');
        assert.deepEqual(bodies([r1, r2, r3, r4]), ['r1', 'r2', 'r3', 'r4']);
        assert.equal(await store.outbox.rescheduleWebhook(r4.id, r4.lease, w(0), 1, 'HTTP 503'), true);
        assert.deepEqual(bodies(await claimMine(app, 0, 1, 'node-a')), ['r4'], 'r4 leased again after a failed attempt');

        assert.equal(await store.outbox.releaseWebhookLeases('node-a'), 2, "node-a's two leases (r1 and r4), not node-a|b's");
        assert.equal(await store.outbox.releaseWebhookLeases('node-a'), 0, 'nothing left to end');
        assert.equal(await store.outbox.rescheduleWebhook(r1.id, r1.lease, w(0), 9, 'stale'), false, 'an ended lease cannot reschedule');
        const again = await claimMine(app, 0, 1000, 'node-c');
        assert.deepEqual(
          again.map((b) => [b.body, b.attempts, b.lastError]),
          [['r1', 0, null], ['r4', 1, 'HTTP 503']],
          'due at once, with the attempts and error they had',
        );
        assert.equal(await store.outbox.rescheduleWebhook(r3.id, r3.lease, w(0), 1, 'still held'), true, "node-b's lease was untouched");
        assert.equal(await store.outbox.releaseWebhookLeases('node-a|b'), 1);
        await drain();
      });

      it('ends the leases of a holder but those it keeps (batches it is still sending)', async () => {
        const app = newApp();
        await store.outbox.enqueueWebhooks([batch(app, 't1', 'k1'), batch(app, 't2', 'k2'), batch(app, 't3', 'k3')]);
        const [k1, k2, k3] = [...(await claimMine(app, 0, 1, 'node-k')), ...(await claimMine(app, 0, 1, 'node-k')), ...(await claimMine(app, 0, 1, 'node-k'))];
        assert.deepEqual(bodies([k1, k2, k3]), ['k1', 'k2', 'k3']);
        assert.equal(await store.outbox.releaseWebhookLeases('node-k', [k1.id, k3.id]), 1, 'only k2, which it is not sending');
        assert.equal(await store.outbox.rescheduleWebhook(k1.id, k1.lease, w(0), 1, 'kept'), true, 'a kept lease still holds');
        assert.equal(await store.outbox.rescheduleWebhook(k2.id, k2.lease, w(0), 1, 'ended'), false);
        assert.equal(await store.outbox.releaseWebhookLeases('node-k'), 1, 'k3');
        await drain();
      });

      it('keeps parked batches, counts them per app and in total, and never claims them', async () => {
        const app = newApp();
        const before = await store.outbox.countWebhooks();
        await store.outbox.enqueueWebhooks([batch(app, 't1', 'p1'), batch(app, 't2', 'p2'), batch(app, 't3', 'p3')]);
        const claimed = await claimMine(app, 0);
        assert.deepEqual(bodies(claimed), ['p1', 'p2', 'p3']);
        for (const b of claimed.slice(0, 2)) assert.equal(await store.outbox.parkWebhook(b.id, b.lease, 7, 'gave up', w(0)), true);
        assert.equal(await store.outbox.rescheduleWebhook(claimed[0].id, claimed[0].lease, w(0), 8, 'parked'), false, 'a parked batch stays parked');
        assert.deepEqual(await store.outbox.countWebhooks(app), { pending: 1, parked: 2 });
        const total = await store.outbox.countWebhooks();
        assert.deepEqual(total, { pending: before.pending + 1, parked: before.parked + 2 });
        assert.deepEqual(bodies(await claimMine(app, LEASE * 100)), ['p3'], 'after every lease ran out, only the unparked batch comes back');
        await drain();
        assert.deepEqual(await store.outbox.countWebhooks(app), { pending: 0, parked: 2 });
      });

      it('claims at most limit batches, oldest first', async () => {
        const app = newApp();
        await store.outbox.enqueueWebhooks(Array.from({ length: 5 }, (_, i) => batch(app, `t${i}`, `l${i}`)));
        assert.deepEqual(bodies(await store.outbox.claimWebhooks(w(0), w(LEASE), 2, 'node-a')), ['l0', 'l1']);
        assert.deepEqual(bodies(await store.outbox.claimWebhooks(w(0), w(LEASE), 2, 'node-a')), ['l2', 'l3']);
        assert.deepEqual(bodies(await store.outbox.claimWebhooks(w(0), w(LEASE), 2, 'node-a')), ['l4']);
        assert.deepEqual(await store.outbox.claimWebhooks(w(0), w(LEASE), 0, 'node-a'), []);
        await drain();
      });

      it('never hands one batch to two concurrent claims', async () => {
        const app = newApp();
        await store.outbox.enqueueWebhooks(Array.from({ length: 20 }, (_, i) => batch(app, `t${i}`, `c${i}`)));
        const claims = await Promise.all(Array.from({ length: 8 }, () => claimMine(app, 0, 4)));
        const ids = claims.flat().map((b) => b.id);
        assert.equal(new Set(ids).size, ids.length, 'no batch claimed twice');
        assert.equal(ids.length, 20);
        await drain();
      });
    });
  });
}
