/**
 * Delivers batches from the outbox: claims due ones (a lease), POSTs them signed, and removes,
 * reschedules (exponential backoff) or parks (after the app's retry window) each. Any node may
 * send any batch; the outbox's claim keeps each target's batches one at a time and in order.
 */
import type { Logger } from 'pino';
import type { AppRegistry } from '../config/apps.js';
import type { WebhookBatch, WebhookOutbox } from '../store/store.js';
import { webhookHeaders } from './signature.js';

/** Tunables of delivery; tests shorten them. */
export interface SenderOptions {
  /** How often the outbox is polled for due batches (others' retries, leases that ran out). */
  readonly pollIntervalMs: number;
  /** Delay before the first retry; doubled on each further failure. */
  readonly retryInitialMs: number;
  /** Longest delay between two attempts. */
  readonly retryMaxMs: number;
  /** Time a receiver has to answer one POST. */
  readonly requestTimeoutMs: number;
  /** How long a claim holds a batch; a node that died mid-send loses its batches to others after this. */
  readonly leaseMs: number;
  /** Batches this node sends at once (each to a different target). */
  readonly maxInFlight: number;
}

/** What this node's sender did since start. */
export interface SenderCounters {
  delivered: number;
  /** Attempts answered by a non-2xx status, a network error or a timeout. */
  failedAttempts: number;
  /** Failed batches rescheduled for another attempt. */
  retries: number;
  /** Batches given up on after their retry window. */
  parked: number;
}

const MAX_ERROR_LENGTH = 500;

