/** The shared inbox store: PostgreSQL through a node-postgres pool, safe for several Herald nodes on one database. */
import pg from 'pg';
import {
  defaultDatabaseTimeouts,
  DuplicateNotificationError,
  type BulkAction,
  type BulkResult,
  type BulkTarget,
  type ChangesPage,
  type DatabaseTimeouts,
  keySender,
  type Counts,
  type ExpiredNotification,
  type InboxChange,
  type InboxFilter,
  type InboxStore,
  type ListQuery,
  type ListResult,
  type NotificationInput,
  type PushedRow,
  type PushResult,
  type StoredNotification,
  type ViewCounts,
} from '../store.js';
import { actionSql, defaultBulkFilter, filterSql, notExpired, type SqlDialect } from '../inbox-filter.js';
import { GuardedPool, isUnavailable, type Queryable } from './guarded-pool.js';
import { applyMigrations, isPlainIdentifier, migrations } from './migrations.js';
import type { PushJobSpec } from '../push-store.js';
import { PostgresPushStore } from './push-store.js';
import { PostgresWebhookOutbox } from './webhook-outbox.js';
import { IDEMPOTENCY_WINDOW_MS, storedFromInput } from '../pushed-notification.js';
import {
  COLUMNS,
  SQL,
  compareText,
  liveChange,
  storeTypes,
  toPushedRows,
  toStored,
  toStoredResult,
  type CountsRow,
  type NotificationRow,
  type StoredPushResult,
} from './statements.js';
import { deleteThroughBulk, openThroughBulk } from '../bulk-shortcuts.js';

/** How long `ping()` waits for an answer before reporting the database unreachable (so `/ready` answers promptly). */
const PING_TIMEOUT_MS = 2000;
/** SQLSTATE of a foreign key violation: the notification of a button press was deleted meanwhile. */
const FOREIGN_KEY_VIOLATION = '23503';
const UNIQUE_VIOLATION = '23505';

/** Options of `PostgresStore.connect`. */
export interface PostgresStoreOptions {
  /** Schema holding the tables (created by `migrate()` if missing); the connection's search_path otherwise. */
  readonly schema?: string;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /** Bounds on every wait for the database (default: 5 s to connect, 10 s per statement). */
  readonly timeouts?: Partial<DatabaseTimeouts>;
}

/** Whether a query failed because one of the users already has the notification id. */
function isDuplicateId(error: unknown): boolean {
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  return code === UNIQUE_VIOLATION && constraint === 'notifications_pkey';
}

function toCounts(row: CountsRow): Counts {
  return { unseen: row.unseen, unread: row.unread, total: row.total, lastSeq: row.last_seq };
}

const dialect: SqlDialect = {
  flag: (column, value) => (value ? column : `NOT ${column}`),
  bool: (value) => (value ? 'true' : 'false'),
  inList: (column, values, param) => `${column} = ANY(${param(values)}::text[])`,
  anyTag: (tags, param) => `tags && ${param(tags)}::text[]`,
};

/** Builds SQL with numbered parameters, in the order they are bound. */
class Params {
  readonly values: unknown[] = [];
  readonly bind = (value: unknown): string => {
    this.values.push(value);
    return `$${this.values.length}`;
  };
}

/** A user's key as the locking and batching helpers group rows. */
interface UserRef {
  readonly appId: string;
  readonly userId: string;
}

/** The distinct users of some rows, in the one lock order. */
function usersOf(rows: readonly { app_id: string; user_id: string }[]): UserRef[] {
  const seen = new Map<string, UserRef>();
  for (const row of rows) seen.set(JSON.stringify([row.app_id, row.user_id]), { appId: row.app_id, userId: row.user_id });
  return [...seen.values()].sort((a, b) => compareText(a.appId, b.appId) || compareText(a.userId, b.userId));
}

function userKey(appId: string, userId: string): string {
  return JSON.stringify([appId, userId]);
}

/**
 * InboxStore on PostgreSQL, READ COMMITTED. Every write is one transaction (often a single
 * statement) committed before it resolves: durably, unless the server runs with
 * `synchronous_commit = off`, which the inbox contract does not allow. Concurrency
 * between nodes rests on row locks, always taken in one order, so no two writers deadlock:
 * - the idempotency key row first (a push with a key claims it before anything else);
 * - then, per user sorted by (app, user), the cursor row `user_cursors` and the user's new row: a
 *   push or release holds the cursor until commit, so a user's seqs commit in the order assigned,
 *   and a reader that has seen seq n can never later find a smaller seq appear;
 * - scheduled rows are locked FOR UPDATE SKIP LOCKED, so a release never waits for another and
 *   each due row is released by exactly one node.
 */
