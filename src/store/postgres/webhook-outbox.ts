/** The webhook outbox on PostgreSQL: the `webhook_outbox` table (migration 2), shared by every node. */
import type pg from 'pg';
import { leaseToken, leaseTokenPrefix } from '../lease-token.js';
import type { Queryable } from './guarded-pool.js';
import { claimedBatch, type OutboxRow } from '../outbox-row.js';
import type { NewWebhookBatch, WebhookBatch, WebhookCounts, WebhookOutbox } from '../store.js';

/** Runs work in one transaction (the store's helper). */
export type Transaction = <T>(work: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

const SQL = {
  /** Held until commit: enqueues commit one at a time, so ids grow in commit order across nodes. */
  lock: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
  insert: `INSERT INTO webhook_outbox (app_id, target, body, created_at_ms, next_attempt_ms)
    VALUES ($1, $2, $3, $4::bigint, $5::bigint)`,
  /**
   * $1 now, $2 lease end, $3 limit, $4 lease token. The head of each target (its oldest unparked
   * batch) when due and not leased. SKIP LOCKED: nodes claiming together never wait for or share a
   * row; and a row another node leased after this statement's snapshot is re-checked on its new
   * version (the lease conditions are on `o`), so it is skipped too.
   */
  claim: `WITH claimed AS (
      SELECT o.id FROM (SELECT min(id) AS id FROM webhook_outbox WHERE parked_at_ms IS NULL GROUP BY app_id, target) h
      JOIN webhook_outbox o ON o.id = h.id
      WHERE o.parked_at_ms IS NULL AND o.next_attempt_ms <= $1::bigint AND (o.lease_until_ms IS NULL OR o.lease_until_ms <= $1::bigint)
      ORDER BY o.id LIMIT $3
      FOR UPDATE OF o SKIP LOCKED
    )
    UPDATE webhook_outbox w SET lease_token = $4, lease_until_ms = $2::bigint FROM claimed WHERE w.id = claimed.id
    RETURNING w.id, w.app_id, w.target, w.body, w.created_at_ms, w.next_attempt_ms, w.attempts, w.last_error`,
  /** $1 the holder's token prefix. */
  releaseHeld: `UPDATE webhook_outbox SET lease_token = NULL, lease_until_ms = NULL
    WHERE parked_at_ms IS NULL AND left(lease_token, length($1)) = $1 AND NOT (id = ANY($2::bigint[]))`,
  complete: 'DELETE FROM webhook_outbox WHERE id = $1',
  /** $1 id, $2 lease token, $3 next attempt, $4 attempts, $5 error. */
  reschedule: `UPDATE webhook_outbox SET next_attempt_ms = $3::bigint, attempts = $4, last_error = $5, lease_token = NULL, lease_until_ms = NULL
    WHERE id = $1 AND lease_token = $2 AND parked_at_ms IS NULL`,
  /** $1 id, $2 lease token, $3 attempts, $4 error, $5 now. */
  park: `UPDATE webhook_outbox SET parked_at_ms = $5::bigint, attempts = $3, last_error = $4, lease_token = NULL, lease_until_ms = NULL
    WHERE id = $1 AND lease_token = $2 AND parked_at_ms IS NULL`,
  counts: `SELECT count(*) FILTER (WHERE parked_at_ms IS NULL) AS pending, count(*) FILTER (WHERE parked_at_ms IS NOT NULL) AS parked
    FROM webhook_outbox WHERE $1::text IS NULL OR app_id = $1`,
} as const;

/** WebhookOutbox on the store's pool; safe for several nodes claiming from one database. */
export class PostgresWebhookOutbox implements WebhookOutbox {
  constructor(
    private readonly pool: Queryable,
    private readonly transaction: Transaction,
    private readonly schema: string | null,
  ) {}

  async enqueueWebhooks(batches: readonly NewWebhookBatch[]): Promise<void> {
    if (batches.length === 0) return;
    await this.transaction(async (client) => {
      await client.query(SQL.lock, [`herald.webhook_outbox:${this.schema ?? ''}`]);
      for (const batch of batches) {
        await client.query(SQL.insert, [batch.appId, batch.target, batch.body, batch.createdAt.getTime(), batch.nextAttemptAt.getTime()]);
      }
    });
  }

  async claimWebhooks(now: Date, leaseUntil: Date, limit: number, holder: string): Promise<WebhookBatch[]> {
    if (limit <= 0) return [];
    const lease = leaseToken(holder);
    const result = await this.pool.query<OutboxRow>(SQL.claim, [now.getTime(), leaseUntil.getTime(), limit, lease]);
    return result.rows.sort((a, b) => a.id - b.id).map((row) => claimedBatch(row, lease));
  }

  async releaseWebhookLeases(holder: string, keep: readonly number[] = []): Promise<number> {
    return (await this.pool.query(SQL.releaseHeld, [leaseTokenPrefix(holder), keep])).rowCount ?? 0;
  }

  async completeWebhook(id: number): Promise<void> {
    await this.pool.query(SQL.complete, [id]);
  }

  async rescheduleWebhook(id: number, lease: string, nextAttemptAt: Date, attempts: number, lastError: string | null): Promise<boolean> {
    return (await this.pool.query(SQL.reschedule, [id, lease, nextAttemptAt.getTime(), attempts, lastError])).rowCount === 1;
  }

  async parkWebhook(id: number, lease: string, attempts: number, lastError: string, now: Date): Promise<boolean> {
    return (await this.pool.query(SQL.park, [id, lease, attempts, lastError, now.getTime()])).rowCount === 1;
  }

  async countWebhooks(appId?: string): Promise<WebhookCounts> {
    const row = (await this.pool.query<WebhookCounts>(SQL.counts, [appId ?? null])).rows[0];
    return { pending: row.pending, parked: row.parked };
  }
}
