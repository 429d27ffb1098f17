/** Versioned schema of the PostgreSQL inbox store, applied in order and recorded in `schema_migrations`. */
import type pg from 'pg';
import { queryWithTimeout } from './guarded-pool.js';

/** Longest the client waits for one migration step. */
const MIGRATION_TIMEOUT_MS = 60 * 60 * 1000;

/** One schema step; `version` only ever grows, a released step is never edited. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * All migrations, oldest first. The tables mirror the SQLite store column for column: times are
 * epoch milliseconds in `bigint` (exact round trips, compared as integers like SQLite does),
 * payload, buttons and idempotency results are `jsonb`. Identifiers use the "C" collation:
 * byte order like SQLite's BINARY (the release order of rows due at the same instant), cheaper
 * index comparisons, and no index rebuild when the system's locale library changes.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'inbox',
    sql: `
      CREATE TABLE notifications (
        app_id text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        seq bigint,
        heading text,
        content text NOT NULL,
        payload jsonb NOT NULL,
        image_url text,
        send_after_ms bigint,
        buttons jsonb NOT NULL,
        sender_id text,
        opened boolean NOT NULL DEFAULT false,
        opened_at_ms bigint,
        created_at_ms bigint NOT NULL,
        PRIMARY KEY (app_id, user_id, id)
      );
      CREATE UNIQUE INDEX notifications_seq ON notifications (app_id, user_id, seq) WHERE seq IS NOT NULL;
      CREATE INDEX notifications_due ON notifications (send_after_ms, app_id, user_id, id) WHERE seq IS NULL;

      -- Every visible push updates its users' rows here: the free half of each page lets those be
      -- HOT updates (no index entry per update), twice as fast for a push to 10,000 known users.
      CREATE TABLE user_cursors (
        app_id text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        last_seq bigint NOT NULL,
        PRIMARY KEY (app_id, user_id)
      ) WITH (fillfactor = 50);

      CREATE TABLE idempotency_keys (
        app_id text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        -- Null only while the push that claimed the key is still in its transaction.
        result jsonb,
        created_at_ms bigint NOT NULL,
        PRIMARY KEY (app_id, key)
      );
      CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at_ms);

      CREATE TABLE button_actions (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        app_id text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        notification_id text COLLATE "C" NOT NULL,
        button_id text NOT NULL,
        at_ms bigint NOT NULL,
        FOREIGN KEY (app_id, user_id, notification_id)
          REFERENCES notifications (app_id, user_id, id) ON DELETE CASCADE
      );
      CREATE INDEX button_actions_notification ON button_actions (app_id, user_id, notification_id);
    `,
  },
  {
    version: 2,
    name: 'webhook_outbox',
    // Parked rows stay, out of the claim index. Identity ids are never reused.
    sql: `
      CREATE TABLE webhook_outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        app_id text COLLATE "C" NOT NULL,
        target text COLLATE "C" NOT NULL,
        body text NOT NULL,
        created_at_ms bigint NOT NULL,
        next_attempt_ms bigint NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        lease_token text,
        lease_until_ms bigint,
        parked_at_ms bigint
      );
      CREATE INDEX webhook_outbox_target ON webhook_outbox (app_id, target, id) WHERE parked_at_ms IS NULL;
      CREATE INDEX webhook_outbox_parked ON webhook_outbox (app_id) WHERE parked_at_ms IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'idempotency_keys_by_sender',
    // Keys are scoped by who pushed ('' for the app's backend, else the user id of a client push),
    // so a user can neither read the backend's result nor take its key first. Keys stored before
    // are the backend's.
    sql: `
      ALTER TABLE idempotency_keys ADD COLUMN sender text COLLATE "C" NOT NULL DEFAULT '';
      ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
      ALTER TABLE idempotency_keys ADD PRIMARY KEY (app_id, sender, key);
      ALTER TABLE idempotency_keys ALTER COLUMN sender DROP DEFAULT;
    `,
  },
  {
    version: 4,
    name: 'inbox_v2',
    // Existing rows: opened ones count as seen, their last button press becomes `actioned`, and each
    // visible row's change_seq is its seq (no device held a change cursor before this version). Columns
    // with a constant default are added without rewriting the table.
    sql: `
      ALTER TABLE notifications
        ADD COLUMN category text COLLATE "C",
        ADD COLUMN tags text[] COLLATE "C" NOT NULL DEFAULT '{}',
        ADD COLUMN priority text COLLATE "C" NOT NULL DEFAULT 'normal',
        ADD COLUMN tenant text COLLATE "C",
        ADD COLUMN seen boolean NOT NULL DEFAULT false,
        ADD COLUMN seen_at_ms bigint,
        ADD COLUMN archived boolean NOT NULL DEFAULT false,
        ADD COLUMN archived_at_ms bigint,
        ADD COLUMN snoozed_until_ms bigint,
        ADD COLUMN expires_at_ms bigint,
        ADD COLUMN actioned_button text,
        ADD COLUMN actioned_at_ms bigint,
        ADD COLUMN collapse_key text COLLATE "C",
        ADD COLUMN collapsed_count integer NOT NULL DEFAULT 1,
        ADD COLUMN change_seq bigint;
      UPDATE notifications SET seen = opened, seen_at_ms = opened_at_ms, change_seq = seq
        WHERE opened OR seq IS NOT NULL;
      UPDATE notifications n SET actioned_button = a.button_id, actioned_at_ms = a.at_ms
        FROM (SELECT DISTINCT ON (app_id, user_id, notification_id) app_id, user_id, notification_id, button_id, at_ms
              FROM button_actions ORDER BY app_id, user_id, notification_id, id DESC) a
        WHERE n.app_id = a.app_id AND n.user_id = a.user_id AND n.id = a.notification_id;
      CREATE INDEX notifications_snoozed ON notifications (snoozed_until_ms) WHERE snoozed_until_ms IS NOT NULL;
      CREATE INDEX notifications_expiring ON notifications (expires_at_ms) WHERE expires_at_ms IS NOT NULL;
      CREATE INDEX notifications_collapse ON notifications (app_id, user_id, collapse_key) WHERE collapse_key IS NOT NULL;

      ALTER TABLE user_cursors
        ADD COLUMN last_change_seq bigint NOT NULL DEFAULT 0,
        ADD COLUMN changes_floor bigint NOT NULL DEFAULT 0;
      UPDATE user_cursors SET last_change_seq = last_seq;

      CREATE TABLE inbox_tombstones (
        app_id text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        change_seq bigint NOT NULL,
        id text COLLATE "C" NOT NULL,
        reason text NOT NULL,
        at_ms bigint NOT NULL,
        PRIMARY KEY (app_id, user_id, change_seq)
      );
      CREATE INDEX inbox_tombstones_at ON inbox_tombstones (at_ms);
    `,
  },
  {
    version: 5,
    name: 'push',
    // Versions 3 and 4 belong to other steps; the runner applies whatever is missing, in order.
    sql: `
      CREATE TABLE push_devices (
        id text COLLATE "C" PRIMARY KEY,
        app_id text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        kind text NOT NULL,
        address text COLLATE "C" NOT NULL,
        p256dh text,
        auth text,
        created_at_ms bigint NOT NULL
      );
      CREATE UNIQUE INDEX push_devices_address ON push_devices (app_id, kind, address);
      CREATE INDEX push_devices_user ON push_devices (app_id, user_id);

      CREATE TABLE push_preferences (
        app_id text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        preferences jsonb NOT NULL,
        updated_at_ms bigint NOT NULL,
        PRIMARY KEY (app_id, user_id)
      );

      CREATE TABLE push_vapid_keys (
        app_id text COLLATE "C" PRIMARY KEY,
        public_key text NOT NULL,
        private_key text NOT NULL,
        created_at_ms bigint NOT NULL
      );

      CREATE TABLE push_jobs (
        app_id text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        notification_id text COLLATE "C" NOT NULL,
        due_at_ms bigint NOT NULL,
        policy text NOT NULL,
        ttl_seconds integer NOT NULL,
        urgency text NOT NULL,
        lease_token text,
        lease_until_ms bigint,
        PRIMARY KEY (app_id, user_id, notification_id)
      );
      CREATE INDEX push_jobs_due ON push_jobs (due_at_ms);

      CREATE TABLE push_outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        app_id text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        device_id text COLLATE "C" NOT NULL,
        message text NOT NULL,
        urgency text NOT NULL,
        collapse_key text NOT NULL,
        expires_at_ms bigint NOT NULL,
        created_at_ms bigint NOT NULL,
        next_attempt_ms bigint NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        lease_token text,
        lease_until_ms bigint,
        parked_at_ms bigint
      );
      CREATE INDEX push_outbox_due ON push_outbox (next_attempt_ms) WHERE parked_at_ms IS NULL;
      CREATE INDEX push_outbox_device ON push_outbox (device_id);
    `,
  },
  {
    version: 6,
    name: 'push_attempt_marker',
    // Committed just before each provider request, cleared by a definite outcome: a row that still
    // has it after a crash may already be on the device (docs/push.md, "Crash safety").
    sql: 'ALTER TABLE push_outbox ADD COLUMN attempt_started_ms bigint;',
  },
  {
    version: 7,
    name: 'user_counts_cache',
    // Each user's counts (default view) as of `counts_seq`, valid while it equals `last_change_seq`
    // and until `counts_until_ms` (the next snooze end or expiry), as in the SQLite store.
    sql: `ALTER TABLE user_cursors ADD COLUMN counts_seq bigint, ADD COLUMN counts_total integer, ADD COLUMN counts_unread integer,
      ADD COLUMN counts_unseen integer, ADD COLUMN counts_until_ms bigint;`,
  },
];

/** Whether a schema name is a plain identifier (the only kind `schema` accepts, so it never needs quoting rules). */
export function isPlainIdentifier(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name);
}

