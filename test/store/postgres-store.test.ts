/**
 * Runs the store contract against PostgresStore, plus what only a shared database has: several
 * nodes (stores with their own pools) racing on one schema. Needs HERALD_TEST_DATABASE_URL;
 * every run works in fresh schemas that it drops afterwards.
 */
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import pg from 'pg';
import { openStore } from '../../src/store/open-store.js';
import { migrations } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { DuplicateNotificationError, type InboxStore, type PushResult, type StoredNotification } from '../../src/store/store.js';
import { notification, runStoreSuite } from './store-suite.js';
import { runPushStoreSuite } from './push-store-suite.js';

const url = process.env.HERALD_TEST_DATABASE_URL;
const T0 = new Date('2030-01-01T00:00:00.000Z');
const HOUR = 60 * 60 * 1000;

function freshSchema(): string {
  return `herald_test_${randomBytes(6).toString('hex')}`;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** A deterministic shuffle (so a failure replays), seeded per call site. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Runs `work` on a plain client of the test database. */
async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function dropSchema(schema: string): Promise<void> {
  await withClient((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** Resolves once a statement starting with `prefix` waits for a lock. */
async function waitForLockWait(prefix: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const waiting = await withClient((client) =>
      client.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND starts_with(query, $1)", [prefix]),
    );
    if (waiting.rowCount !== 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no statement "${prefix}…" ever waited for a lock`);
}

describe('openStore with a PostgreSQL URL', () => {
  it('opens PostgresStore for postgres:// and postgresql:// without connecting yet', async () => {
    for (const address of ['postgres://nobody@127.0.0.1:1/none', 'postgresql://nobody@127.0.0.1:1/none', 'POSTGRES://nobody@127.0.0.1:1/none']) {
      const store = openStore(address);
      assert.ok(store instanceof PostgresStore, address);
      await store.close();
    }
  });

  it('answers ping false, without throwing, when the server is unreachable or the store closed', async () => {
    const store = PostgresStore.connect('postgres://nobody@127.0.0.1:1/none');
    assert.equal(await store.ping(), false);
    await store.close();
    await store.close();
    assert.equal(await store.ping(), false);
  });

  it('refuses a schema name that is not a plain identifier', () => {
    assert.throws(() => PostgresStore.connect('postgres://127.0.0.1/x', { schema: 'a"; DROP TABLE x; --' }), /plain identifier/);
  });
});

if (url === undefined || url === '') {
  test('PostgresStore', (t) => t.skip('SKIP: HERALD_TEST_DATABASE_URL is not set; PostgreSQL store tests need a database'));
} else {
  const suiteSchema = freshSchema();
  runStoreSuite('postgres', async () => PostgresStore.connect(url, { schema: suiteSchema }), () => dropSchema(suiteSchema));
  const pushSchemas = new Map<InboxStore, string>();
  runPushStoreSuite(
    'postgres',
    async () => {
      const schema = freshSchema();
      const store = PostgresStore.connect(url, { schema, poolSize: 2 });
      pushSchemas.set(store, schema);
      return store;
    },
    async (store) => {
      await store.close();
      await dropSchema(pushSchemas.get(store)!);
    },
  );

  describe('PostgresStore migrations', () => {
    it('3 nodes migrating a fresh schema at once all succeed and apply each version once', async () => {
      const schema = freshSchema();
      const nodes = [0, 1, 2].map(() => PostgresStore.connect(url, { schema, poolSize: 2 }));
      try {
        await Promise.all(nodes.map((node) => node.migrate()));
        await Promise.all(nodes.map((node) => node.migrate()));
        const { rows, tables } = await withClient(async (client) => ({
          rows: (await client.query<{ version: number; name: string }>(`SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`)).rows,
          tables: (await client.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [schema])).rows,
        }));
        assert.deepEqual(rows.map((r) => [r.version, r.name]), migrations.map((m) => [m.version, m.name]));
        assert.deepEqual(tables.map((t) => t.table_name), [
          'button_actions',
          'idempotency_keys',
          'notifications',
          'push_devices',
          'push_jobs',
          'push_outbox',
          'push_preferences',
          'push_vapid_keys',
          'schema_migrations',
          'user_cursors',
          'webhook_outbox',
        ]);
        assert.deepEqual(await Promise.all(nodes.map((node) => node.ping())), [true, true, true]);
      } finally {
        await Promise.all(nodes.map((node) => node.close()));
        await dropSchema(schema);
      }
    });
  });

  describe('PostgresStore across nodes', () => {
    const schema = freshSchema();
    const nodes = [0, 1, 2].map(() => PostgresStore.connect(url, { schema, poolSize: 4 }));
    let appCount = 0;
    const newApp = () => `cluster-app-${++appCount}-${schema}`;

    before(() => nodes[0].migrate());
    after(async () => {
      await Promise.all(nodes.map((node) => node.close()));
      await dropSchema(schema);
    });

    it('3 nodes × 30 concurrent pushes to one user: seqs 1..90, visible in commit order, counts from one snapshot', async () => {
      const app = newApp();
      let done = false;
      const seen: number[] = [];
      const watcher = (async () => {
        for (let round = 0; ; round++) {
          const finished = done;
          const node = nodes[round % 3];
          const last = seen.at(-1) ?? 0;
          const page = await node.list(app, 'u', { afterSeq: last, limit: 500, unreadOnly: false });
          const got = page.notifications.map((n) => n.seq!);
          // A later seq visible before an earlier one would be skipped here for good.
          assert.deepEqual(got, range(last + 1, last + got.length), `after_seq=${last} answered ${got.join(',')}`);
          seen.push(...got);
          const counts = await node.count(app, 'u');
          assert.ok(counts.total === counts.lastSeq && counts.unread === counts.total, `counts ${JSON.stringify(counts)}`);
          // One more pass after the last push resolved reads everything.
          if (finished) return null;
        }
      })().catch((error: unknown) => error);
      const pushes = nodes.flatMap((node, n) => range(1, 30).map((i) => node.push(app, ['u'], notification(`n${n}-${i}`), null, T0)));
      const results = await Promise.all(pushes).finally(() => (done = true));
      assert.equal(await watcher, null);
      assert.deepEqual(results.map((r) => r.rows[0].seq!).sort((a, b) => a - b), range(1, 90));
      assert.deepEqual(seen, range(1, 90));
      assert.deepEqual(await nodes[1].count(app, 'u'), { unread: 90, total: 90, lastSeq: 90 });
    });

    it('concurrent pushes to overlapping users in every order neither deadlock nor leave gaps', async () => {
      const app = newApp();
      const users = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
      const pushes = nodes.flatMap((node, n) =>
        range(1, 20).map((i) => node.push(app, shuffled(users, n * 100 + i).slice(0, 3 + (i % 6)), notification(`m${n}-${i}`), null, T0)),
      );
      const results = await Promise.all(pushes);
      for (const user of users) {
        const mine = results.flatMap((r) => r.rows.filter((row) => row.userId === user).map((row) => row.seq!));
        const listed = await nodes[2].list(app, user, { afterSeq: 0, limit: 500, unreadOnly: false });
        assert.deepEqual(listed.notifications.map((n) => n.seq), range(1, mine.length), user);
        assert.deepEqual([...mine].sort((a, b) => a - b), range(1, mine.length), user);
      }
    });

    for (const scheduled of [false, true]) {
      it(`one id pushed ${scheduled ? 'scheduled ' : ''}to overlapping users from 3 nodes at once: one stores, the rest are duplicates`, async () => {
        const app = newApp();
        const users = ['a', 'b', 'c', 'd', 'e', 'f'];
        const input = notification('same', { sendAfter: scheduled ? new Date(T0.getTime() + HOUR) : null });
        const outcomes = await Promise.allSettled(
          nodes.flatMap((node, n) => range(1, 5).map((i) => node.push(app, shuffled(users, n * 10 + i), input, null, T0))),
        );
        const stored = outcomes.filter((o) => o.status === 'fulfilled');
        const rejected = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
        assert.equal(stored.length, 1);
        assert.ok(rejected.every((e) => e instanceof DuplicateNotificationError), `only duplicates, no deadlock: ${rejected.map(String).join('; ')}`);
        for (const user of users) {
          assert.deepEqual(await nodes[0].count(app, user), scheduled ? { unread: 0, total: 0, lastSeq: 0 } : { unread: 1, total: 1, lastSeq: 1 });
        }
      });
    }

    it('the same idempotency key from 3 nodes at once stores once, and every push answers the same rows', async () => {
      const app = newApp();
      const fire = (now: Date, prefix: string) =>
        Promise.all(nodes.flatMap((node, n) => range(1, 5).map((i) => node.push(app, ['a', 'b'], notification(`${prefix}${n}-${i}`), 'key', now))));
      const check = (results: PushResult[]) => {
        const first = results.filter((r) => !r.replayed);
        assert.equal(first.length, 1, 'exactly one push stored');
        assert.ok(results.every((r) => JSON.stringify(r.rows) === JSON.stringify(first[0].rows)));
        return first[0];
      };
      const first = check(await fire(T0, 'x'));
      assert.deepEqual(first.rows.map((r) => [r.userId, r.seq]), [['a', 1], ['b', 1]]);
      assert.deepEqual(await nodes[0].count(app, 'a'), { unread: 1, total: 1, lastSeq: 1 });
      // After the window the key is taken over once, again by exactly one of the racing pushes.
      const second = check(await fire(new Date(T0.getTime() + 25 * HOUR), 'y'));
      assert.deepEqual(second.rows.map((r) => [r.userId, r.seq]), [['a', 2], ['b', 2]]);
      assert.deepEqual(await nodes[1].count(app, 'b'), { unread: 2, total: 2, lastSeq: 2 });
    });

    it('scheduled rows released by 3 nodes racing are each released exactly once, amid pushes, without seq gaps', async (t) => {
      const app = newApp();
      const users = range(1, 20).map((i) => `u${i}`);
      for (let i = 1; i <= 15; i++) {
        await nodes[i % 3].push(app, users, notification(`s${i}`, { sendAfter: new Date(T0.getTime() + HOUR + (i % 4)) }), null, T0);
      }
      const due = new Date(T0.getTime() + 2 * HOUR);
      const released: StoredNotification[][] = [[], [], []];
      const releasers = nodes.map(async (node, n) => {
        for (;;) {
          const batch = await node.releaseDue(due, 7);
          released[n].push(...batch.filter((row) => row.appId === app));
          if (batch.length === 0) return;
        }
      });
      const pushes = nodes.flatMap((node, n) => range(1, 10).map((i) => node.push(app, shuffled(users, n * 50 + i).slice(0, 5), notification(`v${n}-${i}`), null, due)));
      const pushed = await Promise.all([...pushes, ...releasers]).then((all) => all.slice(0, pushes.length) as PushResult[]);
      const all = released.flat();
      assert.equal(all.length, 15 * 20, 'every scheduled row released');
      assert.equal(new Set(all.map((row) => `${row.userId}/${row.id}`)).size, all.length, 'none released twice');
      t.diagnostic(`rows released per node: ${released.map((mine) => mine.length).join(', ')}`);
      for (const user of users) {
        const seqs = [...all.filter((row) => row.userId === user), ...pushed.flatMap((r) => r.rows.filter((row) => row.userId === user))].map((row) => row.seq!);
        assert.deepEqual(seqs.sort((a, b) => a - b), range(1, seqs.length), user);
        const listed = await nodes[0].list(app, user, { afterSeq: 0, limit: 500, unreadOnly: false });
        assert.deepEqual(listed.notifications.map((n) => n.seq), range(1, seqs.length), user);
      }
      assert.deepEqual(await nodes[0].releaseDue(due, 1000).then((rows) => rows.filter((row) => row.appId === app)), []);
    });

    it('releases a scheduled push to 10,000 users in batches of 1,000', async (t) => {
      const app = newApp();
      const users = range(0, 9_999).map((i) => `user-${i}`);
      await nodes[0].push(app, users, notification('later', { sendAfter: new Date(T0.getTime() + HOUR) }), null, T0);
      const started = performance.now();
      let count = 0;
      for (let batch; (batch = await nodes[1].releaseDue(new Date(T0.getTime() + HOUR), 1000)).length > 0; ) count += batch.filter((row) => row.appId === app).length;
      t.diagnostic(`release of 10,000 scheduled rows took ${(performance.now() - started).toFixed(1)} ms`);
      assert.equal(count, 10_000);
      assert.deepEqual(await nodes[2].count(app, 'user-9999'), { unread: 1, total: 1, lastSeq: 1 });
    });

    it('a button press racing a delete of its notification answers false, not an error', async () => {
      const app = newApp();
      await nodes[0].push(app, ['u'], notification('n1', { buttons: [{ id: 'ok', text: 'OK', icon: null }] }), null, T0);
      await withClient(async (client) => {
        await client.query(`SET search_path TO "${schema}"`);
        await client.query('BEGIN');
        await client.query('DELETE FROM notifications WHERE app_id = $1', [app]);
        // The press finds the row in its snapshot, then its foreign key check waits for the delete.
        const press = nodes[1].recordAction(app, 'u', 'n1', 'ok', T0);
        await waitForLockWait('INSERT INTO button_actions');
        await client.query('COMMIT');
        assert.equal(await press, false);
      });
    });

    it('webhook outbox: 3 nodes enqueue and claim at once; each batch is sent once, in creation order per target', async () => {
      const app = newApp();
      const targets = ['t0', 't1', 't2', 't3'];
      const perNode = 15;
      // Each node writes its own numbered batches, one enqueue per batch, all targets in turn.
      await Promise.all(
        nodes.map(async (node, n) => {
          for (let k = 0; k < perNode; k++) {
            await node.outbox.enqueueWebhooks([{ appId: app, target: targets[k % targets.length], body: `${n}:${k}`, createdAt: T0, nextAttemptAt: T0 }]);
          }
        }),
      );
      const sent = new Map<string, string[]>();
      const ids = new Set<number>();
      // Every node claims and completes in a loop, like three dispatchers sharing one database.
      await Promise.all(
        nodes.map(async (node, n) => {
          for (let round = 0; round < 5000 && ids.size < nodes.length * perNode; round++) {
            const claimed = (await node.outbox.claimWebhooks(T0, new Date(T0.getTime() + HOUR), 3, `node-${n}`)).filter((b) => b.appId === app);
            for (const batch of claimed) {
              assert.equal(ids.has(batch.id), false, `batch ${batch.id} handed out twice`);
              ids.add(batch.id);
              sent.set(batch.target, [...(sent.get(batch.target) ?? []), batch.body]);
              await node.outbox.completeWebhook(batch.id);
            }
          }
        }),
      );
      assert.equal(ids.size, nodes.length * perNode);
      for (const [target, bodies] of sent) {
        for (let n = 0; n < nodes.length; n++) {
          const mine = bodies.filter((b) => b.startsWith(`${n}:`)).map((b) => Number(b.split(':')[1]));
          assert.deepEqual(mine, [...mine].sort((a, b) => a - b), `node ${n}'s batches to ${target} in creation order`);
        }
      }
      assert.deepEqual(await nodes[0].outbox.countWebhooks(app), { pending: 0, parked: 0 });
    });
  });
}
