/**
 * Property test of inbox v2 (design.md §5): random sequences of push / seen / open / unopen /
 * archive / unarchive / snooze / unsnooze / delete / collapse / time passing (snoozes ending,
 * notifications expiring) run against a plain in-memory model and against each store, with an
 * injected clock; lists and counts must agree after every step.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { BulkAction, InboxFilter, InboxStore } from '../../src/store/store.js';
import { notification } from './store-suite.js';

const T0 = Date.parse('2031-01-01T00:00:00.000Z');
const IDS = ['a', 'b', 'c', 'd', 'e', 'f'];
const CATEGORIES = ['billing', 'social'];

interface ModelRow {
  id: string;
  seq: number;
  category: string;
  seen: boolean;
  opened: boolean;
  archived: boolean;
  snoozedUntil: number | null;
  expiresAt: number | null;
  collapseKey: string | null;
  collapsedCount: number;
}

type Op =
  | { kind: 'push'; id: string; category: string; collapseKey: string | null; ttl: number | null }
  | { kind: 'bulk'; action: Exclude<BulkAction, 'snooze'>; ids: string[] }
  | { kind: 'snooze'; ids: string[]; forMs: number }
  | { kind: 'filterBulk'; action: 'seen' | 'open' | 'archive'; category: string; upToSeq: number | null }
  | { kind: 'wait'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('push' as const),
    id: fc.constantFrom(...IDS),
    category: fc.constantFrom(...CATEGORIES),
    collapseKey: fc.option(fc.constantFrom('k1', 'k2'), { nil: null }),
    ttl: fc.option(fc.integer({ min: 1, max: 5 }).map((s) => s * 1000), { nil: null }),
  }),
  fc.record({
    kind: fc.constant('bulk' as const),
    action: fc.constantFrom('seen', 'open', 'unopen', 'archive', 'unarchive', 'unsnooze', 'delete') as fc.Arbitrary<Exclude<BulkAction, 'snooze'>>,
    ids: fc.uniqueArray(fc.constantFrom(...IDS), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant('snooze' as const), ids: fc.uniqueArray(fc.constantFrom(...IDS), { minLength: 1, maxLength: 2 }), forMs: fc.integer({ min: 1, max: 4 }).map((s) => s * 1000) }),
  fc.record({
    kind: fc.constant('filterBulk' as const),
    action: fc.constantFrom('seen', 'open', 'archive') as fc.Arbitrary<'seen' | 'open' | 'archive'>,
    category: fc.constantFrom(...CATEGORIES),
    upToSeq: fc.option(fc.integer({ min: 0, max: 12 }), { nil: null }),
  }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 3 }).map((s) => s * 1000) }),
);

/** The inbox of one user as design.md §5 describes it, in plain code. */
class Model {
  rows = new Map<string, ModelRow>();
  lastSeq = 0;
  now = T0;

  private visible(row: ModelRow): boolean {
    return row.expiresAt === null || row.expiresAt > this.now;
  }

  matches(row: ModelRow, filter: InboxFilter): boolean {
    if (!this.visible(row)) return false;
    const archived = filter.archived ?? 'exclude';
    if (archived === 'exclude' && row.archived) return false;
    if (archived === 'only' && !row.archived) return false;
    const snoozed = row.snoozedUntil !== null && row.snoozedUntil > this.now;
    const snoozeFilter = filter.snoozed ?? 'exclude';
    if (snoozeFilter === 'exclude' && snoozed) return false;
    if (snoozeFilter === 'only' && !snoozed) return false;
    if (filter.status === 'unseen' && row.seen) return false;
    if (filter.status === 'unread' && row.opened) return false;
    if (filter.status === 'read' && !row.opened) return false;
    if (filter.category && !filter.category.includes(row.category)) return false;
    return true;
  }

  list(filter: InboxFilter): string[] {
    return [...this.rows.values()].filter((row) => this.matches(row, filter)).sort((a, b) => b.seq - a.seq).map((row) => `${row.id}@${row.seq}`);
  }

  counts(filter: InboxFilter): { unseen: number; unread: number; total: number } {
    const rows = [...this.rows.values()].filter((row) => this.matches(row, filter));
    return { unseen: rows.filter((r) => !r.seen).length, unread: rows.filter((r) => !r.opened).length, total: rows.length };
  }

  /** Returns false when the push must be refused (the id exists and nothing collapses). */
  push(op: Extract<Op, { kind: 'push' }>): boolean {
    const expiresAt = op.ttl === null ? null : this.now + op.ttl;
    if (op.collapseKey !== null) {
      const target = [...this.rows.values()]
        .filter((row) => row.collapseKey === op.collapseKey && !row.opened && this.matches(row, {}))
        .sort((a, b) => b.seq - a.seq)[0];
      if (target) {
        Object.assign(target, { seq: ++this.lastSeq, category: op.category, expiresAt, seen: false, collapsedCount: target.collapsedCount + 1 });
        return true;
      }
    }
    if (this.rows.has(op.id)) return false;
    this.rows.set(op.id, {
      id: op.id, seq: ++this.lastSeq, category: op.category, seen: false, opened: false, archived: false,
      snoozedUntil: null, expiresAt, collapseKey: op.collapseKey, collapsedCount: 1,
    });
    return true;
  }

  apply(action: BulkAction, targets: ModelRow[], until: number | null): void {
    for (const row of targets) {
      switch (action) {
        case 'seen': row.seen = true; break;
        case 'open': row.opened = true; row.seen = true; break;
        case 'unopen': row.opened = false; break;
        case 'archive': row.archived = true; break;
        case 'unarchive': row.archived = false; break;
        case 'snooze': row.snoozedUntil = until; break;
        case 'unsnooze': row.snoozedUntil = null; break;
        case 'delete': this.rows.delete(row.id); break;
      }
    }
  }

