/** Per-user limits of client push (a push made with a user token): recipients per push and notifications per minute. */
import type { App } from '../config/apps.js';
import { badRequest } from '../protocol/errors.js';
import { rateLimited } from './rate-limits.js';
import { TokenBucket } from './token-bucket.js';

/** Buckets kept before full ones (users idle for a minute) are forgotten. */
const SWEEP_AT = 10_000;

/**
 * One token bucket per (app, user) on this node, holding a minute of the app's
 * `client_push_notifications_per_minute`; a push spends one token per recipient. Limits are per
 * node, like the app's other rate limits.
 */
export class ClientPushLimits {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly now: () => number) {}

  /** Checks a user's push to `recipients` users against the app's limits: 400 over the recipient cap, 429 over the rate. */
  take(app: App, userId: string, recipients: number): void {
    if (recipients > app.clientPushMaxRecipients) {
      throw badRequest(`A push with a user token may address at most ${app.clientPushMaxRecipients} users (client_push_max_recipients); this one addresses ${recipients}`);
    }
    const perMinute = app.clientPushNotificationsPerMinute;
    const now = this.now();
    const key = `${app.id}\u0000${userId}`;
    let bucket = this.buckets.get(key);
    if (!bucket || bucket.rate !== perMinute / 60) {
      if (this.buckets.size >= SWEEP_AT) this.sweep(now);
      bucket = new TokenBucket(perMinute / 60, Math.max(1, perMinute), now);
      this.buckets.set(key, bucket);
    }
    const waitMs = bucket.take(recipients, now);
    if (waitMs > 0) {
      throw rateLimited(`User "${userId}" is over the limit of ${perMinute} notifications per minute pushed with a user token (client_push_notifications_per_minute)`, waitMs);
    }
  }

  /** Forgets buckets that have refilled: a new one starts just as full. */
  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
  }
}
