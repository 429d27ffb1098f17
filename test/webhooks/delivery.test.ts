/** Retries in order while the receiver fails, and parking once the retry window is over. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../helpers/harness.js';
import { backendCaller, sdkPush } from '../helpers/inbox.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { Receiver, verified } from './receiver.js';

/** Pushes notifications d1..d{count} to a user, then deletes them one by one, `gapMs` apart (one batch each). */
async function deleteInTurn(harness: Harness, userId: string, count: number, gapMs: number, prefix = 'd'): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
  for (const id of ids) await sdkPush(harness.backend(), { user_ids: [userId], notification: { id, content: id } });
  const call = backendCaller(harness);
  for (const id of ids) {
    assert.equal((await call('DELETE', `/users/${userId}/notifications/${id}`)).status, 200);
    await sleep(gapMs);
  }
  return ids;
}

describe('webhook delivery while the receiver fails (default backoff: 1 s, doubling)', () => {
  let receiver: Receiver;
  let harness: Harness;

  before(async () => {
    receiver = await Receiver.start();
    harness = await startHarness({
      apps: [{ id: 'flaky-app', key: 'flaky-key', secret: 'flaky-secret', webhooks: [{ url: receiver.url(), events: ['notification_deleted'] }] }],
    });
  });

  after(async () => {
    await harness.close();
    await receiver.down();
  });

  it('gets every batch, in order, after answering 500 for a while', async () => {
    // 500 for 2.5 s from the first attempt: it fails at 0 s and 1 s, and gets through at 3 s.
    let firstAttempt = 0;
    receiver.respond = () => {
      firstAttempt ||= Date.now();
      return Date.now() - firstAttempt < 2_500 ? 500 : 200;
    };
    const ids = await deleteInTurn(harness, 'u', 6, 300);
    await waitFor(() => receiver.accepted().length >= 6, 'six accepted batches', 15_000);
    await sleep(300);

    const backend = harness.backend();
    const idsOf = (status: 'accepted' | 'all') =>
      (status === 'accepted' ? receiver.accepted() : receiver.deliveries).map((d) => verified(backend, d).events.map((e) => e.id as string));
    assert.deepEqual(idsOf('accepted').flat(), ids, 'every deletion once, in order');
    assert.ok(receiver.deliveries.some((d) => d.status === 500), 'some attempts failed');
    // Head of line: no batch was even tried before every earlier one was accepted.
    const tried = idsOf('all').map((batch) => ids.indexOf(batch[0]));
    assert.deepEqual(tried, [...tried].sort((a, b) => a - b), `attempts in order: ${tried.join(',')}`);
    const failures = receiver.deliveries.filter((d) => d.status === 500);
    assert.ok(failures.length >= 2, 'retried more than once');
    const firstGap = failures[1].at - failures[0].at;
    assert.ok(firstGap >= 900 && firstGap < 2_500, `first retry after ~1 s (${firstGap} ms)`);

    const stats = harness.server.webhooks.stats;
    assert.ok(stats.delivered >= 6);
    assert.equal(stats.failedAttempts, failures.length);
    assert.equal(stats.retries, failures.length);
    assert.equal(stats.parked, 0);
    assert.deepEqual(await harness.server.store.outbox.countWebhooks('flaky-app'), { pending: 0, parked: 0 });
  });
});

describe('webhook parking after the retry window', () => {
  let receiver: Receiver;
  let harness: Harness;

  before(async () => {
    receiver = await Receiver.start();
    harness = await startHarness({
      apps: [
        {
          id: 'park-app',
          key: 'park-key',
          secret: 'park-secret',
          webhook_retry_window_seconds: 1.5,
          webhooks: [{ url: receiver.url(), events: ['notification_deleted'] }],
        },
      ],
      deps: { webhooks: { retryInitialMs: 200, pollIntervalMs: 100 } },
    });
  });

  after(async () => {
    await harness.close();
    await receiver.down();
  });

  it('parks a batch the receiver keeps refusing, counts it, and then delivers the next ones', async () => {
    receiver.respond = () => 503;
    const started = Date.now();
    await deleteInTurn(harness, 'p', 1, 0, 'parked');
    await waitFor(() => harness.server.webhooks.stats.parked === 1, 'the batch parked', 8_000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1_400 && elapsed < 6_000, `parked after its 1.5 s window (${elapsed} ms)`);
    // Attempts at about 0, 0.2, 0.6, 1.4 and 1.5 s (the end of the window).
    const attempts = receiver.deliveries.length;
    assert.ok(attempts >= 3, `retried with backoff until then (${attempts} attempts)`);
    assert.deepEqual(await harness.server.store.outbox.countWebhooks('park-app'), { pending: 0, parked: 1 });
    await harness.server.webhooks.refreshCounts();
    assert.equal(harness.server.webhooks.stats.outboxParked, 1);

    receiver.respond = () => 200;
    await deleteInTurn(harness, 'p', 1, 0, 'after');
    await waitFor(() => receiver.accepted().length === 1, 'the next batch delivered');
    await sleep(500);
    const backend = harness.backend();
    assert.deepEqual(verified(backend, receiver.accepted()[0]).events, [{ name: 'notification_deleted', user_id: 'p', id: 'after1' }]);
    assert.equal(receiver.deliveries.length, attempts + 1, 'the parked batch is never sent again');
    assert.deepEqual(await harness.server.store.outbox.countWebhooks('park-app'), { pending: 0, parked: 1 });
  });
});
