/**
 * Inbox v2 store benchmark (`npm run bench:inbox-v2`): 1,000,000 notifications over 10,000 users,
 * then a filtered list page and a 5-view counts call for random users (p50 / p99), and a push to
 * 10,000 users on the filled store. `--before DIR` also times that push with the build of an older
 * release (its `dist/`), on a store it fills the same way: before and after in one run.
 * SQLite always; PostgreSQL when HERALD_BENCH_DATABASE_URL is set (a fresh schema, dropped after).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { InboxFilter, InboxStore, NotificationInput } from '../src/store/store.js';

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const PER_USER = Number(process.env.BENCH_PER_USER ?? 100);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 2_000);
const CATEGORIES = ['billing', 'social', 'security', 'marketing'];
const APP = 'bench-app';
const T0 = Date.parse('2026-12-01T00:00:00Z');

/** The smallest part of a store the benchmark drives (old and new releases both have it). */
interface PushOnly {
  migrate(): Promise<void>;
  push(appId: string, userIds: readonly string[], input: NotificationInput, key: string | null, now: Date): Promise<unknown>;
  close(): Promise<void>;
}

const users = Array.from({ length: USERS }, (_, i) => `user-${i}`);

function input(round: number): NotificationInput {
  return {
    id: `n${round}`,
    heading: 'Bench',
    content: `Notification ${round} of the benchmark`,
    payload: { round },
    imageUrl: null,
    sendAfter: null,
    buttons: [],
    senderId: null,
    category: CATEGORIES[round % CATEGORIES.length],
    tags: [`t${round % 7}`],
    priority: round % 10 === 0 ? 'high' : 'normal',
  };
}

/** PER_USER pushes to every user: USERS × PER_USER rows. */
async function fill(store: PushOnly): Promise<number> {
  const started = performance.now();
  for (let round = 0; round < PER_USER; round++) await store.push(APP, users, input(round), null, new Date(T0 + round * 1000));
  return performance.now() - started;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(samples: number[]): { p50_ms: number; p99_ms: number; max_ms: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return { p50_ms: round(percentile(sorted, 50)), p99_ms: round(percentile(sorted, 99)), max_ms: round(sorted[sorted.length - 1]) };
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** Median of 5 pushes of one notification to 10,000 fresh users (new cursor rows, as a first push does). */
async function pushTimes(store: PushOnly, label: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const fresh = users.map((user) => `${label}-${i}-${user}`);
    times.push(await timed(() => store.push(APP, fresh, input(1000 + i), null, new Date(T0 + 10_000_000))));
  }
  return summary(times).p50_ms;
}

const VIEWS: Record<string, InboxFilter> = {
  all: {},
  unread: { status: 'unread' },
  billing: { category: ['billing'] },
  security: { category: ['security'], priority: ['high', 'critical'] },
  archived: { archived: 'only' },
};

async function measure(name: string, store: InboxStore, analyze?: () => Promise<void>): Promise<Record<string, unknown>> {
  await store.migrate();
  const fillMs = await fill(store);
  // As autovacuum would soon after a bulk load: planner statistics of the filled tables.
  await analyze?.();
  // A tenth of the inbox read and a little archived, so the filters select something.
  for (let i = 0; i < USERS; i += 10) {
    await store.bulk(APP, users[i], 'open', { filter: { category: ['social'] } }, new Date(T0 + 200_000));
    await store.bulk(APP, users[i], 'archive', { ids: ['n0', 'n4'] }, new Date(T0 + 200_000));
  }
  const now = new Date(T0 + 300_000);
  const pick = (i: number) => users[(i * 7919) % USERS];
  const list: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    list.push(await timed(() => store.list(APP, pick(i), { limit: 50, unreadOnly: false, filter: { category: ['billing', 'security'], status: 'unread' }, now })));
    counts.push(await timed(() => store.countViews(APP, pick(i + 1), VIEWS, now)));
  }
  const push = await pushTimes(store, name);
  return {
    store: name,
    notifications: USERS * PER_USER,
    users: USERS,
    fill_s: Math.round(fillMs / 100) / 10,
    filtered_list_page: summary(list),
    five_view_counts: summary(counts),
    push_10k_users_median_ms: push,
  };
}

/** The push time of an older build (`dir/dist`), on a store it filled the same way. */
async function measureBefore(dir: string, kind: 'sqlite' | 'postgres', url?: string): Promise<number> {
  if (kind === 'sqlite') {
    const module = (await import(path.join(dir, 'dist/src/store/sqlite/sqlite-store.js'))) as { SqliteStore: { open(file: string): PushOnly } };
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-before-')), 'inbox.db');
    const store = module.SqliteStore.open(file);
    await store.migrate();
    await fill(store);
    const push = await pushTimes(store, 'before');
    await store.close();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    return push;
  }
  const module = (await import(path.join(dir, 'dist/src/store/postgres/postgres-store.js'))) as { PostgresStore: { connect(url: string, options: { schema: string }): PushOnly } };
  const schema = `herald_bench_${randomBytes(5).toString('hex')}`;
  const store = module.PostgresStore.connect(url!, { schema });
  try {
    await store.migrate();
    await fill(store);
    return await pushTimes(store, 'before');
  } finally {
    await store.close();
    await dropSchema(url!, schema);
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
}

async function main(): Promise<void> {
  const beforeAt = process.argv.indexOf('--before');
  const beforeDir = beforeAt >= 0 ? path.resolve(process.argv[beforeAt + 1]) : null;
  const results: Record<string, unknown>[] = [];

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-v2-'));
  const sqlite = SqliteStore.open(path.join(dir, 'inbox.db'));
  try {
    const result = await measure('sqlite', sqlite);
    if (beforeDir) result.push_10k_users_median_ms_before = await measureBefore(beforeDir, 'sqlite');
    results.push(result);
  } finally {
    await sqlite.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const url = process.env.HERALD_BENCH_DATABASE_URL;
  if (url) {
    const schema = `herald_bench_${randomBytes(5).toString('hex')}`;
    const store = PostgresStore.connect(url, { schema });
    try {
      const result = await measure('postgres', store, async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query(`ANALYZE "${schema}".notifications`);
        await client.query(`ANALYZE "${schema}".user_cursors`);
        await client.end();
      });
      if (beforeDir) result.push_10k_users_median_ms_before = await measureBefore(beforeDir, 'postgres', url);
      results.push(result);
    } finally {
      await store.close();
      await dropSchema(url, schema);
    }
  }
  console.log(JSON.stringify({ scenario: 'inbox-v2', date: new Date().toISOString(), results }, null, 2));
}

await main();
