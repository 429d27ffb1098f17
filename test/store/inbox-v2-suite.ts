/** The inbox v2 part of the InboxStore contract (design.md §5), run against every implementation with an injected clock. */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ChangesPage, InboxStore, StoredNotification } from '../../src/store/store.js';
import { notification } from './store-suite.js';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const MIN = 60 * 1000;

function at(ms: number): Date {
  return new Date(T0.getTime() + ms);
}

function ids(list: readonly StoredNotification[]): string[] {
  return list.map((n) => n.id);
}

function page(result: ChangesPage): Extract<ChangesPage, { kind: 'page' }> {
  assert.equal(result.kind, 'page');
  return result as Extract<ChangesPage, { kind: 'page' }>;
}

/** Runs the v2 contract against a fresh store from `createStore` (migrated here, closed after). */
export function runInboxV2Suite(name: string, createStore: () => Promise<InboxStore>, cleanup?: () => Promise<void>): void {
  describe(`InboxStore v2 contract: ${name}`, () => {
    let store: InboxStore;
    const newApp = () => `v2-${randomUUID()}`;
    const list = async (app: string, user: string, filter = {}, now = T0) => ids((await store.list(app, user, { limit: 100, unreadOnly: false, filter, now })).notifications);

    before(async () => {
      store = await createStore();
      await store.migrate();
    });
    after(async () => {
      await store.close();
      await cleanup?.();
    });

    it('stores the v2 fields and filters lists by status, category, tags, tenant and priority', async () => {
      const app = newApp();
      await store.push(app, ['u'], notification('a', { category: 'billing', tags: ['x', 'y'], priority: 'high', tenant: 't1' }), null, T0);
      await store.push(app, ['u'], notification('b', { category: 'social', tags: ['y'], priority: 'low' }), null, T0);
      await store.push(app, ['u'], notification('c', { priority: 'critical', tenant: 't2' }), null, T0);
      const a = await store.get(app, 'u', 'a');
      assert.deepEqual([a?.category, a?.tags, a?.priority, a?.tenant, a?.seen, a?.archived, a?.collapsedCount, a?.changeSeq], ['billing', ['x', 'y'], 'high', 't1', false, false, 1, 1]);
      assert.deepEqual(await list(app, 'u'), ['c', 'b', 'a']);
      assert.deepEqual(await list(app, 'u', { category: ['billing', 'social'] }), ['b', 'a']);
      assert.deepEqual(await list(app, 'u', { tags: ['x'] }), ['a']);
      assert.deepEqual(await list(app, 'u', { tags: ['y', 'zz'] }), ['b', 'a']);
      assert.deepEqual(await list(app, 'u', { tenant: 't2' }), ['c']);
      assert.deepEqual(await list(app, 'u', { priority: ['high', 'critical'] }), ['c', 'a']);
      await store.bulk(app, 'u', 'seen', { ids: ['a'] }, at(1));
      await store.bulk(app, 'u', 'open', { ids: ['b'] }, at(2));
      assert.deepEqual(await list(app, 'u', { status: 'unseen' }), ['c']);
      assert.deepEqual(await list(app, 'u', { status: 'unread' }), ['c', 'a']);
      assert.deepEqual(await list(app, 'u', { status: 'read' }), ['b']);
      const b = await store.get(app, 'u', 'b');
      assert.deepEqual([b?.opened, b?.seen, b?.seenAt], [true, true, at(2)], 'opening implies seen');
      assert.deepEqual(await store.count(app, 'u', {}, T0), { unseen: 1, unread: 2, total: 3, lastSeq: 3 });
    });

    it('archive and snooze leave the live view; include/only show them; counts count live ones only', async () => {
      const app = newApp();
      for (const id of ['a', 'b', 'c', 'd']) await store.push(app, ['u'], notification(id), null, T0);
      await store.bulk(app, 'u', 'archive', { ids: ['a'] }, at(1));
      await store.bulk(app, 'u', 'snooze', { ids: ['b'], until: at(10 * MIN) }, at(1));
      assert.deepEqual(await list(app, 'u', {}, at(2)), ['d', 'c']);
      assert.deepEqual(await list(app, 'u', { archived: 'only' }, at(2)), ['a']);
      assert.deepEqual(await list(app, 'u', { archived: 'include' }, at(2)), ['d', 'c', 'a']);
      assert.deepEqual(await list(app, 'u', { snoozed: 'only' }, at(2)), ['b']);
      assert.deepEqual(await store.count(app, 'u', {}, at(2)), { unseen: 2, unread: 2, total: 2, lastSeq: 4 });
      // The snooze ended: live at once, before any sweep.
      assert.deepEqual(await list(app, 'u', {}, at(11 * MIN)), ['d', 'c', 'b']);
      await store.bulk(app, 'u', 'unarchive', {}, at(3));
      assert.deepEqual(await list(app, 'u', {}, at(3)), ['d', 'c', 'a']);
      const views = await store.countViews(app, 'u', { all: {}, archived: { archived: 'only' }, snoozed: { snoozed: 'only' }, unread: { status: 'unread' } }, at(3));
      assert.deepEqual(views, {
        views: { all: { unseen: 3, unread: 3, total: 3 }, archived: { unseen: 0, unread: 0, total: 0 }, snoozed: { unseen: 1, unread: 1, total: 1 }, unread: { unseen: 3, unread: 3, total: 3 } },
        lastSeq: 4,
      });
    });

    it('bulk by filter with up_to_seq leaves newer notifications alone; each change takes the next change_seq', async () => {
      const app = newApp();
      for (const id of ['a', 'b', 'c']) await store.push(app, ['u'], notification(id, { category: 'billing' }), null, T0);
      await store.push(app, ['u'], notification('d', { category: 'social' }), null, T0);
      const opened = await store.bulk(app, 'u', 'open', { filter: { category: ['billing'] }, upToSeq: 2 }, at(1));
      assert.deepEqual(opened.changes.map((c) => [c.id, c.changeSeq]), [['a', 5], ['b', 6]]);
      assert.deepEqual(opened.counts, { unseen: 2, unread: 2, total: 4, lastSeq: 4 });
      assert.equal(opened.changeSeq, 6);
      const again = await store.bulk(app, 'u', 'open', { filter: { category: ['billing'] }, upToSeq: 2 }, at(2));
      assert.deepEqual([again.changes.length, again.changeSeq], [0, 6], 'nothing changed, no change_seq taken');
      const removed = await store.bulk(app, 'u', 'delete', { filter: { status: 'read' } }, at(3));
      assert.deepEqual(removed.changes.map((c) => [c.id, c.changeSeq, c.deleted]), [['a', 7, true], ['b', 8, true]]);
      assert.deepEqual(await list(app, 'u'), ['d', 'c']);
      const unopened = await store.bulk(app, 'u', 'unopen', { ids: ['c'] }, at(4));
      assert.equal(unopened.changes.length, 0, 'c was not opened');
    });

    it('the change feed lists every change once with the newest state, pages, and answers resync for old or unknown cursors', async () => {
      const app = newApp();
      for (const id of ['a', 'b', 'c']) await store.push(app, ['u'], notification(id), null, T0);
      await store.bulk(app, 'u', 'seen', { ids: ['a'] }, at(1)); // 4
      await store.bulk(app, 'u', 'archive', { ids: ['b'] }, at(2)); // 5
      await store.bulk(app, 'u', 'delete', { ids: ['c'] }, at(3)); // 6
      await store.recordAction(app, 'u', 'a', 'ok', at(4)); // nothing: a has no such button? recordAction only checks visibility
      const all = page(await store.changes(app, 'u', 0, 100, at(5)));
      assert.deepEqual(
        all.changes.map((c) => [c.changeSeq, c.id, c.deleted]),
        [[5, 'b', false], [6, 'c', true], [7, 'a', false]],
      );
      assert.equal(all.changeSeq, 7);
      assert.equal(all.hasMore, false);
      assert.deepEqual(all.changes[2].notification?.actioned, { buttonId: 'ok', at: at(4) });
      assert.equal(all.changes[0].notification?.archived, true);
      const first = page(await store.changes(app, 'u', 0, 2, at(5)));
      assert.deepEqual([first.changes.map((c) => c.changeSeq), first.hasMore, first.changeSeq], [[5, 6], true, 6]);
      const rest = page(await store.changes(app, 'u', first.changeSeq, 2, at(5)));
      assert.deepEqual([rest.changes.map((c) => c.changeSeq), rest.hasMore, rest.changeSeq], [[7], false, 7]);
      assert.deepEqual(page(await store.changes(app, 'u', 7, 10, at(5))).changes, []);
      assert.equal((await store.changes(app, 'u', 8, 10, at(5))).kind, 'resync', 'a cursor from the future');
      assert.deepEqual(page(await store.changes(app, 'nobody', 0, 10, at(5))), { kind: 'page', changes: [], hasMore: false, changeSeq: 0 });
      await store.pruneChanges(at(4));
      assert.equal((await store.changes(app, 'u', 5, 10, at(5))).kind, 'resync', 'the tombstone of change 6 is gone');
      assert.equal((await store.changes(app, 'u', 6, 10, at(5))).kind, 'page');
    });

    it('collapse: a push with the key of a live unopened notification updates it (same id, new seq, count + 1)', async () => {
      const app = newApp();
      await store.push(app, ['u', 'v'], notification('c1', { collapseKey: 'chat', content: 'one' }), null, T0);
      await store.push(app, ['u'], notification('other'), null, T0);
      const second = await store.push(app, ['u', 'v', 'w'], notification('c2', { collapseKey: 'chat', content: 'two' }), null, at(1));
      assert.deepEqual(second.rows, [{ id: 'c1', userId: 'u', seq: 3 }, { id: 'c1', userId: 'v', seq: 2 }, { id: 'c2', userId: 'w', seq: 1 }]);
      assert.deepEqual(second.visible.map((n) => [n.id, n.content, n.collapsedCount, n.seq]), [['c1', 'two', 2, 3], ['c1', 'two', 2, 2], ['c2', 'two', 1, 1]]);
      assert.deepEqual(await list(app, 'u'), ['c1', 'other']);
      await store.open(app, 'u', ['c1'], at(2));
      const third = await store.push(app, ['u'], notification('c3', { collapseKey: 'chat' }), null, at(3));
      assert.deepEqual(third.rows, [{ id: 'c3', userId: 'u', seq: 4 }], 'an opened one is not collapsed into');
    });

    it('a snooze that ends resurfaces once with a new seq and change_seq', async () => {
      const app = newApp();
      await store.push(app, ['u'], notification('a'), null, T0);
      await store.push(app, ['u'], notification('b'), null, T0);
      await store.bulk(app, 'u', 'snooze', { ids: ['a'], until: at(5 * MIN) }, at(1));
      const early = (await store.resurfaceDue(at(4 * MIN), 100)).filter((n) => n.appId === app);
      assert.deepEqual(early, []);
      const due = (await store.resurfaceDue(at(5 * MIN), 100)).filter((n) => n.appId === app);
      assert.deepEqual(due.map((n) => [n.id, n.seq, n.changeSeq, n.snoozedUntil]), [['a', 3, 4, null]]);
      assert.deepEqual((await store.resurfaceDue(at(6 * MIN), 100)).filter((n) => n.appId === app), []);
      assert.deepEqual((await store.list(app, 'u', { afterSeq: 2, limit: 10, unreadOnly: false, now: at(6 * MIN) })).notifications.map((n) => n.id), ['a']);
    });

    it('expired notifications leave lists and counts at once; the sweep removes them with a tombstone change', async () => {
      const app = newApp();
      await store.push(app, ['u'], notification('short', { expiresAt: at(MIN) }), null, T0);
      await store.push(app, ['u'], notification('long'), null, T0);
      await store.push(app, ['u'], notification('never-visible', { sendAfter: at(10 * MIN), expiresAt: at(2 * MIN) }), null, T0);
      assert.deepEqual(await list(app, 'u', {}, at(MIN - 1)), ['long', 'short']);
      assert.deepEqual(await list(app, 'u', {}, at(MIN)), ['long']);
      assert.deepEqual(await store.count(app, 'u', {}, at(MIN)), { unseen: 1, unread: 1, total: 1, lastSeq: 2 });
      const feed = page(await store.changes(app, 'u', 2, 10, at(MIN)));
      assert.deepEqual(feed.changes, [], 'nothing changed after change 2 yet');
      const expired = (await store.expireDue(at(3 * MIN), 100)).filter((e) => e.appId === app);
      assert.deepEqual(expired, [{ appId: app, userId: 'u', id: 'short', changeSeq: 3 }]);
      const after = page(await store.changes(app, 'u', 2, 10, at(3 * MIN)));
      assert.deepEqual(after.changes.map((c) => [c.changeSeq, c.id, c.deleted, c.reason]), [[3, 'short', true, 'expired']]);
      assert.deepEqual((await store.releaseDue(at(20 * MIN), 100)).filter((n) => n.appId === app), [], 'the expired scheduled one is gone');
    });

    it('migrated-style counts: unseen follows seen, not opened', async () => {
      const app = newApp();
      await store.push(app, ['u'], notification('a'), null, T0);
      await store.bulk(app, 'u', 'seen', {}, at(1));
      assert.deepEqual(await store.count(app, 'u', {}, at(1)), { unseen: 0, unread: 1, total: 1, lastSeq: 1 });
      const counts = await store.countUsers(app, ['u', 'ghost'], at(1));
      assert.deepEqual(counts.get('u'), { unseen: 0, unread: 1, total: 1, lastSeq: 1 });
      assert.deepEqual(counts.get('ghost'), { unseen: 0, unread: 0, total: 0, lastSeq: 0 });
    });

    it('countUsers gives every user what count() gives, across seen, opened, archived, snoozed and expiring notifications', async () => {
      const app = newApp();
      for (const id of ['a', 'b', 'c', 'd', 'e']) await store.push(app, ['u', 'v'], notification(id), null, T0);
      await store.push(app, ['u'], notification('short', { expiresAt: at(MIN) }), null, T0);
      await store.push(app, ['v'], notification('later', { sendAfter: at(10 * MIN) }), null, T0);
      await store.bulk(app, 'u', 'seen', { ids: ['a'] }, at(1));
      await store.bulk(app, 'u', 'open', { ids: ['b'] }, at(1));
      await store.bulk(app, 'u', 'archive', { ids: ['c'] }, at(1));
      await store.bulk(app, 'u', 'snooze', { ids: ['d'], until: at(2 * MIN) }, at(1));
      await store.bulk(app, 'v', 'open', { ids: ['a', 'b', 'c'] }, at(1));
      for (const now of [at(2), at(MIN), at(3 * MIN)]) {
        const counts = await store.countUsers(app, ['u', 'v', 'u', 'ghost'], now);
        assert.equal(counts.size, 3);
        for (const user of ['u', 'v', 'ghost']) assert.deepEqual(counts.get(user), await store.count(app, user, {}, now), `${user} at ${now.toISOString()}`);
      }
      assert.deepEqual(await store.countUsers(app, ['u'], at(3 * MIN)), new Map([['u', { unseen: 2, unread: 3, total: 4, lastSeq: 6 }]]), 'a seen, b opened, c archived, d back, short expired');
    });

    it('countUsers stays what count() gives through pushes alone as time passes, and after every other change', async () => {
      const app = newApp();
      const same = async (now: Date, why: string) => {
        const counts = await store.countUsers(app, ['u'], now);
        assert.deepEqual(counts.get('u'), await store.count(app, 'u', {}, now), why);
      };
      await store.push(app, ['u'], notification('a'), null, T0);
      await same(at(1), 'the first push');
      await store.push(app, ['u'], notification('b'), null, at(2));
      await same(at(3), 'a second push on top of counts already read');
      await store.push(app, ['u'], notification('soon-gone', { expiresAt: at(MIN) }), null, at(4));
      await same(at(MIN - 1), 'before the expiry');
      await same(at(MIN + 1), 'after the expiry, which nothing else marked');
      await store.bulk(app, 'u', 'snooze', { ids: ['a'] , until: at(5 * MIN) }, at(MIN + 2));
      await same(at(2 * MIN), 'snoozed');
      await store.push(app, ['u'], notification('c'), null, at(3 * MIN));
      await same(at(4 * MIN), 'a push while a snooze runs');
      await same(at(6 * MIN), 'the snooze ended, with no change since the push');
      await store.push(app, ['u'], notification('later', { sendAfter: at(7 * MIN) }), null, at(6 * MIN));
      await same(at(6 * MIN + 1), 'a scheduled push is not counted yet');
      await store.releaseDue(at(8 * MIN), 100);
      await same(at(8 * MIN), 'released');
      await store.push(app, ['u'], notification('x1', { collapseKey: 'k' }), null, at(8 * MIN));
      await store.push(app, ['u'], notification('x2', { collapseKey: 'k' }), null, at(8 * MIN + 1));
      await same(at(8 * MIN + 2), 'collapsed into one');
      await store.open(app, 'u', ['b'], at(9 * MIN));
      await store.push(app, ['u'], notification('d'), null, at(9 * MIN + 1));
      await same(at(9 * MIN + 2), 'opened, then a push');
      await store.bulk(app, 'u', 'delete', { ids: ['c'] }, at(10 * MIN));
      await store.bulk(app, 'u', 'archive', { ids: ['d'] }, at(10 * MIN));
      await store.push(app, ['u'], notification('e'), null, at(10 * MIN + 1));
      await same(at(10 * MIN + 2), 'deleted and archived, then a push');
      assert.deepEqual(await store.count(app, 'u', {}, at(10 * MIN + 2)), { unseen: 4, unread: 4, total: 5, lastSeq: 9 });
    });
  });
}
