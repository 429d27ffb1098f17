/** Catch-up after being offline, and gap-free seqs under concurrent pushes. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { backendCaller, inboxDevice, listAll, sdkPush, userCaller, tokenFor, type ListAnswer, type PushAnswer } from '../helpers/inbox.js';
import { sleep } from '../helpers/wait.js';

describe('inbox catch-up and concurrency', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ apps: [TEST_APP] });
  });
  after(() => harness.close());

  it('gives a client that was offline exactly the notifications it missed, in order, with after_seq', async () => {
    const user = 'traveller';
    const first = await inboxDevice(harness, user);
    for (let i = 1; i <= 3; i++) await sdkPush(harness.backend(), { user_ids: [user], notification: { content: `seen ${i}` } });
    const seen = await first.waitFor('Internal Notification', 3);
    const cursor = Math.max(...seen.map((n) => n.seq ?? 0));
    assert.equal(cursor, 3);
    first.client.disconnect();

    // While offline: some one by one, some at once, some to several users.
    const missed: PushAnswer[] = [];
    missed.push(await sdkPush(harness.backend(), { user_ids: [user], notification: { content: 'missed a' } }));
    missed.push(...(await Promise.all(['b', 'c', 'd', 'e'].map((x) => sdkPush(harness.backend(), { user_ids: [user], notification: { content: `missed ${x}` } })))));
    missed.push(await sdkPush(harness.backend(), { user_ids: ['someone-else', user], notification: { content: 'missed f' } }));
    const missedIds = missed.map((answer) => answer.notifications.find((row) => row.user_id === user)!.id);

    const second = await inboxDevice(harness, user);
    const call = userCaller(harness, await tokenFor(harness.app, user));
    const caughtUp = await call<ListAnswer>('GET', `/users/${user}/notifications?after_seq=${cursor}`);
    assert.equal(caughtUp.status, 200);
    assert.deepEqual(caughtUp.body.notifications.map((n) => n.seq), [4, 5, 6, 7, 8, 9], 'exactly the missed seqs, oldest first');
    assert.deepEqual(new Set(caughtUp.body.notifications.map((n) => n.id)), new Set(missedIds));
    assert.equal(caughtUp.body.has_more, false);
    // The seq each push answered is the seq the catch-up shows.
    for (const answer of missed) {
      const row = answer.notifications.find((r) => r.user_id === user)!;
      assert.equal(caughtUp.body.notifications.find((n) => n.id === row.id)?.seq, row.seq);
    }

    // Paging the catch-up in small pages gives the same, without gaps or repeats.
    const paged: number[] = [];
    let after = cursor;
    for (;;) {
      const page = await call<ListAnswer>('GET', `/users/${user}/notifications?after_seq=${after}&limit=2`);
      paged.push(...page.body.notifications.map((n) => n.seq ?? -1));
      if (!page.body.has_more) break;
      after = paged[paged.length - 1];
    }
    assert.deepEqual(paged, [4, 5, 6, 7, 8, 9]);

    // Nothing missed was pushed live to the reconnected device, and new ones are.
    await sleep(100);
    assert.equal(second.of('Internal Notification').length, 0);
    await sdkPush(harness.backend(), { user_ids: [user], notification: { content: 'back online' } });
    const [live] = await second.waitFor('Internal Notification');
    assert.equal(live.seq, 10);
  });

  it('assigns seqs 1..50 without a gap to 50 parallel pushes to one user', async () => {
    const user = 'busy';
    const device = await inboxDevice(harness, user);
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => sdkPush(harness.backend(), { user_ids: [user], notification: { id: `busy-${i}`, content: `parallel ${i}` } })),
    );
    const rows = answers.map((answer) => answer.notifications[0]);
    assert.deepEqual(rows.map((row) => row.seq).sort((a, b) => a! - b!), Array.from({ length: 50 }, (_, i) => i + 1));

    const listed = await listAll(backendCaller(harness), user, 7);
    assert.deepEqual(listed.map((n) => n.seq), Array.from({ length: 50 }, (_, i) => i + 1));
    for (const row of rows) assert.equal(listed.find((n) => n.id === row.id)?.seq, row.seq, `${row.id} listed with its answered seq`);

    const live = await device.waitFor('Internal Notification', 50);
    assert.deepEqual(live.map((n) => n.seq).sort((a, b) => a! - b!), Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('keeps every user gap-free when parallel pushes address overlapping users', async () => {
    const users = ['crowd-a', 'crowd-b', 'crowd-c'];
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        sdkPush(harness.backend(), { user_ids: i % 2 === 0 ? users : [users[i % 3]], notification: { content: `crowd ${i}` } }),
      ),
    );
    const backend = backendCaller(harness);
    for (const user of users) {
      const listed = await listAll(backend, user, 4);
      assert.deepEqual(listed.map((n) => n.seq), Array.from({ length: listed.length }, (_, i) => i + 1), user);
      assert.equal(new Set(listed.map((n) => n.id)).size, listed.length, `${user} has no duplicate`);
      const count = await backend<{ total: number }>('GET', `/users/${user}/notifications/count`);
      assert.equal(count.body.total, listed.length);
    }
    // 15 pushes went to everyone, and 5 each to one user alone.
    assert.deepEqual(
      await Promise.all(users.map(async (user) => (await listAll(backend, user)).length)),
      [20, 20, 20],
    );
  });
});
