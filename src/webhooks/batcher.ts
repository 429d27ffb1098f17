/** Gathers a target's webhook events for a short window into one `{ time_ms, events }` batch. */
import type { NewWebhookBatch } from '../store/store.js';
import type { WebhookEvent } from './webhook-events.js';

interface Bucket {
  readonly appId: string;
  readonly target: string;
  readonly events: WebhookEvent[];
  timer: NodeJS.Timeout | null;
}

/** Per (app, target) buckets: the first event opens a window; its end (or a full bucket) makes a batch. */
export class Batcher {
  private readonly buckets = new Map<string, Bucket>();
  private buffered = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxEvents: number,
    private readonly now: () => number,
    private readonly emit: (batch: NewWebhookBatch) => void,
  ) {}

  /** Events waiting for their window to close. */
  get bufferedEvents(): number {
    return this.buffered;
  }

  /** Adds an event for a target of an app. */
  add(appId: string, target: string, event: WebhookEvent): void {
    const key = JSON.stringify([appId, target]);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { appId, target, events: [], timer: null };
      this.buckets.set(key, bucket);
    }
    bucket.events.push(event);
    this.buffered++;
    if (bucket.events.length >= this.maxEvents) {
      this.flush(key);
    } else if (bucket.timer === null) {
      bucket.timer = setTimeout(() => this.flush(key), this.windowMs);
      bucket.timer.unref();
    }
  }

  /** Closes every open window now (on shutdown). */
  flushAll(): void {
    for (const key of [...this.buckets.keys()]) this.flush(key);
  }

  private flush(key: string): void {
    const bucket = this.buckets.get(key);
    if (!bucket) return;
    this.buckets.delete(key);
    if (bucket.timer) clearTimeout(bucket.timer);
    this.buffered -= bucket.events.length;
    const now = this.now();
    this.emit({
      appId: bucket.appId,
      target: bucket.target,
      body: JSON.stringify({ time_ms: now, events: bucket.events }),
      createdAt: new Date(now),
      nextAttemptAt: new Date(now),
    });
  }
}
