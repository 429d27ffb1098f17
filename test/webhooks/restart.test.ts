/** A restart while the receiver is down loses no batch: pending ones wait in the outbox, open windows and held leaves are written at close. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { subscribed } from '../helpers/auth.js';
import { startHarness, type HarnessOptions } from '../helpers/harness.js';
import { backendCaller, sdkPush } from '../helpers/inbox.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { Receiver, verified } from './receiver.js';

describe('webhooks across a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-webhooks-'));
  const file = join(dir, 'herald.db');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('delivers everything the first server could not, in order, once the receiver is back', async () => {
    const receiver = await Receiver.start();
    await receiver.down();
    const apps: HarnessOptions['apps'] = [
      {
        id: 'restart-app',
        key: 'restart-key',
        secret: 'restart-secret',
        webhooks: [{ url: receiver.url(), events: ['notification_deleted', 'channel_occupied', 'channel_vacated'] }],
      },
    ];
    const webhooks = { retryInitialMs: 200, retryMaxMs: 500 };

    const firstStore = SqliteStore.open(file);
    const first = await startHarness({ apps, deps: { store: firstStore, webhooks } });
    const client = first.client();
    await subscribed(client, 'room');
    const ids = ['d1', 'd2', 'd3', 'd4', 'd5'];
    for (const id of ids) await sdkPush(first.backend(), { user_ids: ['u'], notification: { id, content: id } });
    const call = backendCaller(first);
    for (const id of ids.slice(0, 4)) {
      assert.equal((await call('DELETE', `/users/u/notifications/${id}`)).status, 200);
      await sleep(300);
    }
    await waitFor(() => first.server.webhooks.stats.failedAttempts >= 3, 'failed attempts against the stopped receiver');
    // d5 is still in its batch window, and the channel's vacated event is held, when the server closes.
    assert.equal((await call('DELETE', '/users/u/notifications/d5')).status, 200);
    await first.close();
    assert.equal(first.server.webhooks.stats.delivered, 0);
    await firstStore.close();

    const secondStore = SqliteStore.open(file);
    try {
      await secondStore.migrate();
      const waiting = await secondStore.outbox.countWebhooks('restart-app');
      assert.ok(waiting.pending >= 5 && waiting.parked === 0, `batches waiting in the outbox: ${JSON.stringify(waiting)}`);
      const second = await startHarness({ apps, deps: { store: secondStore, webhooks } });
      try {
        await sleep(400);
        assert.equal(receiver.deliveries.length, 0);
        await receiver.up();
        await waitFor(() => receiver.events(second.backend()).some((e) => e.name === 'channel_vacated'), 'every batch delivered', 10_000);
        await sleep(300);
        const events = receiver.accepted().flatMap((d) => verified(second.backend(), d).events);
        assert.deepEqual(events, [
          { name: 'channel_occupied', channel: 'room' },
          ...ids.map((id) => ({ name: 'notification_deleted', user_id: 'u', id })),
          { name: 'channel_vacated', channel: 'room' },
        ]);
        assert.deepEqual(await secondStore.outbox.countWebhooks('restart-app'), { pending: 0, parked: 0 });
      } finally {
        await second.close();
      }
    } finally {
      await secondStore.close();
      await receiver.down();
    }
  });
});
