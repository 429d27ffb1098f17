/**
 * Live delivery of stored notifications, without sockets: each user's notification is followed by
 * their `herald:inbox_changed`, a slow counts read does not hold notifications back, and
 * notifications keep their order when an earlier delivery's counts are slow.
 */
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Inbox, INBOX_CHANGED_EVENT } from '../../src/inbox/inbox.js';
import { signChannel } from '../../src/protocol/signatures.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { InboxStore, NotificationInput, StoredNotification } from '../../src/store/store.js';
import { fakeCore, type FakeClient } from '../helpers/fake-transport.js';

const notification = (id: string): NotificationInput => ({
  id,
  heading: null,
  content: `content of ${id}`,
  payload: null,
  imageUrl: null,
  sendAfter: null,
  buttons: [],
  senderId: null,
});

/** A store whose first counts read waits until the test lets it go (a slow database, once). */
function heldCounts(store: SqliteStore): { store: InboxStore; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let reads = 0;
  const held = Object.create(store) as SqliteStore;
  held.countUsers = (...args) => (++reads === 1 ? gate.then(() => store.countUsers(...args)) : store.countUsers(...args));
  return { store: held, release };
}

async function setUp(hold = false) {
  const core = fakeCore();
  const sqlite = SqliteStore.open(':memory:');
  await sqlite.migrate();
  const { store, release } = hold ? heldCounts(sqlite) : { store: sqlite as InboxStore, release: () => undefined };
  const inbox = new Inbox({ store, realtime: core.realtime, apps: core.registry, logger: pino({ level: 'silent' }), now: () => core.clock.now });
  const app = core.app();
  const clients = new Map<string, FakeClient>();
  for (const userId of ['ann', 'bob']) {
    const client = core.client();
    const channel = `private-${userId}`;
    await client.send({ event: 'pusher:subscribe', data: { channel, auth: signChannel(app.key, app.secret, client.socketId, channel) } });
    client.take();
    clients.set(userId, client);
  }
  const push = async (id: string, userIds = ['ann', 'bob']): Promise<readonly StoredNotification[]> =>
    (await sqlite.push(app.id, userIds, notification(id), null, new Date(core.clock.now), null)).visible;
  return { inbox, clients, push, release, core };
}

/** The events a client got, as `notification:id` and `changed:ids`. */
const received = (client: FakeClient): string[] =>
  client.take().map((frame) => {
    const data = JSON.parse(frame.data as string) as { id?: string; ids?: string[] };
    return frame.event === INBOX_CHANGED_EVENT ? `changed:${data.ids?.join(',')}` : `notification:${data.id}`;
  });

describe('Inbox live delivery', () => {
  it("sends each user's notification and inbox_changed together, with the counts after it", async () => {
    const { inbox, clients, push, core } = await setUp();
    await inbox.deliver(await push('n1'), true);
    const frames = clients.get('ann')!.take();
    assert.deepEqual(frames.map((frame) => frame.event), [core.app().inboxEventName, INBOX_CHANGED_EVENT]);
    const changed = JSON.parse(frames[1].data as string);
    assert.deepEqual(changed.ids, ['n1']);
    assert.deepEqual(changed.counts, { unseen: 1, unread: 1, total: 1, last_seq: 1 });
    assert.deepEqual(received(clients.get('bob')!), ['notification:n1', 'changed:n1']);
  });

  it('sends the notifications when the counts are late, and the counts once they come', { timeout: 5_000 }, async () => {
    const { inbox, clients, push, release } = await setUp(true);
    const delivered = inbox.deliver(await push('n1'), true);
    await nextTurn();
    assert.deepEqual(received(clients.get('ann')!), ['notification:n1'], 'not held back by the database');
    release();
    await delivered;
    assert.deepEqual(received(clients.get('ann')!), ['changed:n1']);
  });

  it('keeps notifications in order when an earlier delivery waits for its counts', { timeout: 5_000 }, async () => {
    const { inbox, clients, push, release } = await setUp(true);
    const first = await push('first', ['ann']);
    const second = await push('second', ['ann', 'bob']);
    const delivered = [inbox.deliver(first)];
    // The second delivery's counts come at once, the first's later: the notifications keep their order.
    delivered.push(inbox.deliver(second));
    await nextTurn();
    release();
    await Promise.all(delivered);
    const events = received(clients.get('ann')!);
    assert.deepEqual(events.filter((event) => event.startsWith('notification:')), ['notification:first', 'notification:second']);
    assert.deepEqual(events.filter((event) => event.startsWith('changed:')).sort(), ['changed:first', 'changed:second']);
  });
});