export class PostgresStore implements InboxStore {
  private closing: Promise<void> | null = null;
  private pinging: Promise<boolean> | null = null;
  readonly outbox: PostgresWebhookOutbox;
  readonly offline: PostgresPushStore;

  private constructor(
    private readonly db: GuardedPool,
    /** Its own single connection, so a readiness check never queues behind the requests of a busy pool. */
    private readonly pingDb: GuardedPool,
    private readonly schema: string | null,
  ) {
    this.outbox = new PostgresWebhookOutbox(db, (work) => this.transaction(work), schema);
    this.offline = new PostgresPushStore(db, (work) => this.transaction(work));
  }

  /** Creates the pool for `url` (no connection is made until first use). */
  static connect(url: string, options: PostgresStoreOptions = {}): PostgresStore {
    const schema = options.schema ?? null;
    if (schema !== null && !isPlainIdentifier(schema)) {
      throw new Error(`PostgreSQL schema "${schema}" must be a plain identifier (letters, digits, _; not starting with a digit)`);
    }
    const timeouts = { ...defaultDatabaseTimeouts, ...options.timeouts };
    const config: pg.PoolConfig = {
      connectionString: url,
      max: options.poolSize ?? 10,
      keepAlive: true,
      application_name: 'herald',
      types: storeTypes,
      // Awaited before the pool hands the connection out, so no query ever runs in another schema.
      onConnect:
        schema === null
          ? undefined
          : async (client) => {
              await client.query(`SET search_path TO "${schema}"`);
            },
    };
    const pingTimeouts = {
      connectTimeoutMs: Math.min(timeouts.connectTimeoutMs, PING_TIMEOUT_MS),
      statementTimeoutMs: Math.min(timeouts.statementTimeoutMs, PING_TIMEOUT_MS),
    };
    return new PostgresStore(new GuardedPool(config, timeouts), new GuardedPool({ ...config, max: 1 }, pingTimeouts), schema);
  }

  async migrate(): Promise<void> {
    await this.db.withClient((client) => applyMigrations(client, migrations, this.schema));
  }

  async ping(): Promise<boolean> {
    if (this.closing) return false;
    // One check at a time: while the database is frozen, /ready requests share it instead of piling up.
    this.pinging ??= this.checkOnce().finally(() => {
      this.pinging = null;
    });
    return this.pinging;
  }