/** Delivers outbox batches until stopped. */
export class WebhookSender {
  readonly counters: SenderCounters = { delivered: 0, failedAttempts: 0, retries: 0, parked: 0 };
  private readonly inFlight = new Set<Promise<void>>();
  /** Ids of the batches being sent (their leases are held on purpose). */
  private readonly sendingIds = new Set<number>();
  /** Whether this node may hold leases of batches it is not sending (a claim or bookkeeping failed). */
  private leasesInDoubt = false;
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  /** Wake-ups at the retry times this node set, so a retry does not wait for the next poll. */
  private readonly wakeUps = new Set<NodeJS.Timeout>();
  private claiming: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly outbox: WebhookOutbox,
    private readonly apps: AppRegistry,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly options: SenderOptions,
    /** This node's name in the leases it takes. */
    private readonly holder: string,
  ) {}

  /** Batches being sent right now. */
  get sending(): number {
    return this.inFlight.size;
  }

  /**
   * Starts polling; batches left by an earlier run (or another node) are picked up at once. First it
   * ends the leases its previous run (same holder name) still held when it died: those batches were
   * being sent, and would otherwise wait for their leases to run out.
   */
  start(): void {
    if (this.timer || this.stopping.signal.aborted) return;
    this.timer = setInterval(() => this.kick(), this.options.pollIntervalMs);
    this.timer.unref();
    this.claiming = this.outbox
      .releaseWebhookLeases(this.holder)
      .then((released) => {
        if (released > 0) this.logger.warn({ batches: released, holder: this.holder }, 'webhook batches this node was sending when it stopped are due again');
      })
      .catch((error: unknown) => this.logger.error({ err: error }, 'could not end the webhook leases of an earlier run; they are sent when the leases run out'))
      .finally(() => {
        this.claiming = null;
        this.kick();
      });
  }

  /** Looks for due batches soon (after an enqueue or a delivery); never runs two claims at once. */
  kick(): void {
    if (this.timer === null) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = this.claim()
      .catch((error: unknown) => this.logger.error({ err: error }, 'could not claim webhook batches'))
      .finally(() => {
        this.claiming = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Stops polling, aborts requests in flight and hands their batches back to the outbox. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const wakeUp of this.wakeUps) clearTimeout(wakeUp);
    this.wakeUps.clear();
    this.stopping.abort();
    await this.claiming;
    await Promise.allSettled([...this.inFlight]);
  }

  private async claim(): Promise<void> {
    const slots = this.options.maxInFlight - this.inFlight.size;
    if (slots <= 0) return;
    if (this.leasesInDoubt) await this.releaseLeasesInDoubt();
    const now = this.now();
    let batches: WebhookBatch[];
    try {
      batches = await this.outbox.claimWebhooks(new Date(now), new Date(now + this.options.leaseMs), slots, this.holder);
    } catch (error) {
      // The claim may have committed with its answer lost (a database crash): its batches are ours.
      this.leasesInDoubt = true;
      throw error;
    }
    for (const batch of batches) {
      this.sendingIds.add(batch.id);
      const sending: Promise<void> = this.deliver(batch)
        .catch((error: unknown) => {
          this.leasesInDoubt = true;
          this.logger.error({ err: error, batch: batch.id }, 'webhook batch bookkeeping failed; it is sent again once the database answers');
        })
        .finally(() => {
          this.sendingIds.delete(batch.id);
          this.inFlight.delete(sending);
          this.kick();
        });
      this.inFlight.add(sending);
    }
  }

  /**
   * Ends this node's leases of batches it is not sending: those a lost claim took, or whose
   * bookkeeping failed. Without it they would hold their targets (one batch at a time per target)
   * until the leases ran out.
   */
  private async releaseLeasesInDoubt(): Promise<void> {
    const released = await this.outbox.releaseWebhookLeases(this.holder, [...this.sendingIds]);
    this.leasesInDoubt = false;
    if (released > 0) this.logger.warn({ batches: released }, 'webhook batches claimed or sent while the database failed are due again');
  }

  private async deliver(batch: WebhookBatch): Promise<void> {
    if (this.stopping.signal.aborted) return this.release(batch);
    const app = this.apps.findById(batch.appId);
    const target = app?.webhooks.find((webhook) => webhook.url === batch.target);
    if (!app || !target) {
      await this.park(batch, batch.attempts, 'the app or this webhook URL is no longer configured');
      return;
    }
    let error: string;
    try {
      const response = await fetch(batch.target, {
        method: 'POST',
        headers: webhookHeaders(app, batch.body, target.headers),
        body: batch.body,
        redirect: 'manual',
        signal: requestSignal(this.options.requestTimeoutMs, this.stopping.signal),
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) {
        await this.outbox.completeWebhook(batch.id);
        this.counters.delivered++;
        return;
      }
      error = `HTTP ${response.status}`;
    } catch (failure) {
      if (this.stopping.signal.aborted) return this.release(batch);
      error = describe(failure);
    }
    await this.failed(batch, app.webhookRetryWindowSeconds * 1000, error);
  }

  /** Reschedules a failed batch with backoff, or parks it once its retry window (from creation) is over. */
  private async failed(batch: WebhookBatch, windowMs: number, error: string): Promise<void> {
    this.counters.failedAttempts++;
    const attempts = batch.attempts + 1;
    const now = this.now();
    const deadline = batch.createdAt.getTime() + windowMs;
    if (now >= deadline) {
      await this.park(batch, attempts, error);
      return;
    }
    const delay = Math.min(this.options.retryInitialMs * 2 ** (attempts - 1), this.options.retryMaxMs);
    const next = Math.min(now + delay, deadline);
    if (await this.outbox.rescheduleWebhook(batch.id, batch.lease, new Date(next), attempts, error)) {
      this.counters.retries++;
      this.wakeUp(next - now);
    }
    this.logger.warn({ app: batch.appId, url: batch.target, batch: batch.id, attempts, error, retryInMs: next - now }, 'webhook delivery failed; will retry');
  }

  private async park(batch: WebhookBatch, attempts: number, error: string): Promise<void> {
    if (!(await this.outbox.parkWebhook(batch.id, batch.lease, attempts, error, new Date(this.now())))) return;
    this.counters.parked++;
    this.logger.error(
      { app: batch.appId, url: batch.target, batch: batch.id, attempts, error, createdAt: batch.createdAt.toISOString() },
      'webhook batch parked: not delivered within the retry window',
    );
  }

  private wakeUp(delayMs: number): void {
    if (this.timer === null) return;
    const wakeUp = setTimeout(() => {
      this.wakeUps.delete(wakeUp);
      this.kick();
    }, delayMs);
    wakeUp.unref();
    this.wakeUps.add(wakeUp);
  }

  /** Hands a claimed batch back untouched (shutdown), so the next run or another node sends it without waiting for the lease. */
  private async release(batch: WebhookBatch): Promise<void> {
    await this.outbox.rescheduleWebhook(batch.id, batch.lease, batch.nextAttemptAt, batch.attempts, batch.lastError);
  }
}

/** The request's signal: its timeout, or shutdown, whichever comes first. */
function requestSignal(timeoutMs: number, stopping: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  // AbortSignal.any arrived in Node 20.3; before it, shutdown waits for the timeout instead.
  return typeof AbortSignal.any === 'function' ? AbortSignal.any([timeout, stopping]) : timeout;
}

/** A short description of a failed request: `TypeError: fetch failed (ECONNREFUSED)`, `TimeoutError: …`. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, MAX_ERROR_LENGTH);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = cause ? ` (${String(cause.code ?? cause.message ?? cause)})` : '';
  return `${error.name}: ${error.message}${detail}`.slice(0, MAX_ERROR_LENGTH);
}
