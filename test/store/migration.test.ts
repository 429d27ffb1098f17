/**
 * A database written by the release before inbox v2 (test/fixtures, migrations 1-2) upgrades in place
 * on both stores: every notification keeps its fields, seq, opened state and button press, gains
 * the v2 defaults (opened ones seen, change_seq = seq), and the upgraded store works on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, describe, it, test } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { InboxStore, StoredNotification } from '../../src/store/store.js';
import { notification } from './store-suite.js';

const fixtures = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../test/fixtures');
const T0 = Date.parse('2026-12-01T09:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
const NOW = at(60);

function summary(list: readonly StoredNotification[]): unknown[] {
  return list.map((n) => [n.id, n.seq, n.opened, n.seen, n.changeSeq, n.content]);
}

/** What every upgraded store must hold, and that it goes on working. */
async function checkUpgraded(store: InboxStore): Promise<void> {
  const page = async (user: string) => (await store.list('app-id', user, { limit: 50, unreadOnly: false, now: NOW })).notifications;
  const alice = await page('alice');
  assert.deepEqual(summary(alice), [
    ['n5', 5, false, false, 5, 'content of n5'],
    ['n3', 3, true, true, 3, 'héllo ✓ 日本'],
    ['n2', 2, false, false, 2, 'content of n2'],
    ['n1', 1, true, true, 1, 'content of n1'],
  ]);
  const n1 = alice[3];
  assert.deepEqual(
    [n1.heading, n1.payload, n1.imageUrl, n1.openedAt, n1.seenAt, n1.createdAt, n1.category, n1.tags, n1.priority, n1.archived, n1.collapsedCount],
    ['Welcome', { deep: [1, 'two', { three: null }] }, 'https://example.com/a.png', at(10), at(10), at(0), null, [], 'normal', false, 1],
  );
  assert.deepEqual(alice[2].buttons, [{ id: 'yes', text: 'Yes', icon: null }, { id: 'no', text: 'No', icon: 'https://example.com/no.png' }]);
  assert.deepEqual(alice[2].actioned, { buttonId: 'yes', at: at(12) });
  assert.deepEqual(summary(await page('bob')), [['n1', 1, true, true, 1, 'content of n1']]);
  assert.deepEqual(summary(await page('auth0|123')), [['n3', 1, false, false, 1, 'héllo ✓ 日本']]);
  assert.deepEqual(summary((await store.list('other-app', 'alice', { limit: 50, unreadOnly: false, now: NOW })).notifications), [['n1', 1, false, false, 1, 'other app']]);
  assert.deepEqual(await store.count('app-id', 'alice', {}, NOW), { unseen: 2, unread: 2, total: 4, lastSeq: 5 });
  assert.equal(await store.nextDueAt().then((d) => d?.getUTCFullYear()), 2036, 'the scheduled one is still scheduled');
  // The idempotency key of the first push still answers (within its window).
  const replay = await store.push('app-id', ['alice', 'bob'], notification('n1'), 'key-1', at(30));
  assert.equal(replay.replayed, true);
  assert.deepEqual(await store.outbox.countWebhooks('app-id'), { pending: 1, parked: 0 });
  // The change feed starts after the upgrade: seq and change_seq go on from the old cursor.
  const pushed = await store.push('app-id', ['alice'], notification('n6', { category: 'billing' }), null, NOW);
  assert.deepEqual([pushed.visible[0].seq, pushed.visible[0].changeSeq], [6, 6]);
  const changes = await store.changes('app-id', 'alice', 5, 10, NOW);
  assert.equal(changes.kind, 'page');
  if (changes.kind === 'page') assert.deepEqual(changes.changes.map((c) => [c.changeSeq, c.id]), [[6, 'n6']]);
  const bulk = await store.bulk('app-id', 'alice', 'archive', { filter: { category: ['billing'] } }, NOW);
  assert.deepEqual([bulk.changes.map((c) => c.id), bulk.changeSeq], [['n6'], 7]);
}

describe('migration of a pre-v2 SQLite database', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-migrate-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('upgrades in place with every notification intact', async () => {
    const file = path.join(dir, 'inbox.db');
    fs.copyFileSync(path.join(fixtures, 'inbox-schema-v2.sqlite'), file);
    const store = SqliteStore.open(file);
    try {
      await store.migrate();
      await checkUpgraded(store);
    } finally {
      await store.close();
    }
  });
});

const url = process.env.HERALD_TEST_DATABASE_URL;
if (url === undefined || url === '') {
  test('migration of a pre-v2 PostgreSQL database', (t) => t.skip('SKIP: HERALD_TEST_DATABASE_URL is not set'));
} else {
  describe('migration of a pre-v2 PostgreSQL database', () => {
    const schema = `herald_test_${randomBytes(6).toString('hex')}`;
    const run = async (sql: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
    };
    after(() => run(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));

    it('upgrades in place with every notification intact', async () => {
      const dump = fs.readFileSync(path.join(fixtures, 'inbox-schema-v2.postgres.sql'), 'utf8').replaceAll('herald_fixture', schema);
      await run(dump);
      const store = PostgresStore.connect(url, { schema });
      try {
        await store.migrate();
        await checkUpgraded(store);
      } finally {
        await store.close();
      }
    });
  });
}
