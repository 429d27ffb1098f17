/** The SQL of the PostgreSQL inbox store and the mapping of its rows; one place to read every query. */
import pg from 'pg';
import type { InboxChange, NotificationButton, PushedRow, StoredNotification } from '../store.js';
import { liveChangeOf, storedNotification, type NotificationColumns } from '../notification-row.js';

/** A notifications row as node-postgres returns it (int8 parsed to number by `types`, jsonb by JSON.parse). */
export interface NotificationRow extends NotificationColumns {
  payload: unknown;
  buttons: NotificationButton[];
  tags: string[];
  opened: boolean;
  seen: boolean;
  archived: boolean;
}

/** What a count query answers. */
export interface CountsRow {
  unseen: number;
  unread: number;
  total: number;
  last_seq: number;
}

/**
 * Type parsers of the store's pool: `bigint` (seqs, epoch ms, counts) as a JS number, since
 * every value the store keeps is far below 2^53. Scoped to this pool; the global parsers are untouched.
 */
export const storeTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export const COLUMNS = `app_id, user_id, id, seq, heading, content, payload, image_url, send_after_ms, buttons, sender_id, opened,
  opened_at_ms, created_at_ms, category, tags, priority, tenant, seen, seen_at_ms, archived, archived_at_ms, snoozed_until_ms,
  expires_at_ms, actioned_button, actioned_at_ms, collapse_key, collapsed_count, change_seq`;
const INSERT_COLUMNS = `app_id, user_id, id, seq, change_seq, heading, content, payload, image_url, send_after_ms, buttons,
  sender_id, created_at_ms, category, tags, priority, tenant, expires_at_ms, collapse_key`;
/**
 * The fields after `change_seq` in INSERT_COLUMNS. A push binds $1 app, $2 sorted user ids, $3 notification id,
 * then $4 heading, $5 content, $6 payload, $7 image URL, $8 send after, $9 buttons, $10 sender, $11 now,
 * $12 category, $13 tags, $14 priority, $15 tenant, $16 expires at, $17 collapse key.
 */
const FIELD_VALUES = `$4::text, $5::text, $6::jsonb, $7::text, $8::bigint, $9::jsonb, $10::text, $11::bigint,
  $12::text, $13::text[], $14::text, $15::text, $16::bigint, $17::text`;
/** COLUMNS with a table alias. */
function qualified(alias: string): string {
  return COLUMNS.split(',').map((column) => `${alias}.${column.trim()}`).join(', ');
}
/** Whether a push's row counts in its users' cached counts (migration 7): not already expired ($16 expires at, $11 now). */
const COUNTED = '($16::bigint IS NULL OR $16::bigint > $11::bigint)';
const LIVE = `NOT archived AND (snoozed_until_ms IS NULL OR snoozed_until_ms <= $NOW) AND (expires_at_ms IS NULL OR expires_at_ms > $NOW)`;
const VISIBLE = 'app_id = $1 AND user_id = $2 AND seq IS NOT NULL';

