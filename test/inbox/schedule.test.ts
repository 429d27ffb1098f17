/** Scheduled notifications: invisible until due, delivered live when due, and surviving a restart. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NotificationJson } from '../../src/inbox/notification-json.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { backendCaller, countsOf, inboxDevice, sdkPush, tokenFor, userCaller, type ErrorBody, type ListAnswer } from '../helpers/inbox.js';
import { sleep, waitFor } from '../helpers/wait.js';

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

describe('inbox scheduling', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ apps: [TEST_APP] });
  });
  after(() => harness.close());

  it('keeps a future notification invisible and undelivered, then delivers it live within a second of being due', async () => {
    const user = 'planner';
    const device = await inboxDevice(harness, user);
    const call = userCaller(harness, await tokenFor(harness.app, user));
    const sendAfter = inMs(1_500);
    const scheduled = await sdkPush(harness.backend(), {
      user_ids: [user],
      notification: { id: 'reminder', content: 'meeting soon', send_after: sendAfter, buttons: [{ id: 'snooze', text: 'Snooze' }] },
    });
    assert.deepEqual(scheduled.notifications, [{ id: 'reminder', user_id: user, seq: null }]);

    // Invisible: not listed, not counted, not reachable by id.
    assert.deepEqual((await call('GET', `/users/${user}/notifications`)).body, { notifications: [], has_more: false });
    assert.deepEqual((await call('GET', `/users/${user}/notifications?after_seq=0`)).body, { notifications: [], has_more: false });
    assert.deepEqual(await countsOf(call, user), { unread: 0, total: 0 });
    assert.equal((await call<ErrorBody>('GET', `/users/${user}/notifications/reminder`)).status, 404);
    assert.equal((await call('POST', `/users/${user}/notifications/reminder/actions/snooze`)).status, 404);
    assert.equal((await call('DELETE', `/users/${user}/notifications/reminder`)).status, 404);
    const open = await call<{ opened: string[] }>('POST', `/users/${user}/notifications/open`, { ids: ['reminder'] });
    assert.deepEqual(open.body.opened, []);

    // A notification pushed meanwhile is visible at once and takes seq 1: seqs follow visibility.
    const now = await sdkPush(harness.backend(), { user_ids: [user], notification: { content: 'right now' } });
    assert.equal(now.notifications[0].seq, 1);
    const [immediate] = await device.waitFor('Internal Notification');
    assert.equal(immediate.content, 'right now');

    // Not delivered before it is due.
    const due = Date.parse(sendAfter);
    await sleep(Math.max(0, due - Date.now() - 200));
    assert.equal(device.of('Internal Notification').length, 1, 'nothing delivered before send_after');

    const events = await device.waitFor('Internal Notification', 2, 3_000);
    const delivered = events[1];
    const arrivedAt = device.received.filter((r) => r.event === 'Internal Notification')[1].at;
    assert.ok(arrivedAt >= due - 50, `delivered ${due - arrivedAt} ms before it was due`);
    assert.ok(arrivedAt - due <= 1_000, `delivered ${arrivedAt - due} ms after it was due`);
    assert.equal(delivered.id, 'reminder');
    assert.equal(delivered.seq, 2);
    assert.equal(delivered.send_after, sendAfter);
    assert.equal(delivered.opened, false);

    const listed = await call<ListAnswer>('GET', `/users/${user}/notifications`);
    assert.deepEqual(listed.body.notifications.map((n) => [n.id, n.seq]), [['reminder', 2], [immediate.id, 1]]);
    assert.deepEqual(listed.body.notifications[0], delivered);
    assert.deepEqual(await countsOf(call, user), { unread: 2, total: 2 });
    assert.equal((await call('POST', `/users/${user}/notifications/reminder/actions/snooze`)).status, 200);
    await sleep(200);
    assert.equal(device.of('Internal Notification').length, 2, 'delivered once');
  });

  it('delivers a notification whose send_after is already past at once', async () => {
    const device = await inboxDevice(harness, 'late');
    const answer = await sdkPush(harness.backend(), { user_ids: ['late'], notification: { content: 'overdue', send_after: inMs(-60_000) } });
    assert.equal(answer.notifications[0].seq, 1);
    const [event] = await device.waitFor('Internal Notification');
    assert.equal(event.seq, 1);
  });

  it('reads send_after as ISO-8601 dates and date-times with their time zone', async () => {
    const cases: [string, string][] = [
      ['2020-02-29', '2020-02-29T00:00:00.000Z'],
      ['2020-02-29T09:30:00+02:00', '2020-02-29T07:30:00.000Z'],
      ['2020-03-01T01:15-0130', '2020-03-01T02:45:00.000Z'],
      ['2020-03-01T12:00:00.25Z', '2020-03-01T12:00:00.250Z'],
    ];
    const backend = backendCaller(harness);
    for (const [sendAfter, stored] of cases) {
      const answer = await sdkPush(harness.backend(), { user_ids: ['dated'], notification: { content: sendAfter, send_after: sendAfter } });
      const row = await backend<NotificationJson>('GET', `/users/dated/notifications/${answer.notifications[0].id}`);
      assert.equal(row.status, 200, `${sendAfter} is past, so visible at once`);
      assert.equal(row.body.send_after, stored, sendAfter);
    }
  });

  it('answers a replayed scheduled push with seq null and stores it once', async () => {
    const body = { user_ids: ['replay-later'], notification: { content: 'later', send_after: inMs(60_000) }, idempotency_key: 'replay-later-1' };
    const first = await sdkPush(harness.backend(), body);
    const retry = await sdkPush(harness.backend(), body);
    assert.deepEqual(retry.notifications, first.notifications);
    assert.equal(first.notifications[0].seq, null);
  });
});

describe('inbox scheduling across a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-schedule-'));
  const file = join(dir, 'herald.db');
  const open: { harness?: Harness; store?: SqliteStore }[] = [];
  after(async () => {
    for (const node of open) {
      await node.harness?.close();
      await node.store?.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  async function startNode(): Promise<{ harness: Harness; store: SqliteStore }> {
    const node: { harness?: Harness; store?: SqliteStore } = {};
    open.push(node);
    node.store = SqliteStore.open(file);
    node.harness = await startHarness({ apps: [TEST_APP], deps: { store: node.store } });
    return node as { harness: Harness; store: SqliteStore };
  }

  it('fires scheduled notifications after the server was restarted on the same database', async () => {
    const first = await startNode();
    const user = 'restarted';
    const duringDowntime = inMs(300);
    const afterRestart = inMs(1_500);
    await sdkPush(first.harness.backend(), { user_ids: [user], notification: { id: 'while-down', content: 'due while down', send_after: duringDowntime } });
    await sdkPush(first.harness.backend(), { user_ids: [user], notification: { id: 'after-up', content: 'due after restart', send_after: afterRestart } });
    await first.harness.close();
    await first.store.close();

    // The first comes due while no server runs.
    await sleep(Math.max(0, Date.parse(duringDowntime) - Date.now() + 100));
    const second = await startNode();
    const device = await inboxDevice(second.harness, user);
    const backend = backendCaller(second.harness);
    const early = await backend<ListAnswer>('GET', `/users/${user}/notifications?after_seq=0`);
    assert.deepEqual(early.body.notifications.map((n) => n.id), ['while-down'], 'released on start, the other still invisible');

    await waitFor(() => device.of('Internal Notification').some((n) => n.id === 'after-up'), 'the scheduled notification after the restart', 3_000);
    assert.ok(Date.now() - Date.parse(afterRestart) <= 1_000, 'delivered within a second of being due');
    const all = await backend<ListAnswer>('GET', `/users/${user}/notifications?after_seq=0`);
    assert.deepEqual(all.body.notifications.map((n: NotificationJson) => [n.id, n.seq]), [['while-down', 1], ['after-up', 2]]);
    await sleep(200);
    assert.equal(device.of('Internal Notification').filter((n) => n.id === 'after-up').length, 1, 'delivered once');
  });
});
