/**
 * The client SDK's inbox v2 (CLIENT-V2.md): views with their own lists and counts, seen / archive /
 * snooze / bulk, every device following through `herald:inbox_changed` and the change feed, and a
 * device that was offline catching up through `/changes` — on one node, and on two nodes sharing
 * Redis and PostgreSQL with the devices on different nodes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { channelForUser, type InboxClient } from '../../src/client/index.js';
import type { Notification } from '../../src/client/notifications.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { sdkPush } from '../helpers/inbox.js';
import { ClientPool, clientSuite, pushMany } from '../helpers/inbox-client.js';
import { waitFor } from '../helpers/wait.js';
import { deletePrefix, redisSkip, testAdapter, TEST_REDIS_URL, uniquePrefix } from '../cluster/cluster-helpers.js';

type V2 = Notification & { archived?: boolean; seen?: boolean; category?: string | null };
const ids = (list: readonly Notification[]) => list.map((n) => n.id);
const state = (client: InboxClient) => ids(client.notifications);

/** Pushes notifications a..e, alternating billing and social. */
async function seed(node: Harness, userId: string): Promise<void> {
  for (const [i, id] of ['a', 'b', 'c', 'd', 'e'].entries()) {
    await sdkPush(node.backend(), { user_ids: [userId], notification: { id, content: id, category: i % 2 === 0 ? 'billing' : 'social' } });
  }
}

/** Two devices change state while a third is offline; everything converges, the third through /changes. */
async function scenario(phoneNode: Harness, laptopNode: Harness, tabletNode: Harness, phonePool: ClientPool, laptopPool: ClientPool, tabletPool: ClientPool, userId: string): Promise<void> {
  await seed(phoneNode, userId);
  const phone = phonePool.create(userId);
  const laptop = laptopPool.create(userId);
  const tablet = tabletPool.create(userId);
  await Promise.all([phone.init(), laptop.init(), tablet.init()]);
  assert.deepEqual(state(laptop), ['e', 'd', 'c', 'b', 'a']);
  const billing = laptop.view({ category: ['billing'] });
  await billing.ready();
  assert.deepEqual(ids(billing.notifications), ['e', 'c', 'a']);
  assert.deepEqual(billing.counts, { unseen: 3, unread: 3, total: 3 });

  // The tablet goes offline; the phone and the laptop change state.
  await tablet.unsubscribe();
  await phone.markSeen(['a', 'b']);
  await laptop.markOpened(['c']);
  await phone.archive(['e']);
  await laptop.snooze(['d'], new Date(Date.now() + 3_600_000));
  await phone.bulk('delete', { ids: ['b'] });

  const expected = ['c', 'a'];
  await waitFor(() => state(laptop).join() === expected.join() && state(phone).join() === expected.join(), 'phone and laptop agree', 5_000);
  await waitFor(() => ids(billing.notifications).join() === 'c,a' && billing.counts.total === 2, 'the billing view follows', 5_000);
  await waitFor(() => laptop.countsStream.value.unseen === 0 && laptop.unseenCountStream.value === 0, 'unseen badge', 5_000);
  assert.deepEqual(laptop.countsStream.value, { unseen: 0, unread: 1, total: 2 });
  assert.deepEqual(billing.counts, { unseen: 0, unread: 1, total: 2 });
  assert.equal(laptop.pendingNotificationsCount, 1);
  assert.equal((laptop.notifications.find((n) => n.id === 'c') as V2).seen, true, 'opening implies seen');

  // The tablet still shows the old state; it comes back and learns everything in one catch-up.
  assert.deepEqual(state(tablet), ['e', 'd', 'c', 'b', 'a']);
  await tablet.subscribe();
  await waitFor(() => state(tablet).join() === expected.join(), `the tablet catches up (has ${state(tablet).join()})`, 5_000);
  assert.deepEqual(tablet.countsStream.value, { unseen: 0, unread: 1, total: 2 });
  const archived = tablet.view({ archived: 'only' });
  await archived.ready();
  assert.deepEqual(ids(archived.notifications), ['e']);
  await tablet.unarchive(['e']);
  await waitFor(() => state(phone).join() === 'e,c,a' && archived.notifications.length === 0, 'unarchive reaches the phone and the view', 5_000);
}

