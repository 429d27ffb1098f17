/**
 * Webhooks of every app: turns realtime and inbox events into Pusher-shaped webhook events,
 * filters them per target, batches them, writes the batches to the durable outbox and has the
 * sender deliver them. Delivery is at-least-once and ordered per target; see docs/webhooks.md.
 */
import type { Logger } from 'pino';
import type { AppRegistry } from '../config/apps.js';
import type { InboxEvent } from '../inbox/inbox.js';
import { uniqueProcessName } from '../ops/process-name.js';
import type { RealtimeEvent } from '../realtime/events.js';
import type { NewWebhookBatch, WebhookOutbox } from '../store/store.js';
import { Batcher } from './batcher.js';
import { LeaveDelay, stillGone, type AppEvent, type LeaveState } from './leave-delay.js';
import { WebhookSender, type SenderOptions } from './sender.js';
import { ignoredHeaders } from './signature.js';
import { fromInboxEvent, fromRealtimeEvent, wants, WEBHOOK_EVENT_NAMES } from './webhook-events.js';

/** Tunables of the webhooks; tests shorten them. */
export interface WebhookOptions extends SenderOptions {
  /** How long a target's events are gathered into one batch. */
  readonly batchWindowMs: number;
  /** Events in one batch at most; a full batch is written at once. */
  readonly maxBatchEvents: number;
  /** How long `channel_vacated` and `member_removed` wait for the channel or member to come back. */
  readonly leaveDelayMs: number;
  /** How often the outbox's counts (for metrics) are refreshed. */
  readonly countIntervalMs: number;
  /** Batches kept in memory while the database cannot take them; newer ones are dropped beyond. */
  readonly maxUnsavedBatches: number;
}

/** Production values: 250 ms batches, 3 s leave delay, retries from 1 s doubling to 60 s, 10 s per request. */
export const defaultWebhookOptions: WebhookOptions = {
  batchWindowMs: 250,
  maxBatchEvents: 100,
  leaveDelayMs: 3_000,
  countIntervalMs: 5_000,
  maxUnsavedBatches: 10_000,
  pollIntervalMs: 1_000,
  retryInitialMs: 1_000,
  retryMaxMs: 60_000,
  requestTimeoutMs: 10_000,
  leaseMs: 60_000,
  maxInFlight: 16,
};

/** Numbers for the metrics: queue depths and what this node's sender did since start. */
export interface WebhookStats {
  /** Events waiting in a batch window or in the leave delay (not yet durable). */
  readonly bufferedEvents: number;
  /** Batches waiting to be written to the outbox (the database was unavailable). */
  readonly unsavedBatches: number;
  /** Batches in the outbox not yet delivered, every node's (as of the last count). */
  readonly outboxPending: number;
  /** Parked batches in the outbox, every node's (as of the last count). */
  readonly outboxParked: number;
  /** Batches this node is sending right now. */
  readonly sending: number;
  readonly delivered: number;
  readonly failedAttempts: number;
  readonly retries: number;
  /** Batches this node parked. */
  readonly parked: number;
  /** Batches dropped because the database stayed unavailable and memory was full. */
  readonly dropped: number;
}

/** What the dispatcher listens to and writes to. */
export interface WebhookDispatcherDeps {
  readonly outbox: WebhookOutbox;
  readonly apps: AppRegistry;
  readonly realtime: { listen(listener: (event: RealtimeEvent) => void): () => void };
  readonly inbox: { listen(listener: (event: InboxEvent) => void): () => void };
  readonly logger: Logger;
  readonly now: () => number;
  readonly options?: Partial<WebhookOptions>;
  /** Cluster-wide channels and members, against which a held leave is checked before it is sent. */
  readonly cluster?: LeaveState;
  /** The node's name across restarts (see HeraldDeps.nodeName); default: unique to this process. */
  readonly leaseHolder?: string;
}

const WRITE_RETRY_MS = 1_000;
const WRITE_CHUNK = 100;