/** Every statement the store runs. Parameters are positional; each statement names them in a comment where not obvious. */
export const SQL = {
  ping: 'SELECT 1 AS one',

  /**
   * Claims an idempotency key: inserts it, or takes over one older than the window ($4 ms).
   * Returns a row when claimed. Otherwise a live key exists and this transaction now holds its row
   * lock: a concurrent first push with the key was waited for (ON CONFLICT waits for the inserting
   * transaction), so its result is committed and readable by the next statement.
   */
  claimKey: `INSERT INTO idempotency_keys (app_id, sender, key, result, created_at_ms) VALUES ($1, $2, $3, NULL, $4::bigint)
    ON CONFLICT (app_id, sender, key) DO UPDATE SET result = NULL, created_at_ms = excluded.created_at_ms
      WHERE idempotency_keys.created_at_ms < excluded.created_at_ms - $5::bigint
    RETURNING 1 AS claimed`,
  readKey: 'SELECT result FROM idempotency_keys WHERE app_id = $1 AND sender = $2 AND key = $3',
  putKey: 'UPDATE idempotency_keys SET result = $4::jsonb WHERE app_id = $1 AND sender = $2 AND key = $3',
  pruneKeys: 'DELETE FROM idempotency_keys WHERE created_at_ms < $1',

  /**
   * A visible push, one statement for any number of users: advances each user's cursor (taking its
   * row lock until commit, in the order of $2, which the caller sorts) and inserts the rows with the
   * new seqs. A user who already has the id fails it on `notifications_pkey` (a plain INSERT is
   * cheaper than ON CONFLICT, and a duplicate rolls everything back anyway).
   */
  pushVisible: `WITH cursors AS (
      INSERT INTO user_cursors (app_id, user_id, last_seq, last_change_seq, counts_seq, counts_total, counts_unread, counts_unseen, counts_until_ms)
      SELECT $1::text, u.user_id, 1, 1, CASE WHEN ${COUNTED} THEN 1 END, 1, 1, 1, $16::bigint FROM unnest($2::text[]) AS u(user_id)
      ON CONFLICT (app_id, user_id) DO UPDATE SET last_seq = user_cursors.last_seq + 1, last_change_seq = user_cursors.last_change_seq + 1,
        counts_seq = CASE WHEN ${COUNTED} AND user_cursors.counts_seq = user_cursors.last_change_seq
          AND (user_cursors.counts_until_ms IS NULL OR user_cursors.counts_until_ms > $11::bigint) THEN user_cursors.last_change_seq + 1 END,
        counts_total = user_cursors.counts_total + 1, counts_unread = user_cursors.counts_unread + 1,
        counts_unseen = user_cursors.counts_unseen + 1, counts_until_ms = least(user_cursors.counts_until_ms, $16::bigint)
      RETURNING user_id, last_seq, last_change_seq
    )
    INSERT INTO notifications (${INSERT_COLUMNS})
    SELECT $1::text, c.user_id, $3::text, c.last_seq, c.last_change_seq, ${FIELD_VALUES}
    FROM cursors c
    RETURNING user_id, seq, change_seq`,

  /**
   * Stores recounted counts ($1 app; $2 users, $3 change seqs, $4 totals, $5 unread, $6 unseen, $7 valid until) for
   * users not changed since; cursors another transaction holds are skipped, not waited for (no lock order to keep).
   */
  storeCounts: `WITH v AS (
      SELECT * FROM unnest($2::text[], $3::bigint[], $4::int[], $5::int[], $6::int[], $7::bigint[]) AS v(user_id, seq, total, unread, unseen, until_ms)
    ), locked AS (
      SELECT c.user_id FROM user_cursors c JOIN v ON c.app_id = $1 AND c.user_id = v.user_id AND c.last_change_seq = v.seq
      FOR UPDATE OF c SKIP LOCKED
    )
    UPDATE user_cursors c SET counts_seq = v.seq, counts_total = v.total, counts_unread = v.unread, counts_unseen = v.unseen,
      counts_until_ms = v.until_ms
    FROM v JOIN locked ON locked.user_id = v.user_id
    WHERE c.app_id = $1 AND c.user_id = v.user_id AND c.last_change_seq = v.seq`,

  /** A scheduled push: rows without seq, no cursor touched. */
  pushScheduled: `INSERT INTO notifications (${INSERT_COLUMNS})
    SELECT $1::text, u.user_id, $3::text, NULL, NULL, ${FIELD_VALUES}
    FROM unnest($2::text[]) AS u(user_id)
    RETURNING user_id, seq, change_seq`,

  /** Advances the cursors of a collapsing push's users ($1 app, $2 sorted users) by one seq and change each. */
  advanceForPush: `INSERT INTO user_cursors (app_id, user_id, last_seq, last_change_seq)
    SELECT $1::text, u.user_id, 1, 1 FROM unnest($2::text[]) AS u(user_id)
    ON CONFLICT (app_id, user_id) DO UPDATE SET last_seq = user_cursors.last_seq + 1, last_change_seq = user_cursors.last_change_seq + 1
    RETURNING user_id, last_seq, last_change_seq`,
  /** Each user's live unopened notification with collapse key $3 ($4 now), read after the cursors are locked. */
  collapsible: `SELECT DISTINCT ON (user_id) user_id, id FROM notifications
    WHERE app_id = $1 AND user_id = ANY($2::text[]) AND collapse_key = $3 AND seq IS NOT NULL AND NOT opened
      AND ${LIVE.replaceAll('$NOW', '$4')}
    ORDER BY user_id, seq DESC`,
  /**
   * Collapses a push into existing rows: $1 app, $2 users, $3 ids, $4 seqs, $5 change seqs, then $6 heading,
   * $7 content, $8 payload, $9 image URL, $10 buttons, $11 sender, $12 category, $13 tags, $14 priority,
   * $15 tenant, $16 expires at.
   */
  collapse: `UPDATE notifications n SET seq = v.seq, change_seq = v.change_seq, heading = $6::text, content = $7::text,
      payload = $8::jsonb, image_url = $9::text, buttons = $10::jsonb, sender_id = $11::text, category = $12::text,
      tags = $13::text[], priority = $14::text, tenant = $15::text, expires_at_ms = $16::bigint,
      seen = false, seen_at_ms = NULL, collapsed_count = n.collapsed_count + 1
    FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS v(user_id, id, seq, change_seq)
    WHERE n.app_id = $1 AND n.user_id = v.user_id AND n.id = v.id
    RETURNING ${qualified('n')}`,
  /** Inserts a push's rows for users ($2) whose seqs ($18) and change seqs ($19) were reserved; fields as a push binds them. */
  insertReserved: `INSERT INTO notifications (${INSERT_COLUMNS})
    SELECT $1::text, v.user_id, $3::text, v.seq, v.change_seq, ${FIELD_VALUES}
    FROM unnest($2::text[], $18::bigint[], $19::bigint[]) AS v(user_id, seq, change_seq)
    RETURNING user_id, seq, change_seq`,

  /** Due rows, locked; rows another node is releasing right now are skipped, not waited for. */
  selectDue: `SELECT ${COLUMNS} FROM notifications WHERE seq IS NULL AND send_after_ms <= $1
      AND (expires_at_ms IS NULL OR expires_at_ms > $1)
    ORDER BY send_after_ms, app_id, user_id, id LIMIT $2 FOR UPDATE SKIP LOCKED`,
  /** Advances several cursors' seq and change_seq by a count each ($1 apps, $2 users, $3 counts; sorted, distinct). */
  advanceCursors: `INSERT INTO user_cursors (app_id, user_id, last_seq, last_change_seq)
    SELECT a, u, c, c FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(a, u, c)
    ON CONFLICT (app_id, user_id) DO UPDATE SET last_seq = user_cursors.last_seq + excluded.last_seq,
      last_change_seq = user_cursors.last_change_seq + excluded.last_change_seq
    RETURNING app_id, user_id, last_seq, last_change_seq`,
  /** Advances several cursors' change_seq only ($1 apps, $2 users, $3 counts; sorted, distinct; the rows exist). */
  advanceChangeCursors: `UPDATE user_cursors c SET last_change_seq = c.last_change_seq + v.n
    FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(a, u, n)
    WHERE c.app_id = v.a AND c.user_id = v.u
    RETURNING c.app_id, c.user_id, c.last_change_seq`,
  /** $1..$3 keys, $4 seqs, $5 change seqs; a resurfaced row also leaves its snooze. */
  setSeqs: `UPDATE notifications n SET seq = v.seq, change_seq = v.change_seq, snoozed_until_ms = NULL
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS v(app_id, user_id, id, seq, change_seq)
    WHERE n.app_id = v.app_id AND n.user_id = v.user_id AND n.id = v.id`,
  nextDue: 'SELECT min(send_after_ms) AS at FROM notifications WHERE seq IS NULL',
  /** Visible rows whose snooze ended by $1 (read without locks; rechecked under the cursor locks). */
  snoozeEnded: `SELECT app_id, user_id, id FROM notifications WHERE snoozed_until_ms <= $1 AND seq IS NOT NULL
    ORDER BY snoozed_until_ms, app_id, user_id, id LIMIT $2`,
  /** Visible rows expired by $1 (read without locks; rechecked under the cursor locks). */
  expired: `SELECT app_id, user_id, id FROM notifications WHERE expires_at_ms <= $1 AND seq IS NOT NULL
    ORDER BY expires_at_ms, app_id, user_id, id LIMIT $2`,
  /** Scheduled rows that expired before they were ever visible: removed without a change. */
  deleteExpiredScheduled: `DELETE FROM notifications WHERE (app_id, user_id, id) IN (
      SELECT app_id, user_id, id FROM notifications WHERE expires_at_ms <= $1 AND seq IS NULL LIMIT $2 FOR UPDATE SKIP LOCKED)`,
  /** Locks cursor rows ($1 apps, $2 users) in the one lock order. */
  lockCursors: `SELECT app_id, user_id FROM user_cursors
    WHERE (app_id, user_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
    ORDER BY app_id, user_id FOR UPDATE`,
  /** Rows ($1..$3 keys) whose snooze still ended by $4, under the cursor locks. */
  recheckSnoozed: `SELECT ${COLUMNS} FROM notifications
    WHERE (app_id, user_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
      AND snoozed_until_ms <= $4 AND seq IS NOT NULL
    ORDER BY snoozed_until_ms, app_id, user_id, id FOR UPDATE`,
  /** Rows ($1..$3 keys) still expired by $4, deleted under the cursor locks. */
  deleteExpired: `DELETE FROM notifications
    WHERE (app_id, user_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
      AND expires_at_ms <= $4 AND seq IS NOT NULL
    RETURNING app_id, user_id, id, expires_at_ms`,
  /** $1..$3 keys, $4 change seqs, $5 reason, $6 now. */
  insertTombstones: `INSERT INTO inbox_tombstones (app_id, user_id, change_seq, id, reason, at_ms)
    SELECT a, u, c, i, $5, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS v(a, u, i, c)`,

  /** Locks (creating if needed) one user's cursor; answers its change_seq. */
  lockCursor: `INSERT INTO user_cursors (app_id, user_id, last_seq, last_change_seq) VALUES ($1, $2, 0, 0)
    ON CONFLICT (app_id, user_id) DO UPDATE SET last_seq = user_cursors.last_seq
    RETURNING last_change_seq`,
  /** $3 count. */
  advanceChange: 'UPDATE user_cursors SET last_change_seq = last_change_seq + $3 WHERE app_id = $1 AND user_id = $2 RETURNING last_change_seq',
  cursor: 'SELECT last_seq, last_change_seq, changes_floor FROM user_cursors WHERE app_id = $1 AND user_id = $2',
  get: `SELECT ${COLUMNS} FROM notifications WHERE ${VISIBLE} AND id = $3`,
  /** $4 button, $5 time. */
  recordAction: `INSERT INTO button_actions (app_id, user_id, notification_id, button_id, at_ms)
    SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM notifications WHERE ${VISIBLE} AND id = $3)`,
  /** $3 id, $4 button, $5 time, $6 change seq. */
  setActioned: `UPDATE notifications SET actioned_button = $4, actioned_at_ms = $5, change_seq = $6
    WHERE ${VISIBLE} AND id = $3 RETURNING ${COLUMNS}`,
  /** $3 after, $4 limit. */
  changedRows: `SELECT ${COLUMNS} FROM notifications WHERE app_id = $1 AND user_id = $2 AND change_seq > $3 AND seq IS NOT NULL
    ORDER BY change_seq LIMIT $4`,
  tombstones: `SELECT change_seq, id, reason FROM inbox_tombstones WHERE app_id = $1 AND user_id = $2 AND change_seq > $3
    ORDER BY change_seq LIMIT $4`,
  /** Users with tombstones older than $1, in the lock order, and the newest change_seq among those. */
  oldTombstones: `SELECT app_id, user_id, max(change_seq) AS floor FROM inbox_tombstones WHERE at_ms < $1
    GROUP BY app_id, user_id ORDER BY app_id, user_id LIMIT $2`,
  /** $1 apps, $2 users, $3 floors. */
  raiseFloors: `UPDATE user_cursors c SET changes_floor = greatest(c.changes_floor, v.f)
    FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(a, u, f) WHERE c.app_id = v.a AND c.user_id = v.u`,
  /** $1 apps, $2 users, $3 before. */
  pruneTombstones: `DELETE FROM inbox_tombstones t USING unnest($1::text[], $2::text[]) AS v(a, u)
    WHERE t.app_id = v.a AND t.user_id = v.u AND t.at_ms < $3`,
} as const;

export function toStored(row: NotificationRow): StoredNotification {
  return storedNotification(row, row);
}

/** A change feed entry for an existing row. */
export function liveChange(row: NotificationRow): InboxChange {
  return liveChangeOf(toStored(row));
}

/**
 * A push result as an idempotency key keeps it: the rows' columns rather than 10,000 objects
 * repeating the id and the field names (a third of the JSON, five times faster to store as jsonb).
 */
export interface StoredPushResult {
  readonly id: string;
  readonly users: readonly string[];
  readonly seqs: readonly (number | null)[];
}

/** The compact form of push rows (all of one notification id). */
export function toStoredResult(id: string, rows: readonly PushedRow[]): StoredPushResult {
  return { id, users: rows.map((row) => row.userId), seqs: rows.map((row) => row.seq) };
}

/** The rows of a stored push result, as the first push answered them. */
export function toPushedRows(stored: StoredPushResult): PushedRow[] {
  return stored.users.map((userId, i) => ({ id: stored.id, userId, seq: stored.seqs[i] }));
}

/** Orders strings by UTF-16 code units: the one lock order every node uses for cursor rows. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