describe('InboxClient v2 on one node', () => {
  const suite = clientSuite();

  it('channelForUser writes ids outside the channel alphabet as = and base64url', () => {
    assert.equal(channelForUser('private-{userId}', 'auth0|123'), 'private-=YXV0aDB8MTIz');
    assert.equal(channelForUser('private-{userId}', 'plain_id-1'), 'private-plain_id-1');
    assert.equal(channelForUser('private-{userId}', '=x'), 'private-=PXg');
    assert.equal(channelForUser('private-inbox-{userId}', 'ü'), 'private-inbox-=w7w');
  });

  it('two devices change state while a third is offline; all converge, the third through /changes (user auth0|42)', async () => {
    await scenario(suite.harness, suite.harness, suite.harness, suite.pool, suite.pool, suite.pool, 'auth0|42');
  });

  it('a view loaded before the client subscribes misses nothing pushed in between', async () => {
    const client = suite.pool.create('vic');
    const view = client.view({});
    await view.ready();
    assert.deepEqual(view.notifications, []);
    const [id] = await pushMany(suite.harness, 'vic', 1, 'between');
    await client.init();
    await waitFor(() => view.notifications.some((n) => n.id === id), 'the view shows the notification pushed between its load and init', 5_000);
    assert.equal(client.notifications[0]?.id, id);
  });

  it('markAllOpened leaves a notification that arrives later unread (up_to_seq); views count their own', async () => {
    await seed(suite.harness, 'fay');
    const client = suite.pool.create('fay');
    await client.init();
    const social = client.view({ category: ['social'] });
    await social.ready();
    await client.markAllOpened({ category: ['social'] });
    await waitFor(() => social.counts.unread === 0, 'social read', 5_000);
    assert.deepEqual(client.countsStream.value, { unseen: 3, unread: 3, total: 5 });
    await client.markAllOpened();
    await sdkPush(suite.harness.backend(), { user_ids: ['fay'], notification: { id: 'late', content: 'late' } });
    await waitFor(() => client.notifications[0]?.id === 'late' && client.countsStream.value.unread === 1, 'only the late one unread', 5_000);
    const counts = await client.counts({ all: {}, billing: { category: ['billing'] } });
    assert.deepEqual(counts.views, { all: { unseen: 1, unread: 1, total: 6 }, billing: { unseen: 0, unread: 0, total: 3 } });
  });
});

const DATABASE_URL = process.env.HERALD_TEST_DATABASE_URL ?? '';
const skip = !DATABASE_URL ? 'SKIP: HERALD_TEST_DATABASE_URL is not set' : redisSkip;

describe('InboxClient v2 on two nodes (Redis + PostgreSQL)', { skip, timeout: 60_000 }, () => {
  const prefix = uniquePrefix('inbox-v2');
  const schema = `herald_test_${randomBytes(6).toString('hex')}`;
  const stores: PostgresStore[] = [];
  const nodes: Harness[] = [];
  const pools: ClientPool[] = [];

  before(async () => {
    for (let i = 0; i < 2; i++) {
      const store = PostgresStore.connect(DATABASE_URL, { schema, poolSize: 4 });
      stores.push(store);
      nodes.push(await startHarness({ apps: [TEST_APP], deps: { store, adapter: testAdapter(TEST_REDIS_URL, prefix) } }));
      pools.push(new ClientPool(nodes[i]));
    }
  });
  after(async () => {
    await Promise.allSettled(pools.map((pool) => pool.disposeAll()));
    await Promise.allSettled(nodes.map((node) => node.close()));
    await Promise.allSettled(stores.map((store) => store.close()));
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
    await deletePrefix(TEST_REDIS_URL, prefix);
  });

  it('devices on different nodes change state; a third, offline meanwhile, catches up through /changes to the same state', async () => {
    await scenario(nodes[0], nodes[1], nodes[0], pools[0], pools[1], pools[0], 'two-nodes user');
  });
});
