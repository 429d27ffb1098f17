/** The shared inbox store: PostgreSQL through a node-postgres pool, safe for several Herald nodes on one database. */
import pg from 'pg';
import {
  defaultDatabaseTimeouts,
  DuplicateNotificationError,
  type DatabaseTimeouts,
  keySender,
  type Counts,
  type InboxStore,
  type ListQuery,
  type ListResult,
  type NotificationInput,
  type PushedRow,
  type PushResult,
  type StoredNotification,
} from '../store.js';
import { GuardedPool, isUnavailable, type Queryable } from './guarded-pool.js';
import { applyMigrations, isPlainIdentifier, migrations } from './migrations.js';
import type { PushJobSpec } from '../push-store.js';
import { PostgresPushStore } from './push-store.js';
import { PostgresWebhookOutbox } from './webhook-outbox.js';
import { IDEMPOTENCY_WINDOW_MS, storedFromInput } from '../pushed-notification.js';
import {
  SQL,
  compareText,
  storeTypes,
  toPushedRows,
  toStored,
  toStoredResult,
  type CountsRow,
  type NotificationRow,
  type StoredPushResult,
} from './statements.js';

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
  return { unread: row.unread, total: row.total, lastSeq: row.last_seq };
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
    await this.offline.insertJobs(client, appId, [...new Set(userIds)].sort(compareText), input.id, pushJob);
    return pushed;
  }

  /** Stores the rows of a push with one statement on `db` (the pool: autocommit; a client: its transaction). */
  private async insertPush(db: Queryable, appId: string, userIds: readonly string[], input: NotificationInput, now: Date): Promise<PushResult> {
    const users = [...new Set(userIds)];
    const nowMs = now.getTime();
    const sendAfterMs = input.sendAfter === null ? null : input.sendAfter.getTime();
    const isVisible = sendAfterMs === null || sendAfterMs <= nowMs;
    let inserted: pg.QueryResult<{ user_id: string; seq: number | null }>;
    try {
      // Sorted: every transaction locks cursor rows (and inserts rows) in one order, so none deadlock.
      inserted = await db.query(isVisible ? SQL.pushVisible : SQL.pushScheduled, [
        appId,
        [...users].sort(compareText),
        input.id,
        input.heading,
        input.content,
        JSON.stringify(input.payload ?? null),
        input.imageUrl,
        sendAfterMs,
        JSON.stringify(input.buttons),
        input.senderId,
        nowMs,
      ]);
    } catch (error) {
      // The failed statement stored nothing: cursors, rows (and, in a transaction, the key) roll back.
      if (isDuplicateId(error)) throw new DuplicateNotificationError(input.id);
      throw error;
    }
    const seqByUser = new Map(inserted.rows.map((row) => [row.user_id, row.seq]));
    const rows: PushedRow[] = users.map((userId) => ({ id: input.id, userId, seq: seqByUser.get(userId) ?? null }));
    const visible = isVisible ? rows.map((row) => storedFromInput(appId, row.userId, row.seq!, input, now)) : [];
    return { rows, replayed: false, visible };
  }

  async releaseDue(now: Date, limit: number): Promise<StoredNotification[]> {
    if (limit <= 0) return [];
    return this.transaction(async (client) => {
      const due = (await client.query<NotificationRow>(SQL.selectDue, [now.getTime(), limit])).rows;
      if (due.length === 0) return [];
      // One cursor advance per user, by the number of that user's rows, in the shared lock order.
      const perUser = new Map<string, { appId: string; userId: string; count: number }>();
      for (const row of due) {
        const key = JSON.stringify([row.app_id, row.user_id]);
        const entry = perUser.get(key);
        if (entry) entry.count++;
        else perUser.set(key, { appId: row.app_id, userId: row.user_id, count: 1 });
      }
      const users = [...perUser.values()].sort((a, b) => compareText(a.appId, b.appId) || compareText(a.userId, b.userId));
      const advanced = await client.query<{ app_id: string; user_id: string; last_seq: number }>(SQL.advanceCursors, [
        users.map((u) => u.appId),
        users.map((u) => u.userId),
        users.map((u) => u.count),
      ]);
      // Each user's rows take the seqs just reserved, oldest send_after first, as SQLite assigns them.
      const nextSeq = new Map<string, number>();
      for (const row of advanced.rows) {
        const key = JSON.stringify([row.app_id, row.user_id]);
        nextSeq.set(key, row.last_seq - perUser.get(key)!.count + 1);
      }
      const released = due.map((row) => {
        const key = JSON.stringify([row.app_id, row.user_id]);
        const seq = nextSeq.get(key)!;
        nextSeq.set(key, seq + 1);
        return { ...row, seq };
      });
      await client.query(SQL.setSeqs, [
        released.map((row) => row.app_id),
        released.map((row) => row.user_id),
        released.map((row) => row.id),
        released.map((row) => row.seq),
      ]);
      return released.map(toStored);
    });
  }

  async nextDueAt(): Promise<Date | null> {
    const at = (await this.db.query<{ at: number | null }>(SQL.nextDue)).rows[0]?.at ?? null;
    return at === null ? null : new Date(at);
  }

  async list(appId: string, userId: string, query: ListQuery): Promise<ListResult> {
    const beforeSeq = query.beforeSeq ?? Number.MAX_SAFE_INTEGER;
    const result =
      query.afterSeq === undefined
        ? await this.db.query<NotificationRow>(SQL.listBefore, [appId, userId, beforeSeq, query.unreadOnly, query.limit + 1])
        : await this.db.query<NotificationRow>(SQL.listAfter, [appId, userId, query.afterSeq, beforeSeq, query.unreadOnly, query.limit + 1]);
    return { notifications: result.rows.slice(0, query.limit).map(toStored), hasMore: result.rows.length > query.limit };
  }

  async count(appId: string, userId: string): Promise<Counts> {
    return toCounts((await this.db.query<CountsRow>(SQL.counts, [appId, userId])).rows[0]);
  }

  async get(appId: string, userId: string, id: string): Promise<StoredNotification | null> {
    const row = (await this.db.query<NotificationRow>(SQL.get, [appId, userId, id])).rows[0];
    return row ? toStored(row) : null;
  }

  /**
   * The update commits on its own, then the counts are read: under READ COMMITTED a surrounding
   * transaction would not make them any more current, only cost two round trips.
   */
  async open(appId: string, userId: string, ids: readonly string[] | 'all', now: Date): Promise<{ opened: string[]; counts: Counts }> {
    let opened: string[];
    if (ids === 'all') {
      opened = (await this.db.query<{ id: string }>(SQL.openAll, [appId, userId, now.getTime()])).rows.map((row) => row.id);
    } else {
      const requested = [...new Set(ids)];
      const changed = await this.db.query<{ id: string }>(SQL.openIds, [appId, userId, requested, now.getTime()]);
      const changedIds = new Set(changed.rows.map((row) => row.id));
      // In the order asked for, as the SQLite store answers.
      opened = requested.filter((id) => changedIds.has(id));
    }
    return { opened, counts: await this.count(appId, userId) };
  }

  async delete(appId: string, userId: string, id: string): Promise<Counts | null> {
    const deleted = await this.db.query(SQL.delete, [appId, userId, id]);
    return deleted.rowCount === 0 ? null : this.count(appId, userId);
  }

  async recordAction(appId: string, userId: string, id: string, buttonId: string, now: Date): Promise<boolean> {
    try {
      return (await this.db.query(SQL.recordAction, [appId, userId, id, buttonId, now.getTime()])).rowCount === 1;
    } catch (error) {
      // Deleted between the existence check and the foreign key check: as unknown as never existing.
      if ((error as { code?: unknown }).code === FOREIGN_KEY_VIOLATION) return false;
      throw error;
    }
  }

  async pruneIdempotencyKeys(before: Date): Promise<void> {
    await this.db.query(SQL.pruneKeys, [before.getTime()]);
  }

}
