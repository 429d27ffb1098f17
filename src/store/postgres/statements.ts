/** The SQL of the PostgreSQL inbox store and the mapping of its rows; one place to read every query. */
import pg from 'pg';
import type { NotificationButton, PushedRow, StoredNotification } from '../store.js';

/** A notifications row as node-postgres returns it (int8 parsed to number by `types`, jsonb by JSON.parse). */
export interface NotificationRow {
  app_id: string;
  user_id: string;
  id: string;
  seq: number | null;
  heading: string | null;
  content: string;
  payload: unknown;
  image_url: string | null;
  send_after_ms: number | null;
  buttons: NotificationButton[];
  sender_id: string | null;
  opened: boolean;
  opened_at_ms: number | null;
  created_at_ms: number;
}

/** What a count query answers. */
export interface CountsRow {
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

const COLUMNS = 'app_id, user_id, id, seq, heading, content, payload, image_url, send_after_ms, buttons, sender_id, opened, opened_at_ms, created_at_ms';
const INSERT_COLUMNS = 'app_id, user_id, id, seq, heading, content, payload, image_url, send_after_ms, buttons, sender_id, created_at_ms';
/**
 * The fields after `seq` in INSERT_COLUMNS. A push binds $1 app, $2 sorted user ids, $3 notification id,
 * then $4 heading, $5 content, $6 payload, $7 image URL, $8 send after, $9 buttons, $10 sender, $11 now.
 */
const FIELD_VALUES = '$4::text, $5::text, $6::jsonb, $7::text, $8::bigint, $9::jsonb, $10::text, $11::bigint';
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
      INSERT INTO user_cursors (app_id, user_id, last_seq)
      SELECT $1::text, u.user_id, 1 FROM unnest($2::text[]) AS u(user_id)
      ON CONFLICT (app_id, user_id) DO UPDATE SET last_seq = user_cursors.last_seq + 1
      RETURNING user_id, last_seq
    )
    INSERT INTO notifications (${INSERT_COLUMNS})
    SELECT $1::text, c.user_id, $3::text, c.last_seq, ${FIELD_VALUES}
    FROM cursors c
    RETURNING user_id, seq`,

  /** A scheduled push: rows without seq, no cursor touched. */
  pushScheduled: `INSERT INTO notifications (${INSERT_COLUMNS})
    SELECT $1::text, u.user_id, $3::text, NULL, ${FIELD_VALUES}
    FROM unnest($2::text[]) AS u(user_id)
    RETURNING user_id, seq`,

  /** Due rows, locked; rows another node is releasing right now are skipped, not waited for. */
  selectDue: `SELECT ${COLUMNS} FROM notifications WHERE seq IS NULL AND send_after_ms <= $1
    ORDER BY send_after_ms, app_id, user_id, id LIMIT $2 FOR UPDATE SKIP LOCKED`,
  /** Advances several cursors by a count each ($1 apps, $2 users, $3 counts; sorted, distinct). */
  advanceCursors: `INSERT INTO user_cursors (app_id, user_id, last_seq)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
    ON CONFLICT (app_id, user_id) DO UPDATE SET last_seq = user_cursors.last_seq + excluded.last_seq
    RETURNING app_id, user_id, last_seq`,
  setSeqs: `UPDATE notifications n SET seq = v.seq
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS v(app_id, user_id, id, seq)
    WHERE n.app_id = v.app_id AND n.user_id = v.user_id AND n.id = v.id`,
  nextDue: 'SELECT min(send_after_ms) AS at FROM notifications WHERE seq IS NULL',

  /** $3 after, $4 before, $5 unread only, $6 limit. */
  listAfter: `SELECT ${COLUMNS} FROM notifications WHERE ${VISIBLE} AND seq > $3 AND seq < $4
    AND (NOT $5::boolean OR NOT opened) ORDER BY seq ASC LIMIT $6`,
  /** $3 before, $4 unread only, $5 limit. */
  listBefore: `SELECT ${COLUMNS} FROM notifications WHERE ${VISIBLE} AND seq < $3
    AND (NOT $4::boolean OR NOT opened) ORDER BY seq DESC LIMIT $5`,
  /** Counts and the cursor in one statement, hence one snapshot: both include the same commits. */
  counts: `SELECT count(*) FILTER (WHERE NOT opened) AS unread, count(*) AS total,
      coalesce((SELECT last_seq FROM user_cursors WHERE app_id = $1 AND user_id = $2), 0) AS last_seq
    FROM notifications WHERE ${VISIBLE}`,
  get: `SELECT ${COLUMNS} FROM notifications WHERE ${VISIBLE} AND id = $3`,
  openIds: `UPDATE notifications SET opened = true, opened_at_ms = $4
    WHERE ${VISIBLE} AND id = ANY($3::text[]) AND NOT opened RETURNING id`,
  openAll: `UPDATE notifications SET opened = true, opened_at_ms = $3 WHERE ${VISIBLE} AND NOT opened RETURNING id`,
  delete: `DELETE FROM notifications WHERE ${VISIBLE} AND id = $3`,
  /** $4 button, $5 time. */
  recordAction: `INSERT INTO button_actions (app_id, user_id, notification_id, button_id, at_ms)
    SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM notifications WHERE ${VISIBLE} AND id = $3)`,
} as const;

function toDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

/** A row as the store's interface shows it; buttons rebuilt so their keys keep the input order. */
export function toStored(row: NotificationRow): StoredNotification {
  return {
    appId: row.app_id,
    userId: row.user_id,
    id: row.id,
    seq: row.seq,
    heading: row.heading,
    content: row.content,
    payload: row.payload,
    imageUrl: row.image_url,
    sendAfter: toDate(row.send_after_ms),
    buttons: row.buttons.map((button) => ({ id: button.id, text: button.text, icon: button.icon })),
    senderId: row.sender_id,
    opened: row.opened,
    openedAt: toDate(row.opened_at_ms),
    createdAt: new Date(row.created_at_ms),
  };
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