/**
 * Applies the migrations not yet recorded, in one transaction on `client`, and returns the
 * versions applied. A transaction-scoped advisory lock (one per schema) makes nodes that start
 * together wait for each other: the first applies, the others then find every version recorded.
 * `schema`, when given, is created first (also under the lock: concurrent `CREATE SCHEMA IF NOT
 * EXISTS` can otherwise fail on the catalog's unique index).
 */
export async function applyMigrations(client: pg.ClientBase, list: readonly Migration[], schema: string | null): Promise<number[]> {
  await client.query('BEGIN');
  try {
    // A migration may rewrite a large table: neither the store's statement timeout nor its client-side
    // wait applies to it (nor to waiting for another node's migration to finish).
    await client.query('SET LOCAL statement_timeout = 0');
    await queryWithTimeout(client, `SELECT pg_advisory_xact_lock(hashtextextended('herald.migrate:${schema ?? ''}', 0))`, MIGRATION_TIMEOUT_MS);
    if (schema !== null) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((row) => row.version));
    const done: number[] = [];
    for (const migration of [...list].sort((a, b) => a.version - b.version)) {
      if (applied.has(migration.version)) continue;
      await queryWithTimeout(client, migration.sql, MIGRATION_TIMEOUT_MS);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      done.push(migration.version);
    }
    await client.query('COMMIT');
    return done;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
