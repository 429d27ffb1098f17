/** Versioned schema of the SQLite inbox store, applied in order and recorded in `schema_migrations`. */
import type Database from 'better-sqlite3';

/** One schema step; `version` only ever grows, a released step is never edited. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * All migrations, oldest first. Times are epoch milliseconds. Tables other than the
 * notifications keep integer rowids so a later outbox can reference and page them cheaply.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'inbox',
    sql: `
      CREATE TABLE notifications (
        app_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        id TEXT NOT NULL,
        seq INTEGER,
        heading TEXT,
        content TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        image_url TEXT,
        send_after_ms INTEGER,
        buttons_json TEXT NOT NULL,
        sender_id TEXT,
        opened INTEGER NOT NULL DEFAULT 0,
        opened_at_ms INTEGER,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (app_id, user_id, id)
      ) STRICT;
      CREATE UNIQUE INDEX notifications_seq ON notifications (app_id, user_id, seq) WHERE seq IS NOT NULL;
      CREATE INDEX notifications_due ON notifications (send_after_ms, app_id, user_id, id) WHERE seq IS NULL;

      CREATE TABLE user_cursors (
        app_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        PRIMARY KEY (app_id, user_id)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE idempotency_keys (
        app_id TEXT NOT NULL,
        key TEXT NOT NULL,
        result_json TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (app_id, key)
      ) STRICT;
      CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at_ms);

      CREATE TABLE button_actions (
        id INTEGER PRIMARY KEY,
        app_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        notification_id TEXT NOT NULL,
        button_id TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        FOREIGN KEY (app_id, user_id, notification_id)
          REFERENCES notifications (app_id, user_id, id) ON DELETE CASCADE
      ) STRICT;
      CREATE INDEX button_actions_notification ON button_actions (app_id, user_id, notification_id);
    `,
  },
  {
    version: 2,
    name: 'webhook_outbox',
    // AUTOINCREMENT: a delivered (deleted) batch's id is never reused, so a late answer about it
    // can never complete a newer batch. Parked rows stay, out of both partial indexes.
    sql: `
      CREATE TABLE webhook_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app_id TEXT NOT NULL,
        target TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        lease_token TEXT,
        lease_until_ms INTEGER,
        parked_at_ms INTEGER
      ) STRICT;
      CREATE INDEX webhook_outbox_target ON webhook_outbox (app_id, target, id) WHERE parked_at_ms IS NULL;
      CREATE INDEX webhook_outbox_parked ON webhook_outbox (app_id) WHERE parked_at_ms IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'idempotency_keys_by_sender',
    // Keys are scoped by who pushed ('' for the app's backend, else the user id of a client push),
    // so a user can neither read the backend's result nor take its key first. SQLite cannot change
    // a primary key in place: the table is rebuilt. Keys stored before are the backend's.
    sql: `
      CREATE TABLE idempotency_keys_by_sender (
        app_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        key TEXT NOT NULL,
        result_json TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (app_id, sender, key)
      ) STRICT;
      INSERT INTO idempotency_keys_by_sender (app_id, sender, key, result_json, created_at_ms)
        SELECT app_id, '', key, result_json, created_at_ms FROM idempotency_keys;
      DROP TABLE idempotency_keys;
      ALTER TABLE idempotency_keys_by_sender RENAME TO idempotency_keys;
      CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at_ms);
    `,
  },
  {
    version: 4,
    name: 'inbox_v2',
    // Existing rows: opened ones count as seen, their last button press becomes `actioned`, and each
    // visible row's change_seq is its seq (no device held a change cursor before this version).
    sql: `
      ALTER TABLE notifications ADD COLUMN category TEXT;
      ALTER TABLE notifications ADD COLUMN tags_json TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE notifications ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';
      ALTER TABLE notifications ADD COLUMN tenant TEXT;
      ALTER TABLE notifications ADD COLUMN seen INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE notifications ADD COLUMN seen_at_ms INTEGER;
      ALTER TABLE notifications ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE notifications ADD COLUMN archived_at_ms INTEGER;
      ALTER TABLE notifications ADD COLUMN snoozed_until_ms INTEGER;
      ALTER TABLE notifications ADD COLUMN expires_at_ms INTEGER;
      ALTER TABLE notifications ADD COLUMN actioned_button TEXT;
      ALTER TABLE notifications ADD COLUMN actioned_at_ms INTEGER;
      ALTER TABLE notifications ADD COLUMN collapse_key TEXT;
      ALTER TABLE notifications ADD COLUMN collapsed_count INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE notifications ADD COLUMN change_seq INTEGER;
      UPDATE notifications SET seen = opened, seen_at_ms = opened_at_ms, change_seq = seq;
      UPDATE notifications SET (actioned_button, actioned_at_ms) = (
        SELECT a.button_id, a.at_ms FROM button_actions a
        WHERE a.app_id = notifications.app_id AND a.user_id = notifications.user_id AND a.notification_id = notifications.id
        ORDER BY a.id DESC LIMIT 1)
      WHERE EXISTS (SELECT 1 FROM button_actions a
        WHERE a.app_id = notifications.app_id AND a.user_id = notifications.user_id AND a.notification_id = notifications.id);
      CREATE INDEX notifications_snoozed ON notifications (snoozed_until_ms) WHERE snoozed_until_ms IS NOT NULL;
      CREATE INDEX notifications_expiring ON notifications (expires_at_ms) WHERE expires_at_ms IS NOT NULL;
      CREATE INDEX notifications_collapse ON notifications (app_id, user_id, collapse_key) WHERE collapse_key IS NOT NULL;

      ALTER TABLE user_cursors ADD COLUMN last_change_seq INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE user_cursors ADD COLUMN changes_floor INTEGER NOT NULL DEFAULT 0;
      UPDATE user_cursors SET last_change_seq = last_seq;

      CREATE TABLE inbox_tombstones (
        app_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        change_seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        reason TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (app_id, user_id, change_seq)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX inbox_tombstones_at ON inbox_tombstones (at_ms);
    `,
  },
  {
    version: 5,
    name: 'push',
    // Versions 3 and 4 belong to other steps; the runner applies whatever is missing, in order.
    // Jobs: one per (notification, user) while its push rule waits; deliveries: one per device.
    sql: `
      CREATE TABLE push_devices (
        id TEXT PRIMARY KEY,
        app_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        address TEXT NOT NULL,
        p256dh TEXT,
        auth TEXT,
        created_at_ms INTEGER NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX push_devices_address ON push_devices (app_id, kind, address);
      CREATE INDEX push_devices_user ON push_devices (app_id, user_id);

      CREATE TABLE push_preferences (
        app_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        preferences_json TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (app_id, user_id)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE push_vapid_keys (
        app_id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        private_key TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE push_jobs (
        app_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        notification_id TEXT NOT NULL,
        due_at_ms INTEGER NOT NULL,
        policy TEXT NOT NULL,
        ttl_seconds INTEGER NOT NULL,
        urgency TEXT NOT NULL,
        lease_token TEXT,
        lease_until_ms INTEGER,
        PRIMARY KEY (app_id, user_id, notification_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX push_jobs_due ON push_jobs (due_at_ms);

      CREATE TABLE push_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        message TEXT NOT NULL,
        urgency TEXT NOT NULL,
        collapse_key TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        lease_token TEXT,
        lease_until_ms INTEGER,
        parked_at_ms INTEGER
      ) STRICT;
      CREATE INDEX push_outbox_due ON push_outbox (next_attempt_ms) WHERE parked_at_ms IS NULL;
      CREATE INDEX push_outbox_device ON push_outbox (device_id);
    `,
  },
  {
    version: 6,
    name: 'push_attempt_marker',
    // Committed just before each provider request, cleared by a definite outcome: a row that still
    // has it after a crash may already be on the device (docs/push.md, "Crash safety").
    sql: 'ALTER TABLE push_outbox ADD COLUMN attempt_started_ms INTEGER;',
  },
  {
    version: 7,
    name: 'user_counts_cache',
    // Each user's counts (default view) as of `counts_seq`, valid while it equals `last_change_seq`
    // and until `counts_until_ms` (the next snooze end or expiry): a push adds one to them instead
    // of counting the user's whole inbox again for its herald:inbox_changed.
    sql: `
      ALTER TABLE user_cursors ADD COLUMN counts_seq INTEGER;
      ALTER TABLE user_cursors ADD COLUMN counts_total INTEGER;
      ALTER TABLE user_cursors ADD COLUMN counts_unread INTEGER;
      ALTER TABLE user_cursors ADD COLUMN counts_unseen INTEGER;
      ALTER TABLE user_cursors ADD COLUMN counts_until_ms INTEGER;
    `,
  },
];

/** Applies the migrations not yet recorded, all in one immediate transaction; returns the versions applied. */
export function applyMigrations(db: Database.Database, list: readonly Migration[], now: Date): number[] {
  const run = db.transaction((): number[] => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT`);
    const applied = new Set(db.prepare<[], number>('SELECT version FROM schema_migrations').pluck().all());
    const record = db.prepare<[number, string, number]>('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    const done: number[] = [];
    for (const migration of [...list].sort((a, b) => a.version - b.version)) {
      if (applied.has(migration.version)) continue;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, now.getTime());
      done.push(migration.version);
    }
    return done;
  });
  // Immediate: two processes starting together serialize here instead of both applying a step.
  return run.immediate();
}