/** The webhooks of one node. */
export class WebhookDispatcher {
  private readonly options: WebhookOptions;
  private readonly leaveDelay: LeaveDelay;
  private readonly batcher: Batcher;
  private readonly sender: WebhookSender;
  private readonly unsaved: NewWebhookBatch[] = [];
  private writing: Promise<void> | null = null;
  private stopping = false;
  private dropped = 0;
  private counts = { pending: 0, parked: 0 };
  private countTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void)[] = [];

  constructor(private readonly deps: WebhookDispatcherDeps) {
    this.options = { ...defaultWebhookOptions, ...deps.options };
    const cluster = deps.cluster;
    this.leaveDelay = new LeaveDelay(this.options.leaveDelayMs, (item) => this.route(item), cluster ? (item) => stillGone(cluster, item) : null);
    this.batcher = new Batcher(this.options.batchWindowMs, this.options.maxBatchEvents, deps.now, (batch) => this.write(batch));
    this.sender = new WebhookSender(deps.outbox, deps.apps, deps.logger, deps.now, this.options, deps.leaseHolder ?? uniqueProcessName());
  }

  /** Numbers for the metrics. */
  get stats(): WebhookStats {
    return {
      bufferedEvents: this.batcher.bufferedEvents + this.leaveDelay.size,
      unsavedBatches: this.unsaved.length,
      outboxPending: this.counts.pending,
      outboxParked: this.counts.parked,
      sending: this.sender.sending,
      ...this.sender.counters,
      dropped: this.dropped,
    };
  }

  /** Listens to events and starts delivering, beginning with what an earlier run left in the outbox. */
  start(): void {
    if (this.unsubscribe.length > 0 || this.stopping) return;
    this.warnAboutConfig();
    this.unsubscribe = [
      this.deps.realtime.listen((event) => this.onRealtime(event)),
      this.deps.inbox.listen((event) => this.accept({ appId: event.app.id, event: fromInboxEvent(event) })),
    ];
    this.sender.start();
    this.countTimer = setInterval(() => void this.refreshCounts(), this.options.countIntervalMs);
    this.countTimer.unref();
    void this.refreshCounts();
  }

  /**
   * Stops: held leaves and open windows are written to the outbox now (so a SIGTERM loses nothing),
   * requests in flight are aborted and their batches handed back for the next run.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    if (this.countTimer) clearInterval(this.countTimer);
    this.leaveDelay.flush();
    this.batcher.flushAll();
    await Promise.all([this.flushWrites(), this.sender.stop()]);
    if (this.unsaved.length > 0) {
      this.deps.logger.error({ batches: this.unsaved.length }, 'webhook batches lost at shutdown: the database did not take them');
    }
  }

  /** Reads the outbox's pending and parked counts (every node's) for the stats. */
  async refreshCounts(): Promise<void> {
    try {
      this.counts = await this.deps.outbox.countWebhooks();
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'could not count webhook batches');
    }
  }

  private onRealtime(event: RealtimeEvent): void {
    if (!('app' in event) || event.app.webhooks.length === 0) return;
    const webhookEvent = fromRealtimeEvent(event);
    if (webhookEvent) this.accept({ appId: event.app.id, event: webhookEvent });
  }

  private accept(item: AppEvent): void {
    if (!this.leaveDelay.offer(item)) this.route(item);
  }

  /** Adds an event to the batch of every target of its app that wants it (a URL listed twice gets it once). */
  private route({ appId, event }: AppEvent): void {
    const app = this.deps.apps.findById(appId);
    if (!app) return;
    const added = new Set<string>();
    for (const target of app.webhooks) {
      if (added.has(target.url) || !wants(target, event)) continue;
      added.add(target.url);
      this.batcher.add(appId, target.url, event);
    }
  }

  private write(batch: NewWebhookBatch): void {
    if (this.unsaved.length >= this.options.maxUnsavedBatches) {
      this.dropped++;
      return;
    }
    this.unsaved.push(batch);
    void this.flushWrites();
  }

  /**
   * Writes unsaved batches to the outbox, oldest first, one writer at a time so their order is the
   * order they were made. While the database fails, retries every second; on shutdown, once more.
   */
  private flushWrites(): Promise<void> {
    if (this.writing) return this.writing;
    if (this.unsaved.length === 0) return Promise.resolve();
    this.writing = this.writeLoop();
    return this.writing;
  }

  private async writeLoop(): Promise<void> {
    // Yield first, so `writing` is set before the loop can end and clear it.
    await Promise.resolve();
    try {
      while (this.unsaved.length > 0) {
        const chunk = this.unsaved.slice(0, WRITE_CHUNK);
        try {
          await this.deps.outbox.enqueueWebhooks(chunk);
          this.unsaved.splice(0, chunk.length);
          this.sender.kick();
        } catch (error) {
          this.deps.logger.error({ err: error, unsaved: this.unsaved.length, dropped: this.dropped }, 'could not write webhook batches to the outbox; retrying');
          if (this.stopping) return;
          await new Promise((resolve) => setTimeout(resolve, WRITE_RETRY_MS).unref());
        }
      }
    } finally {
      // Cleared in the same step the loop ends, so a batch added later always starts a new writer.
      this.writing = null;
    }
  }

  private warnAboutConfig(): void {
    for (const app of this.deps.apps.all()) {
      for (const target of app.webhooks) {
        const unknown = (target.events ?? []).filter((name) => !(WEBHOOK_EVENT_NAMES as readonly string[]).includes(name));
        if (unknown.length > 0) this.deps.logger.warn({ app: app.id, url: target.url, unknown }, 'webhook lists unknown event names; they never match');
        const ignored = ignoredHeaders(target.headers);
        if (ignored.length > 0) this.deps.logger.warn({ app: app.id, url: target.url, ignored }, 'webhook headers not sent: protected or not valid HTTP');
      }
    }
  }
}
