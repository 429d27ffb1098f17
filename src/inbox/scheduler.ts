/** Releases scheduled notifications when they fall due, and prunes old idempotency keys. */
import type { Logger } from 'pino';
import { IDEMPOTENCY_WINDOW_MS } from '../store/pushed-notification.js';
import type { InboxStore } from '../store/store.js';
import type { Inbox } from './inbox.js';

/** How long deletions stay in the change feed; a device offline longer resyncs (410). */
export const CHANGES_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
const RELEASE_BATCH = 1000;
/** Expired rows removed per transaction: small, so the purge never holds a user's writes for long. */
const EXPIRE_BATCH = 500;
const PRUNE_EVERY_MS = 10 * 60 * 1000;

export interface SchedulerOptions {
  /** How often due notifications are looked for; bounds the delivery delay. */
  readonly intervalMs: number;
}

/**
 * Polls the store for due notifications, ended snoozes and expired notifications. Polling (not a
 * timer per row) also serves rows other nodes scheduled; the store hands each row to one node.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private lastPrune = 0;

  constructor(
    private readonly store: InboxStore,
    private readonly inbox: Inbox,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly options: SchedulerOptions = { intervalMs: 250 },
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass: release everything due (in batches), prune keys now and then. Never overlaps itself. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.run()
      .catch((error: unknown) => this.logger.error({ err: error }, 'scheduler pass failed'))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async run(): Promise<void> {
    for (;;) {
      const released = await this.store.releaseDue(new Date(this.now()), RELEASE_BATCH);
      if (released.length > 0) void this.inbox.deliver(released);
      if (released.length < RELEASE_BATCH) break;
    }
    for (;;) {
      const resurfaced = await this.store.resurfaceDue(new Date(this.now()), RELEASE_BATCH);
      if (resurfaced.length > 0) void this.inbox.deliver(resurfaced);
      if (resurfaced.length < RELEASE_BATCH) break;
    }
    for (;;) {
      const expired = await this.store.expireDue(new Date(this.now()), EXPIRE_BATCH);
      if (expired.length > 0) this.inbox.announceExpired(expired);
      if (expired.length < EXPIRE_BATCH) break;
    }
    const now = this.now();
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      await this.store.pruneIdempotencyKeys(new Date(now - IDEMPOTENCY_WINDOW_MS));
      await this.store.pruneChanges(new Date(now - CHANGES_RETENTION_MS));
    }
  }
}