  byIds(ids: readonly string[]): ModelRow[] {
    return ids.flatMap((id) => {
      const row = this.rows.get(id);
      return row && this.visible(row) ? [row] : [];
    });
  }

  /** The scheduler's pass: ended snoozes resurface with new seqs (oldest end first), then expired rows go. */
  sweep(): void {
    const ended = [...this.rows.values()].filter((row) => row.snoozedUntil !== null && row.snoozedUntil <= this.now).sort((a, b) => a.snoozedUntil! - b.snoozedUntil! || (a.id < b.id ? -1 : 1));
    for (const row of ended) {
      row.seq = ++this.lastSeq;
      row.snoozedUntil = null;
    }
    for (const row of [...this.rows.values()]) if (row.expiresAt !== null && row.expiresAt <= this.now) this.rows.delete(row.id);
  }
}

const VIEWS: Record<string, InboxFilter> = {
  live: {},
  unseen: { status: 'unseen' },
  unread: { status: 'unread' },
  archived: { archived: 'only' },
  snoozed: { snoozed: 'only' },
  billing: { category: ['billing'], archived: 'include' },
};

async function runSequence(store: InboxStore, ops: readonly Op[]): Promise<void> {
  const app = `model-${randomUUID()}`;
  const model = new Model();
  const at = () => new Date(model.now);
  for (const [step, op] of ops.entries()) {
    const where = `step ${step} ${JSON.stringify(op)}`;
    switch (op.kind) {
      case 'push': {
        const accepted = model.push(op);
        const input = notification(op.id, { category: op.category, collapseKey: op.collapseKey, expiresAt: op.ttl === null ? null : new Date(model.now + op.ttl) });
        if (accepted) await store.push(app, ['u'], input, null, at());
        else await assert.rejects(store.push(app, ['u'], input, null, at()), /already exists/, where);
        break;
      }
      case 'bulk': {
        const targets = model.byIds(op.ids);
        const result = await store.bulk(app, 'u', op.action, { ids: op.ids }, at());
        model.apply(op.action, targets, null);
        assert.deepEqual(result.counts, { ...model.counts({}), lastSeq: model.lastSeq }, where);
        break;
      }
      case 'snooze': {
        const until = model.now + op.forMs;
        await store.bulk(app, 'u', 'snooze', { ids: op.ids, until: new Date(until) }, at());
        model.apply('snooze', model.byIds(op.ids), until);
        break;
      }
      case 'filterBulk': {
        const filter: InboxFilter = { category: [op.category] };
        const targets = [...model.rows.values()].filter((row) => model.matches(row, filter) && (op.upToSeq === null || row.seq <= op.upToSeq));
        await store.bulk(app, 'u', op.action, { filter, ...(op.upToSeq === null ? {} : { upToSeq: op.upToSeq }) }, at());
        model.apply(op.action, targets, null);
        break;
      }
      case 'wait': {
        model.now += op.ms;
        await store.resurfaceDue(at(), 100_000);
        await store.expireDue(at(), 100_000);
        model.sweep();
        break;
      }
    }
    for (const [name, filter] of Object.entries(VIEWS)) {
      const listed = (await store.list(app, 'u', { limit: 100, unreadOnly: false, filter, now: at() })).notifications.map((n) => `${n.id}@${n.seq}`);
      assert.deepEqual(listed, model.list(filter), `${where}: list ${name}`);
    }
    const counts = await store.countViews(app, 'u', VIEWS, at());
    assert.deepEqual(counts, { views: Object.fromEntries(Object.entries(VIEWS).map(([name, filter]) => [name, model.counts(filter)])), lastSeq: model.lastSeq }, where);
  }
  // The change feed ends in the same state: replaying it from 0 gives the live list.
  const feed = await store.changes(app, 'u', 0, 10_000, at());
  assert.equal(feed.kind, 'page');
  if (feed.kind === 'page') {
    const present = new Map<string, number>();
    for (const change of feed.changes) {
      if (change.deleted) present.delete(change.id);
      else present.set(change.id, change.notification!.seq!);
    }
    const expected = [...model.rows.values()].filter((row) => row.expiresAt === null || row.expiresAt > model.now).map((row) => `${row.id}@${row.seq}`).sort();
    assert.deepEqual([...present].map(([id, seq]) => `${id}@${seq}`).sort(), expected, 'the change feed replays to the stored state');
  }
}

function property(store: () => InboxStore, runs: number): Promise<void> {
  return fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => runSequence(store(), ops)), { numRuns: runs });
}

describe('inbox v2 against a model: sqlite', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-model-'));
  const store = SqliteStore.open(path.join(dir, 'model.db'));
  after(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('random sequences agree with the model after every step', async () => {
    await store.migrate();
    await property(() => store, 60);
  });
});

const url = process.env.HERALD_TEST_DATABASE_URL;
describe('inbox v2 against a model: postgres', { skip: url ? false : 'SKIP: HERALD_TEST_DATABASE_URL is not set' }, () => {
  const schema = `herald_test_${randomBytes(6).toString('hex')}`;
  const store = url ? PostgresStore.connect(url, { schema }) : null;
  after(async () => {
    await store?.close();
    if (!url) return;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  it('random sequences agree with the model after every step', async () => {
    await store!.migrate();
    await property(() => store!, 25);
  });
});
