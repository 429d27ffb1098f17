/** Per-app HTTP rate limits: backend events and read requests per second, answered with 429. */
import type { App } from '../config/apps.js';
import { Errors, type HttpError } from '../protocol/errors.js';
import { TokenBucket } from './token-bucket.js';

/** What a rate-limited route spends: backend events (`/events`, `/batch_events`, `/notifications`) or reads (GET). */
export type RateKind = 'events' | 'reads';

/** 429 with `Retry-After` (whole seconds, at least 1) and the JSON error body. */
export function rateLimited(message: string, retryAfterMs: number): HttpError {
  return Errors.rateLimited(message, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) });
}

/**
 * One token bucket per app and kind on this node, holding one second of the app's rate. A bucket
 * is rebuilt when a reload changes the app's rate. Limits are per node: a cluster of N nodes
 * admits up to N times the rate.
 */
export class AppRateLimits {
  private readonly events = new Map<string, TokenBucket>();
  private readonly reads = new Map<string, TokenBucket>();

  constructor(private readonly now: () => number) {}

  /** Spends `cost` of an app's budget of a kind; throws 429 when the budget is used up. */
  take(app: App, kind: RateKind, cost = 1): void {
    const rate = kind === 'events' ? app.maxBackendEventsPerSecond : app.maxReadRequestsPerSecond;
    if (rate === null) return;
    const buckets = kind === 'events' ? this.events : this.reads;
    const now = this.now();
    let bucket = buckets.get(app.id);
    if (!bucket || bucket.rate !== rate) {
      bucket = new TokenBucket(rate, Math.max(1, rate), now);
      buckets.set(app.id, bucket);
    }
    const waitMs = bucket.take(cost, now);
    if (waitMs === 0) return;
    throw kind === 'events'
      ? rateLimited(`App "${app.id}" is over its limit of ${rate} backend events per second (max_backend_events_per_second)`, waitMs)
      : rateLimited(`App "${app.id}" is over its limit of ${rate} read requests per second (max_read_requests_per_second)`, waitMs);
  }
}
