/** The webhook outbox on SQLite: the `webhook_outbox` table (migration 2) and its statements. */
import type Database from 'better-sqlite3';
import { leaseToken, leaseTokenPrefix } from '../lease-token.js';
import { claimedBatch, type OutboxRow } from '../outbox-row.js';
import type { NewWebhookBatch, WebhookBatch, WebhookCounts, WebhookOutbox } from '../store.js';

interface EnqueueParams {
  appId: string;
  target: string;
  body: string;
  createdAt: number;
  nextAttempt: number;
}

/** Every outbox statement, prepared once (after the migrations ran). */
function prepareStatements(db: Database.Database) {
  return {
    insert: db.prepare<[EnqueueParams]>(
      `INSERT INTO webhook_outbox (app_id, target, body, created_at_ms, next_attempt_ms)
       VALUES (@appId, @target, @body, @createdAt, @nextAttempt)`,
    ),
    // The head of each target (its oldest unparked batch), when due and not leased.
    due: db.prepare<[{ now: number; limit: number }], OutboxRow>(
      `SELECT o.* FROM (SELECT min(id) AS id FROM webhook_outbox WHERE parked_at_ms IS NULL GROUP BY app_id, target) h
       JOIN webhook_outbox o ON o.id = h.id
       WHERE o.next_attempt_ms <= @now AND (o.lease_until_ms IS NULL OR o.lease_until_ms <= @now)
       ORDER BY o.id LIMIT @limit`,
    ),
    lease: db.prepare<[{ id: number; token: string; until: number }]>(
      'UPDATE webhook_outbox SET lease_token = @token, lease_until_ms = @until WHERE id = @id',
    ),
    releaseHeld: db.prepare<[{ prefix: string; keep: string }]>(
      `UPDATE webhook_outbox SET lease_token = NULL, lease_until_ms = NULL
       WHERE parked_at_ms IS NULL AND substr(lease_token, 1, length(@prefix)) = @prefix
         AND id NOT IN (SELECT value FROM json_each(@keep))`,
    ),
    complete: db.prepare<[number]>('DELETE FROM webhook_outbox WHERE id = ?'),
    reschedule: db.prepare<[{ id: number; token: string; next: number; attempts: number; error: string | null }]>(
      `UPDATE webhook_outbox SET next_attempt_ms = @next, attempts = @attempts, last_error = @error, lease_token = NULL, lease_until_ms = NULL
       WHERE id = @id AND lease_token = @token AND parked_at_ms IS NULL`,
    ),
    park: db.prepare<[{ id: number; token: string; attempts: number; error: string; now: number }]>(
      `UPDATE webhook_outbox SET parked_at_ms = @now, attempts = @attempts, last_error = @error, lease_token = NULL, lease_until_ms = NULL
       WHERE id = @id AND lease_token = @token AND parked_at_ms IS NULL`,
    ),
    counts: db.prepare<[{ appId: string | null }], WebhookCounts>(
      `SELECT count(*) FILTER (WHERE parked_at_ms IS NULL) AS pending, count(*) FILTER (WHERE parked_at_ms IS NOT NULL) AS parked
       FROM webhook_outbox WHERE @appId IS NULL OR app_id = @appId`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** WebhookOutbox on the store's SQLite connection; claims are immediate transactions, so one process claims a batch once. */
export class SqliteWebhookOutbox implements WebhookOutbox {
  private statements: Statements | undefined;
  private readonly enqueueTx;
  private readonly claimTx;

  constructor(private readonly db: Database.Database) {
    this.enqueueTx = db.transaction((batches: readonly NewWebhookBatch[]) => {
      for (const batch of batches) {
        this.sql.insert.run({
          appId: batch.appId,
          target: batch.target,
          body: batch.body,
          createdAt: batch.createdAt.getTime(),
          nextAttempt: batch.nextAttemptAt.getTime(),
        });
      }
    });
    this.claimTx = db.transaction((now: number, until: number, limit: number, holder: string): WebhookBatch[] => {
      const token = leaseToken(holder);
      return this.sql.due.all({ now, limit }).map((row) => {
        this.sql.lease.run({ id: row.id, token, until });
        return claimedBatch(row, token);
      });
    });
  }

  /** Prepared on first use, since the table exists only after the migrations. */
  private get sql(): Statements {
    return (this.statements ??= prepareStatements(this.db));
  }

  async enqueueWebhooks(batches: readonly NewWebhookBatch[]): Promise<void> {
    if (batches.length > 0) this.enqueueTx.immediate(batches);
  }

  async claimWebhooks(now: Date, leaseUntil: Date, limit: number, holder: string): Promise<WebhookBatch[]> {
    return limit > 0 ? this.claimTx.immediate(now.getTime(), leaseUntil.getTime(), limit, holder) : [];
  }

  async releaseWebhookLeases(holder: string, keep: readonly number[] = []): Promise<number> {
    return this.sql.releaseHeld.run({ prefix: leaseTokenPrefix(holder), keep: JSON.stringify(keep) }).changes;
  }

  async completeWebhook(id: number): Promise<void> {
    this.sql.complete.run(id);
  }

  async rescheduleWebhook(id: number, lease: string, nextAttemptAt: Date, attempts: number, lastError: string | null): Promise<boolean> {
    return this.sql.reschedule.run({ id, token: lease, next: nextAttemptAt.getTime(), attempts, error: lastError }).changes === 1;
  }

  async parkWebhook(id: number, lease: string, attempts: number, lastError: string, now: Date): Promise<boolean> {
    return this.sql.park.run({ id, token: lease, attempts, error: lastError, now: now.getTime() }).changes === 1;
  }

  async countWebhooks(appId?: string): Promise<WebhookCounts> {
    return this.sql.counts.get({ appId: appId ?? null })!;
  }
}
