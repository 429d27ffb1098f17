/** A `webhook_outbox` row as both stores read it, and the batch it becomes once claimed. */
import type { WebhookBatch } from './store.js';

/** The columns a claim reads (times in epoch ms). */
export interface OutboxRow {
  id: number;
  app_id: string;
  target: string;
  body: string;
  created_at_ms: number;
  next_attempt_ms: number;
  attempts: number;
  last_error: string | null;
}

/** The batch of a row claimed under `lease`. */
export function claimedBatch(row: OutboxRow, lease: string): WebhookBatch {
  return {
    id: row.id,
    appId: row.app_id,
    target: row.target,
    body: row.body,
    createdAt: new Date(row.created_at_ms),
    nextAttemptAt: new Date(row.next_attempt_ms),
    attempts: row.attempts,
    lastError: row.last_error,
    lease,
  };
}
