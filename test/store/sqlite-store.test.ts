/** Runs the store contract against SqliteStore on a temp file, plus what only SQLite has: WAL, reopen, migrations table. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { migrations } from '../../src/store/sqlite/migrations.js';
import { notification, runStoreSuite } from './store-suite.js';
import { runPushStoreSuite } from './push-store-suite.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-sqlite-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

runStoreSuite('sqlite', async () => SqliteStore.open(path.join(dir, 'suite', 'inbox.db')));
let pushStores = 0;
runPushStoreSuite('sqlite', async () => SqliteStore.open(path.join(dir, 'push', `${pushStores++}.db`)), (store) => store.close());

describe('SqliteStore', () => {
  const now = new Date('2030-01-01T00:00:00.000Z');

  it('creates the parent directory and uses WAL', async () => {
    const file = path.join(dir, 'nested', 'deeper', 'wal.db');
    const store = SqliteStore.open(file);
    await store.migrate();
    await store.close();
    const db = new Database(file, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  it('records every migration version once', async () => {
    const file = path.join(dir, 'migrations.db');
    for (let i = 0; i < 2; i++) {
      const store = SqliteStore.open(file);
      await store.migrate();
      await store.close();
    }
    const db = new Database(file, { readonly: true });
    const rows = db.prepare<[], { version: number; name: string; applied_at: number }>('SELECT * FROM schema_migrations ORDER BY version').all();
    db.close();
    assert.deepEqual(rows.map((r) => [r.version, r.name]), migrations.map((m) => [m.version, m.name]));
    assert.ok(rows.every((r) => r.applied_at > 0));
  });

  it('keeps data across close and reopen, and seq continues', async () => {
    const file = path.join(dir, 'reopen.db');
    const first = SqliteStore.open(file);
    await first.migrate();
    await first.push('app', ['u'], notification('n1', { payload: { kept: true } }), 'key', now);
    await first.push('app', ['u'], notification('later', { sendAfter: new Date(now.getTime() + 1000) }), null, now);
    await first.open('app', 'u', ['n1'], now);
    await first.close();
    assert.equal(await first.ping(), false, 'a closed store does not answer');

    const second = SqliteStore.open(file);
    await second.migrate();
    const kept = await second.get('app', 'u', 'n1');
    assert.deepEqual([kept?.seq, kept?.payload, kept?.opened, kept?.openedAt], [1, { kept: true }, true, now]);
    assert.equal((await second.push('app', ['u'], notification('other'), 'key', now)).replayed, true);
    assert.deepEqual(await second.nextDueAt(), new Date(now.getTime() + 1000));
    assert.deepEqual((await second.push('app', ['u'], notification('n2'), null, now)).rows, [{ id: 'n2', userId: 'u', seq: 2 }]);
    assert.deepEqual((await second.releaseDue(new Date(now.getTime() + 1000), 10)).map((n) => [n.id, n.seq]), [['later', 3]]);
    assert.equal(await second.nextDueAt(), null);
    await second.close();
  });

  it('works in memory', async () => {
    const store = SqliteStore.open(':memory:');
    await store.migrate();
    assert.equal(await store.ping(), true);
    await store.push('app', ['u'], notification('n1'), null, now);
    assert.deepEqual(await store.count('app', 'u'), { unread: 1, total: 1, lastSeq: 1 });
    await store.close();
  });
});