  private async checkOnce(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
    });
    try {
      const answer = this.pingDb.query<{ one: number }>(SQL.ping).then((result) => result.rows[0]?.one === 1);
      return await Promise.race([answer, timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closing ??= Promise.all([this.db.end(), this.pingDb.end()]).then(() => undefined);
    await this.closing;
  }

  /**
   * Runs `work` in a transaction on one pooled connection; rolls back on any error. A connection
   * that failed or timed out is not rolled back (that would wait again) but destroyed, which ends
   * the transaction on the server. A COMMIT cut off this way has an unknown outcome: the caller
   * gets a StoreUnavailableError, and a push retried with its idempotency key is stored once.
   */
  private transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.db.withClient(async (client, release) => {
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        if (isUnavailable(error)) {
          release(error);
          throw error;
        }
        // A connection that cannot even roll back is discarded rather than returned to the pool.
        await client.query('ROLLBACK').catch((rollbackError: unknown) => release(rollbackError));
        throw error;
      }
    });
  }

  /**
   * Without an idempotency key a push is one statement, committed on its own (one round trip).
   * With one, the key is claimed first in a transaction that also stores the rows and the result.
   */
  async push(
    appId: string,
    userIds: readonly string[],
    input: NotificationInput,
    idempotencyKey: string | null,
    now: Date,
    pushJob: PushJobSpec | null = null,
  ): Promise<PushResult> {
    if (idempotencyKey === null && pushJob === null) return this.insertPush(this.db, appId, userIds, input, now);
    const sender = keySender(input);
    return this.transaction(async (client) => {
      if (idempotencyKey === null) return this.insertPushWithJobs(client, appId, userIds, input, now, pushJob!);
      const claim = await client.query(SQL.claimKey, [appId, sender, idempotencyKey, now.getTime(), IDEMPOTENCY_WINDOW_MS]);
      if (claim.rowCount === 0) {
        const earlier = await client.query<{ result: StoredPushResult | null }>(SQL.readKey, [appId, sender, idempotencyKey]);
        const result = earlier.rows[0]?.result;
        // Unreachable while the claim's row lock holds: the claiming push commits its result with the key.
        if (!result) throw new Error(`idempotency key "${idempotencyKey}" of app "${appId}" has no stored result`);
        return { rows: toPushedRows(result), replayed: true, visible: [] };
      }
      const pushed = pushJob === null ? await this.insertPush(client, appId, userIds, input, now) : await this.insertPushWithJobs(client, appId, userIds, input, now, pushJob);
      await client.query(SQL.putKey, [appId, sender, idempotencyKey, JSON.stringify(toStoredResult(input.id, pushed.rows))]);
      return pushed;
    });
  }

  /** The push's field parameters $4..$17, after app, users and id. */
  private static fieldParams(input: NotificationInput, now: Date): unknown[] {
    return [
      input.heading,
      input.content,
      JSON.stringify(input.payload ?? null),
      input.imageUrl,
      input.sendAfter === null ? null : input.sendAfter.getTime(),
      JSON.stringify(input.buttons),
      input.senderId,
      now.getTime(),
      input.category ?? null,
      input.tags ?? [],
      input.priority ?? 'normal',
      input.tenant ?? null,
      input.expiresAt ? input.expiresAt.getTime() : null,
      input.collapseKey ?? null,
    ];
  }

  /** Stores the rows of a push and, in the same transaction, its push jobs. */
  private async insertPushWithJobs(
    client: pg.PoolClient,
    appId: string,
    userIds: readonly string[],
    input: NotificationInput,
    now: Date,
    pushJob: PushJobSpec,
  ): Promise<PushResult> {
    const pushed = await this.insertPush(client, appId, userIds, input, now);
    const fresh = pushed.rows.filter((row) => row.id === input.id).map((row) => row.userId);
    await this.offline.insertJobs(client, appId, fresh.sort(compareText), input.id, pushJob);
    // A collapsed notification is delivered again: its rule runs again under its own id.
    for (const row of pushed.rows) if (row.id !== input.id) await this.offline.insertJobs(client, appId, [row.userId], row.id, pushJob);
    return pushed;
  }

  /** Stores the rows of a push with one statement on `db` (the pool: autocommit; a client: its transaction). */
  private async insertPush(db: Queryable, appId: string, userIds: readonly string[], input: NotificationInput, now: Date): Promise<PushResult> {
    const users = [...new Set(userIds)];
    const nowMs = now.getTime();
    const sendAfterMs = input.sendAfter === null ? null : input.sendAfter.getTime();
    const isVisible = sendAfterMs === null || sendAfterMs <= nowMs;
    if (isVisible && (input.collapseKey ?? null) !== null) {
      if (db instanceof GuardedPool) return this.transaction((client) => this.insertCollapsing(client, appId, users, input, now));
      return this.insertCollapsing(db as pg.PoolClient, appId, users, input, now);
    }
    let inserted: pg.QueryResult<{ user_id: string; seq: number | null; change_seq: number | null }>;
    try {
      // Sorted: every transaction locks cursor rows (and inserts rows) in one order, so none deadlock.
      inserted = await db.query(isVisible ? SQL.pushVisible : SQL.pushScheduled, [
        appId,
        [...users].sort(compareText),
        input.id,
        ...PostgresStore.fieldParams(input, now),
      ]);
    } catch (error) {
      // The failed statement stored nothing: cursors, rows (and, in a transaction, the key) roll back.
      if (isDuplicateId(error)) throw new DuplicateNotificationError(input.id);
      throw error;
    }
    const byUser = new Map(inserted.rows.map((row) => [row.user_id, row]));
    const rows: PushedRow[] = users.map((userId) => ({ id: input.id, userId, seq: byUser.get(userId)?.seq ?? null }));
    const visible = isVisible ? users.map((userId) => storedFromInput(appId, userId, byUser.get(userId)!.seq!, byUser.get(userId)!.change_seq!, input, now)) : [];
    return { rows, replayed: false, visible };
  }

  /**
   * A visible push with a collapse key: the users' cursors are locked (and advanced) first, so the
   * next statement sees every committed push of these users, and a concurrent push with the same key
   * on another node waits, then finds this one's row to collapse into.
   */
  private async insertCollapsing(client: pg.PoolClient, appId: string, users: readonly string[], input: NotificationInput, now: Date): Promise<PushResult> {
    const sorted = [...users].sort(compareText);
    const cursors = await client.query<{ user_id: string; last_seq: number; last_change_seq: number }>(SQL.advanceForPush, [appId, sorted]);
    const cursorOf = new Map(cursors.rows.map((row) => [row.user_id, row]));
    const targets = await client.query<{ user_id: string; id: string }>(SQL.collapsible, [appId, sorted, input.collapseKey, now.getTime()]);
    const fields = PostgresStore.fieldParams(input, now);
    const collapsed = new Map<string, StoredNotification>();
    if (targets.rows.length > 0) {
      const t = targets.rows;
      const updated = await client.query<NotificationRow>(SQL.collapse, [
        appId,
        t.map((row) => row.user_id),
        t.map((row) => row.id),
        t.map((row) => cursorOf.get(row.user_id)!.last_seq),
        t.map((row) => cursorOf.get(row.user_id)!.last_change_seq),
        fields[0], fields[1], fields[2], fields[3], fields[5], fields[6], fields[8], fields[9], fields[10], fields[11], fields[12],
      ]);
      for (const row of updated.rows) collapsed.set(row.user_id, toStored(row));
    }
    const fresh = sorted.filter((userId) => !collapsed.has(userId));
    const insertedSeqs = new Map<string, { seq: number; change_seq: number }>();
    if (fresh.length > 0) {
      try {
        const inserted = await client.query<{ user_id: string; seq: number; change_seq: number }>(SQL.insertReserved, [
          appId,
          fresh,
          input.id,
          ...fields,
          fresh.map((userId) => cursorOf.get(userId)!.last_seq),
          fresh.map((userId) => cursorOf.get(userId)!.last_change_seq),
        ]);
        for (const row of inserted.rows) insertedSeqs.set(row.user_id, row);
      } catch (error) {
        if (isDuplicateId(error)) throw new DuplicateNotificationError(input.id);
        throw error;
      }
    }
    const rows: PushedRow[] = users.map((userId) => {
      const update = collapsed.get(userId);
      return update ? { id: update.id, userId, seq: update.seq } : { id: input.id, userId, seq: insertedSeqs.get(userId)!.seq };
    });
    const visible = users.map((userId) => {
      const inserted = insertedSeqs.get(userId);
      return collapsed.get(userId) ?? storedFromInput(appId, userId, inserted!.seq, inserted!.change_seq, input, now);
    });
    return { rows, replayed: false, visible };
  }

  async releaseDue(now: Date, limit: number): Promise<StoredNotification[]> {
    if (limit <= 0) return [];
    return this.transaction(async (client) => {
      const due = (await client.query<NotificationRow>(SQL.selectDue, [now.getTime(), limit])).rows;
      if (due.length === 0) return [];
      return this.assignSeqs(client, due);
    });
  }

  /**
   * Gives rows the next seqs and change_seqs of their users: one cursor advance per user, by the
   * number of that user's rows, in the shared lock order; each user's rows in the given order.
   */
  private async assignSeqs(client: pg.PoolClient, rows: readonly NotificationRow[]): Promise<StoredNotification[]> {
    const count = new Map<string, number>();
    for (const row of rows) count.set(userKey(row.app_id, row.user_id), (count.get(userKey(row.app_id, row.user_id)) ?? 0) + 1);
    const users = usersOf(rows);
    const advanced = await client.query<{ app_id: string; user_id: string; last_seq: number; last_change_seq: number }>(SQL.advanceCursors, [
      users.map((u) => u.appId),
      users.map((u) => u.userId),
      users.map((u) => count.get(userKey(u.appId, u.userId))!),
    ]);
    const next = new Map<string, { seq: number; change: number }>();
    for (const row of advanced.rows) {
      const n = count.get(userKey(row.app_id, row.user_id))!;
      next.set(userKey(row.app_id, row.user_id), { seq: row.last_seq - n + 1, change: row.last_change_seq - n + 1 });
    }
    const assigned = rows.map((row) => {
      const cursor = next.get(userKey(row.app_id, row.user_id))!;
      const result = { ...row, seq: cursor.seq, change_seq: cursor.change, snoozed_until_ms: null };
      cursor.seq++;
      cursor.change++;
      return result;
    });
    await client.query(SQL.setSeqs, [
      assigned.map((row) => row.app_id),
      assigned.map((row) => row.user_id),
      assigned.map((row) => row.id),
      assigned.map((row) => row.seq),
      assigned.map((row) => row.change_seq),
    ]);
    return assigned.map(toStored);
  }

  /** Locks the cursors of the users of `rows` in the one lock order (other nodes' sweeps and every user write wait). */
  private async lockUsers(client: pg.PoolClient, rows: readonly { app_id: string; user_id: string }[]): Promise<void> {
    const users = usersOf(rows);
    await client.query(SQL.lockCursors, [users.map((u) => u.appId), users.map((u) => u.userId)]);
  }

  async resurfaceDue(now: Date, limit: number): Promise<StoredNotification[]> {
    if (limit <= 0) return [];
    const candidates = (await this.db.query<{ app_id: string; user_id: string; id: string }>(SQL.snoozeEnded, [now.getTime(), limit])).rows;
    if (candidates.length === 0) return [];
    return this.transaction(async (client) => {
      // Cursor first, then rows, as every user write does; the recheck sees what another node did meanwhile.
      await this.lockUsers(client, candidates);
      const due = await client.query<NotificationRow>(SQL.recheckSnoozed, [
        candidates.map((row) => row.app_id),
        candidates.map((row) => row.user_id),
        candidates.map((row) => row.id),
        now.getTime(),
      ]);
      return due.rows.length === 0 ? [] : this.assignSeqs(client, due.rows);
    });
  }

  async expireDue(now: Date, limit: number): Promise<ExpiredNotification[]> {
    if (limit <= 0) return [];
    const nowMs = now.getTime();
    await this.db.query(SQL.deleteExpiredScheduled, [nowMs, limit]);
    const candidates = (await this.db.query<{ app_id: string; user_id: string; id: string }>(SQL.expired, [nowMs, limit])).rows;
    if (candidates.length === 0) return [];
    return this.transaction(async (client) => {
      await this.lockUsers(client, candidates);
      const deleted = (
        await client.query<{ app_id: string; user_id: string; id: string; expires_at_ms: number }>(SQL.deleteExpired, [
          candidates.map((row) => row.app_id),
          candidates.map((row) => row.user_id),
          candidates.map((row) => row.id),
          nowMs,
        ])
      ).rows.sort((a, b) => a.expires_at_ms - b.expires_at_ms || compareText(a.id, b.id));
      if (deleted.length === 0) return [];
      const count = new Map<string, number>();
      for (const row of deleted) count.set(userKey(row.app_id, row.user_id), (count.get(userKey(row.app_id, row.user_id)) ?? 0) + 1);
      const users = usersOf(deleted);
      const advanced = await client.query<{ app_id: string; user_id: string; last_change_seq: number }>(SQL.advanceChangeCursors, [
        users.map((u) => u.appId),
        users.map((u) => u.userId),
        users.map((u) => count.get(userKey(u.appId, u.userId))!),
      ]);
      const next = new Map(advanced.rows.map((row) => [userKey(row.app_id, row.user_id), row.last_change_seq - count.get(userKey(row.app_id, row.user_id))! + 1]));
      const expired = deleted.map((row): ExpiredNotification => {
        const key = userKey(row.app_id, row.user_id);
        const changeSeq = next.get(key)!;
        next.set(key, changeSeq + 1);
        return { appId: row.app_id, userId: row.user_id, id: row.id, changeSeq };
      });
      await client.query(SQL.insertTombstones, [
        expired.map((e) => e.appId),
        expired.map((e) => e.userId),
        expired.map((e) => e.id),
        expired.map((e) => e.changeSeq),
        'expired',
        nowMs,
      ]);
      return expired;
    });
  }

  async nextDueAt(): Promise<Date | null> {
    const at = (await this.db.query<{ at: number | null }>(SQL.nextDue)).rows[0]?.at ?? null;
    return at === null ? null : new Date(at);
  }

  async list(appId: string, userId: string, query: ListQuery): Promise<ListResult> {
    const nowMs = (query.now ?? new Date()).getTime();
    const filter: InboxFilter = { ...query.filter, ...(query.unreadOnly ? { status: 'unread' } : {}) };
    const params = new Params();
    const bind = params.bind;
    let text = `SELECT ${COLUMNS} FROM notifications WHERE app_id = ${bind(appId)} AND user_id = ${bind(userId)} AND seq IS NOT NULL`;
    if (query.beforeSeq !== undefined) text += ` AND seq < ${bind(query.beforeSeq)}`;
    if (query.afterSeq !== undefined) text += ` AND seq > ${bind(query.afterSeq)}`;
    text += ` AND ${filterSql(dialect, filter, nowMs, bind)} ORDER BY seq ${query.afterSeq === undefined ? 'DESC' : 'ASC'} LIMIT ${bind(query.limit + 1)}`;
    const result = await this.db.query<NotificationRow>(text, params.values);
    return { notifications: result.rows.slice(0, query.limit).map(toStored), hasMore: result.rows.length > query.limit };
  }

  async count(appId: string, userId: string, filter: InboxFilter = {}, now: Date = new Date()): Promise<Counts> {
    const { views, lastSeq } = await this.countViewsOn(this.db, appId, userId, { view: filter }, now.getTime());
    return { ...views.view, lastSeq };
  }

  async countViews(appId: string, userId: string, views: Readonly<Record<string, InboxFilter>>, now: Date): Promise<{ views: Record<string, ViewCounts>; lastSeq: number }> {
    return this.countViewsOn(this.db, appId, userId, views, now.getTime());
  }

  /** Every view's counts and the cursor in one statement, hence one snapshot. */
  private async countViewsOn(
    db: Queryable,
    appId: string,
    userId: string,
    views: Readonly<Record<string, InboxFilter>>,
    nowMs: number,
  ): Promise<{ views: Record<string, ViewCounts>; lastSeq: number }> {
    const names = Object.keys(views);
    const params = new Params();
    const bind = params.bind;
    const app = bind(appId);
    const user = bind(userId);
    const columns = names.map((name, i) => {
      const where = filterSql(dialect, views[name], nowMs, bind);
      return `count(*) FILTER (WHERE ${where} AND NOT seen) AS u${i}, count(*) FILTER (WHERE ${where} AND NOT opened) AS r${i},
        count(*) FILTER (WHERE ${where}) AS t${i}`;
    });
    const text = `SELECT ${[...columns, '0 AS none'].join(', ')},
        coalesce((SELECT last_seq FROM user_cursors WHERE app_id = ${app} AND user_id = ${user}), 0) AS last_seq
      FROM notifications WHERE app_id = ${app} AND user_id = ${user} AND seq IS NOT NULL AND ${notExpired(bind, nowMs)}`;
    const row = (await db.query<Record<string, number>>(text, params.values)).rows[0];
    const result: Record<string, ViewCounts> = {};
    names.forEach((name, i) => {
      result[name] = { unseen: row[`u${i}`], unread: row[`r${i}`], total: row[`t${i}`] };
    });
    return { views: result, lastSeq: row.last_seq };
  }

  /**
   * Each user's counts: the cached ones (migration 7) where still valid; the others counted in one
   * statement (with the cursor it read, so counts and change seq are one snapshot) and cached.
   */
  async countUsers(appId: string, userIds: readonly string[], now: Date): Promise<Map<string, Counts>> {
    const nowMs = now.getTime();
    const users = [...new Set(userIds)];
    const cached = await this.db.query<{ user_id: string; last_seq: number; total: number; unread: number; unseen: number }>(
      `SELECT c.user_id, c.last_seq, c.counts_total AS total, c.counts_unread AS unread, c.counts_unseen AS unseen
        FROM user_cursors c WHERE c.app_id = $1 AND c.user_id = ANY($2::text[])
          AND c.counts_seq = c.last_change_seq AND (c.counts_until_ms IS NULL OR c.counts_until_ms > $3::bigint)`,
      [appId, users, nowMs],
    );
    const result = new Map<string, Counts>(cached.rows.map((row) => [row.user_id, toCounts(row)]));
    const stale = users.filter((userId) => !result.has(userId));
    if (stale.length === 0) return result;
    const params = new Params();
    const bind = params.bind;
    const at = bind(nowMs);
    const text = `SELECT u.user_id, coalesce(max(c.last_seq), 0) AS last_seq, max(c.last_change_seq) AS change_seq, count(n.id) AS total,
        count(n.id) FILTER (WHERE NOT n.opened) AS unread, count(n.id) FILTER (WHERE NOT n.seen) AS unseen,
        least(min(s.snoozed_until_ms) FILTER (WHERE s.snoozed_until_ms > ${at}), min(s.expires_at_ms) FILTER (WHERE s.expires_at_ms > ${at})) AS until_ms
      FROM unnest(${bind(stale)}::text[]) AS u(user_id)
      LEFT JOIN user_cursors c ON c.app_id = ${bind(appId)} AND c.user_id = u.user_id
      LEFT JOIN notifications n ON n.app_id = ${bind(appId)} AND n.user_id = u.user_id AND n.seq IS NOT NULL
        AND ${filterSql(dialect, {}, nowMs, bind)}
      LEFT JOIN LATERAL (SELECT min(snoozed_until_ms) FILTER (WHERE snoozed_until_ms > ${at}) AS snoozed_until_ms,
          min(expires_at_ms) FILTER (WHERE expires_at_ms > ${at}) AS expires_at_ms
        FROM notifications WHERE app_id = ${bind(appId)} AND user_id = u.user_id AND seq IS NOT NULL AND NOT archived) s ON true
      GROUP BY u.user_id`;
    const rows = (await this.db.query<CountsRow & { user_id: string; change_seq: number | null; until_ms: number | null }>(text, params.values)).rows;
    const store = rows.filter((row) => row.change_seq !== null);
    for (const row of rows) result.set(row.user_id, toCounts(row));
    if (store.length > 0) {
      // Only a cache: if storing it fails, the counts are still right and the next read counts again.
      await this.db.query(SQL.storeCounts, [
        appId,
        store.map((row) => row.user_id),
        store.map((row) => row.change_seq),
        store.map((row) => row.total),
        store.map((row) => row.unread),
        store.map((row) => row.unseen),
        store.map((row) => row.until_ms),
      ]).catch(() => undefined);
    }
    return result;
  }

  async get(appId: string, userId: string, id: string): Promise<StoredNotification | null> {
    const row = (await this.db.query<NotificationRow>(SQL.get, [appId, userId, id])).rows[0];
    return row ? toStored(row) : null;
  }

  open(appId: string, userId: string, ids: readonly string[] | 'all', now: Date): Promise<{ opened: string[]; counts: Counts }> {
    return openThroughBulk(this, appId, userId, ids, now);
  }

  delete(appId: string, userId: string, id: string): Promise<Counts | null> {
    return deleteThroughBulk(this, appId, userId, id, new Date());
  }

  /** The rows a bulk target selects, as SQL conditions after `WHERE` (the user's visible, unexpired rows). */
  private targetSql(appId: string, userId: string, action: BulkAction, target: BulkTarget, nowMs: number, bind: (value: unknown) => string, alias = ''): string {
    let text = `${alias}app_id = ${bind(appId)} AND ${alias}user_id = ${bind(userId)} AND ${alias}seq IS NOT NULL`;
    if (target.ids !== undefined) {
      text += ` AND id = ANY(${bind(target.ids)}::text[]) AND ${notExpired(bind, nowMs)}`;
      if (target.filter !== undefined) text += ` AND ${filterSql(dialect, target.filter, nowMs, bind)}`;
    } else {
      text += ` AND ${filterSql(dialect, defaultBulkFilter(action, target.filter), nowMs, bind)}`;
    }
    if (target.upToSeq !== undefined) text += ` AND seq <= ${bind(target.upToSeq)}`;
    return text;
  }

  /** The user's cursor is locked first (as by every writer), then the rows change, each with the next change_seq. */
  async bulk(appId: string, userId: string, action: BulkAction, target: BulkTarget, now: Date): Promise<BulkResult> {
    const nowMs = now.getTime();
    return this.transaction(async (client) => {
      const base = (await client.query<{ last_change_seq: number }>(SQL.lockCursor, [appId, userId])).rows[0].last_change_seq;
      const params = new Params();
      const bind = params.bind;
      let changes: InboxChange[];
      if (action === 'delete') {
        const text = `WITH t AS (SELECT id, row_number() OVER (ORDER BY seq) AS n FROM notifications
            WHERE ${this.targetSql(appId, userId, action, target, nowMs, bind)}),
          d AS (DELETE FROM notifications x USING t WHERE x.app_id = ${bind(appId)} AND x.user_id = ${bind(userId)} AND x.id = t.id
            RETURNING x.id, t.n)
          INSERT INTO inbox_tombstones (app_id, user_id, change_seq, id, reason, at_ms)
          SELECT ${bind(appId)}, ${bind(userId)}, ${bind(base)}::bigint + d.n, d.id, 'deleted', ${bind(nowMs)}::bigint FROM d
          RETURNING change_seq, id`;
        const removed = (await client.query<{ change_seq: number; id: string }>(text, params.values)).rows;
        changes = removed
          .sort((a, b) => a.change_seq - b.change_seq)
          .map((row) => ({ changeSeq: row.change_seq, id: row.id, deleted: true, reason: 'deleted', notification: null }));
      } else {
        const { set, changes: changing } = actionSql(dialect, action, nowMs, target.until?.getTime() ?? null, bind);
        const text = `WITH t AS (SELECT id, row_number() OVER (ORDER BY seq) AS n FROM notifications
            WHERE ${this.targetSql(appId, userId, action, target, nowMs, bind)} AND ${changing})
          UPDATE notifications x SET ${set}, change_seq = ${bind(base)}::bigint + t.n FROM t
          WHERE x.app_id = ${bind(appId)} AND x.user_id = ${bind(userId)} AND x.id = t.id
          RETURNING ${COLUMNS.split(',').map((column) => `x.${column.trim()}`).join(', ')}`;
        const rows = (await client.query<NotificationRow>(text, params.values)).rows;
        changes = rows.sort((a, b) => a.change_seq! - b.change_seq!).map(liveChange);
      }
      const changeSeq =
        changes.length === 0 ? base : (await client.query<{ last_change_seq: number }>(SQL.advanceChange, [appId, userId, changes.length])).rows[0].last_change_seq;
      const { views, lastSeq } = await this.countViewsOn(client, appId, userId, { all: {} }, nowMs);
      return { changes, counts: { ...views.all, lastSeq }, changeSeq };
    });
  }

  async recordAction(appId: string, userId: string, id: string, buttonId: string, now: Date): Promise<BulkResult | null> {
    const nowMs = now.getTime();
    try {
      return await this.transaction(async (client) => {
        await client.query(SQL.lockCursor, [appId, userId]);
        if ((await client.query(SQL.recordAction, [appId, userId, id, buttonId, nowMs])).rowCount !== 1) return null;
        const changeSeq = (await client.query<{ last_change_seq: number }>(SQL.advanceChange, [appId, userId, 1])).rows[0].last_change_seq;
        const row = (await client.query<NotificationRow>(SQL.setActioned, [appId, userId, id, buttonId, nowMs, changeSeq])).rows[0];
        const { views, lastSeq } = await this.countViewsOn(client, appId, userId, { all: {} }, nowMs);
        return { changes: [liveChange(row)], counts: { ...views.all, lastSeq }, changeSeq };
      });
    } catch (error) {
      // Deleted between the existence check and the foreign key check: as unknown as never existing.
      if ((error as { code?: unknown }).code === FOREIGN_KEY_VIOLATION) return null;
      throw error;
    }
  }

  /** Read in one REPEATABLE READ snapshot: the cursor, the changed rows and the tombstones agree. */
  async changes(appId: string, userId: string, afterChangeSeq: number | null, limit: number, now: Date): Promise<ChangesPage> {
    if (afterChangeSeq === null) {
      const cursor = (await this.db.query<{ last_change_seq: number }>(SQL.cursor, [appId, userId])).rows[0];
      return { kind: 'page', changes: [], hasMore: false, changeSeq: cursor?.last_change_seq ?? 0 };
    }
    const read = await this.db.withClient(async (client, release) => {
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const cursor = (await client.query<{ last_change_seq: number; changes_floor: number }>(SQL.cursor, [appId, userId])).rows[0] ?? {
          last_change_seq: 0,
          changes_floor: 0,
        };
        if (afterChangeSeq < cursor.changes_floor || afterChangeSeq > cursor.last_change_seq) {
          await client.query('COMMIT');
          return null;
        }
        const rows = (await client.query<NotificationRow>(SQL.changedRows, [appId, userId, afterChangeSeq, limit + 1])).rows;
        const tombstones = (await client.query<{ change_seq: number; id: string; reason: 'deleted' | 'expired' }>(SQL.tombstones, [appId, userId, afterChangeSeq, limit + 1])).rows;
        await client.query('COMMIT');
        return { cursor, rows, tombstones };
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => release(rollbackError));
        throw error;
      }
    });
    if (read === null) return { kind: 'resync' };
    const nowMs = now.getTime();
    const live = read.rows.map((row): InboxChange =>
      // Expired but not yet swept: already gone for every reader.
      row.expires_at_ms !== null && row.expires_at_ms <= nowMs ? { changeSeq: row.change_seq!, id: row.id, deleted: true, reason: 'expired', notification: null } : liveChange(row),
    );
    const gone = read.tombstones.map((row): InboxChange => ({ changeSeq: row.change_seq, id: row.id, deleted: true, reason: row.reason, notification: null }));
    const all = [...live, ...gone].sort((a, b) => a.changeSeq - b.changeSeq);
    const page = all.slice(0, limit);
    const hasMore = all.length > limit;
    return { kind: 'page', changes: page, hasMore, changeSeq: hasMore ? page[page.length - 1].changeSeq : read.cursor.last_change_seq };
  }

  async pruneChanges(before: Date): Promise<void> {
    const beforeMs = before.getTime();
    for (;;) {
      const users = (await this.db.query<{ app_id: string; user_id: string; floor: number }>(SQL.oldTombstones, [beforeMs, 1000])).rows;
      if (users.length === 0) return;
      await this.transaction(async (client) => {
        await this.lockUsers(client, users);
        await client.query(SQL.raiseFloors, [users.map((u) => u.app_id), users.map((u) => u.user_id), users.map((u) => u.floor)]);
        await client.query(SQL.pruneTombstones, [users.map((u) => u.app_id), users.map((u) => u.user_id), beforeMs]);
      });
      if (users.length < 1000) return;
    }
  }

  async pruneIdempotencyKeys(before: Date): Promise<void> {
    await this.db.query(SQL.pruneKeys, [before.getTime()]);
  }

}
