/**
 * The push loops of one node: evaluates due push jobs (the rule, on exactly one node thanks to the
 * store's leases) into deliveries, and sends due deliveries through their provider, with retries,
 * `Retry-After`, parking and removal of devices the provider reports gone. Every outcome is reported
 * (webhooks) and counted (metrics). Delivery is at-least-once per device: a marker committed before
 * each request tells, after a crash, which deliveries may be on the device already; they go out again
 * as the same message, which devices show once (docs/push.md, "Crash safety").
 */
import type { Logger } from 'pino';
import type { App, AppRegistry } from '../config/apps.js';
import type { PushOutcomeEvent } from '../inbox/inbox.js';
import type { ClaimedDelivery, DeviceKind, PushJob, PushOutboxCounts, StoredDevice } from '../store/push-store.js';
import type { InboxStore, StoredNotification } from '../store/store.js';
import type { PushBody } from './message.js';
import { planUserPush } from './planner.js';
import type { PushOutcome, PushProvider } from './providers/provider.js';

/** Tunables; tests shorten them. */
export interface PushWorkerOptions {
  /** How often due jobs and deliveries are looked for. */
  readonly pollIntervalMs: number;
  /** How long a claim holds jobs or deliveries; a node that died loses them to others after this. */
  readonly leaseMs: number;
  /** Delay before the first retry; doubled on each further failure. */
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /** Attempts before a delivery is parked (it is parked earlier when its ttl runs out). */
  readonly maxAttempts: number;
  /** Deliveries this node sends at once. */
  readonly maxInFlight: number;
  /** Time a provider has to answer one request. */
  readonly requestTimeoutMs: number;
}

export const defaultPushWorkerOptions: PushWorkerOptions = {
  pollIntervalMs: 500,
  leaseMs: 60_000,
  retryInitialMs: 5_000,
  retryMaxMs: 10 * 60_000,
  maxAttempts: 10,
  maxInFlight: 16,
  requestTimeoutMs: 10_000,
};

/** What this node did since start. */
export interface PushCounters {
  /** Jobs evaluated (sent, merged, held or cancelled). */
  evaluated: number;
  /** Jobs cancelled: seen, opened, no longer live, expired, or turned off by preferences. */
  cancelled: number;
  /** Jobs held by quiet hours (each time). */
  held: number;
  sent: number;
  failedAttempts: number;
  retries: number;
  parked: number;
  devicesRemoved: number;
  /** Deliveries sent again whose earlier attempt was in flight when a node died (they may repeat). */
  resentUncertain: number;
}

export interface PushWorkerDeps {
  readonly store: InboxStore;
  readonly apps: AppRegistry;
  readonly logger: Logger;
  readonly now: () => number;
  readonly providers: Readonly<Record<DeviceKind, PushProvider>>;
  /** Reports each outcome (the inbox's listeners: webhooks). */
  readonly report: (event: PushOutcomeEvent) => void;
  /** This node's name in the leases it takes. */
  readonly holder: string;
  readonly options?: Partial<PushWorkerOptions>;
}

/** Users whose due jobs one claim takes. */
const USERS_PER_CLAIM = 100;
/** How often the queue depth (for metrics) is counted. */
const COUNT_EVERY_MS = 5_000;

/** The ids a push body stands for. */
function idsOf(body: PushBody): string[] {
  return body.id === null ? [...(body as { ids: readonly string[] }).ids] : [body.id];
}

/** Whether the app can reach a device of this kind (Web Push always can: its keys are generated). */
function reachable(app: App, device: StoredDevice): boolean {
  return device.kind === 'webpush' || (device.kind === 'fcm' ? app.push.fcm !== null : app.push.apns !== null);
}

/** Runs the push loops until stopped. */
export class PushWorker {
  readonly counters: PushCounters = { evaluated: 0, cancelled: 0, held: 0, sent: 0, failedAttempts: 0, retries: 0, parked: 0, devicesRemoved: 0, resentUncertain: 0 };
  readonly options: PushWorkerOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private started: Promise<void> | null = null;
  private stopped = false;
  private inFlight = 0;
  private lastCount = -Infinity;
  /** Jobs, pending and parked deliveries of every node (as of the last count). */
  depth: PushOutboxCounts = { jobs: 0, pending: 0, parked: 0 };

  constructor(private readonly deps: PushWorkerDeps) {
    this.options = { ...defaultPushWorkerOptions, ...deps.options };
  }

  /** Deliveries being sent right now. */
  get sending(): number {
    return this.inFlight;
  }

  /** Ends the leases an earlier run under the same name held, then polls. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = this.deps.store.offline
      .releasePushLeases(this.deps.holder)
      .then((released) => {
        if (released > 0) this.deps.logger.warn({ released, holder: this.deps.holder }, 'push jobs and deliveries this node held when it stopped are due again');
      })
      .catch((error: unknown) => this.deps.logger.error({ err: error }, 'could not end the push leases of an earlier run; they are taken again when they run out'));
    this.timer = setInterval(() => void this.tick(), this.options.pollIntervalMs);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    for (const provider of Object.values(this.deps.providers)) provider.close();
  }

  /** One pass: evaluate every due job, then send every due delivery. Never overlaps itself. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      await this.started;
      await this.evaluateDue();
      await this.sendDue();
      if (this.deps.now() - this.lastCount >= COUNT_EVERY_MS) {
        this.lastCount = this.deps.now();
        this.depth = await this.deps.store.offline.countPush();
      }
    })()
      .catch((error: unknown) => this.deps.logger.error({ err: error }, 'push pass failed'))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async evaluateDue(): Promise<void> {
    const { store, now, holder } = this.deps;
    for (;;) {
      const at = now();
      const jobs = await store.offline.claimDueJobs(new Date(at), new Date(at + this.options.leaseMs), USERS_PER_CLAIM, holder);
      const byUser = new Map<string, PushJob[]>();
      for (const job of jobs) {
        const key = JSON.stringify([job.appId, job.userId]);
        byUser.set(key, [...(byUser.get(key) ?? []), job]);
      }
      for (const userJobs of byUser.values()) await this.evaluateUser(userJobs);
      if (byUser.size < USERS_PER_CLAIM) return;
    }
  }

  private async evaluateUser(jobs: PushJob[]): Promise<void> {
    const { store, apps, logger } = this.deps;
    const { appId, userId, lease } = jobs[0];
    const app = apps.findById(appId);
    if (!app) {
      await store.offline.settleJobs(lease, { done: jobs, held: [], deliveries: [] });
      return;
    }
    const notifications = new Map<string, StoredNotification | null>();
    for (const job of jobs) notifications.set(job.notificationId, await store.get(appId, userId, job.notificationId));
    const [preferences, devices, counts] = await Promise.all([
      store.offline.getPreferences(appId, userId),
      store.offline.listDevices(appId, userId),
      store.count(appId, userId),
    ]);
    const plan = planUserPush({
      app,
      userId,
      jobs,
      notifications,
      preferences,
      devices: devices.filter((device) => reachable(app, device)),
      unread: counts.unread,
      nowMs: this.deps.now(),
    });
    if (!(await store.offline.settleJobs(lease, plan))) {
      logger.warn({ app: appId, user: userId }, 'push jobs were taken over by another node before they were settled');
      return;
    }
    this.counters.evaluated += jobs.length;
    this.counters.cancelled += plan.skipped.size;
    this.counters.held += plan.held.length;
    if (plan.deliveries.length > 0) logger.debug({ app: appId, user: userId, notifications: plan.sent, devices: plan.deliveries.length }, 'push due');
  }

  private async sendDue(): Promise<void> {
    const { store, now, holder } = this.deps;
    for (;;) {
      const room = this.options.maxInFlight;
      const at = now();
      const deliveries = await store.offline.claimDeliveries(new Date(at), new Date(at + this.options.leaseMs), room, holder);
      await Promise.all(deliveries.map((delivery) => this.deliver(delivery)));
      if (deliveries.length < room || this.stopped) return;
    }
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    this.inFlight++;
    try {
      await this.attempt(delivery);
    } catch (error) {
      // The store failed: the lease runs out and another pass (or node) tries again.
      this.deps.logger.error({ err: error, delivery: delivery.id }, 'push delivery could not be settled');
    } finally {
      this.inFlight--;
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const { store, apps } = this.deps;
    const app = apps.findById(delivery.appId);
    const device = delivery.device;
    if (!app || !device || device.userId !== delivery.userId) {
      await store.offline.completeDelivery(delivery.id, delivery.lease);
      return;
    }
    const body = JSON.parse(delivery.message) as PushBody;
    const nowMs = this.deps.now();
    const ttlSeconds = Math.ceil((delivery.expiresAt.getTime() - nowMs) / 1000);
    if (ttlSeconds <= 0) {
      await this.park(app, delivery, device, body, delivery.attempts, 'its ttl ran out before it could be delivered');
      return;
    }
    // Write-ahead: committed before the request, so a crash leaves a trace of what may be on the device.
    if (!(await store.offline.startAttempt(delivery.id, delivery.lease, new Date(nowMs)))) return;
    if (delivery.uncertainSince !== null) {
      this.counters.resentUncertain++;
      this.deps.logger.info(
        { app: app.id, user: delivery.userId, device: device.id, message: body.message_id, since: delivery.uncertainSince.toISOString() },
        'push sent again after a crash: the provider may have accepted the earlier attempt (same message id, so the device shows it once)',
      );
    }
    const outcome = await this.deps.providers[device.kind].send({ app, device, delivery, body, ttlSeconds }, nowMs);
    await this.settle(app, delivery, device, body, outcome);
  }

  private async settle(app: App, delivery: ClaimedDelivery, device: StoredDevice, body: PushBody, outcome: PushOutcome): Promise<void> {
    const { store, report } = this.deps;
    const base = { app, userId: delivery.userId, deviceId: device.id, deviceKind: device.kind };
    switch (outcome.kind) {
      case 'sent':
        await store.offline.completeDelivery(delivery.id, delivery.lease);
        this.counters.sent++;
        report({ type: 'push_sent', ...base, ids: idsOf(body) });
        return;
      case 'gone':
        await store.offline.removeGoneDevice(device.id);
        this.counters.devicesRemoved++;
        this.deps.logger.info({ app: app.id, user: delivery.userId, device: device.id, kind: device.kind, error: outcome.error }, 'push device removed: the provider reports it gone');
        report({ type: 'push_device_removed', ...base, error: outcome.error });
        return;
      case 'failed':
        this.counters.failedAttempts++;
        await this.park(app, delivery, device, body, delivery.attempts + 1, outcome.error);
        return;
      case 'retry': {
        this.counters.failedAttempts++;
        const attempts = delivery.attempts + 1;
        const backoff = Math.min(this.options.retryMaxMs, this.options.retryInitialMs * 2 ** (attempts - 1));
        const next = this.deps.now() + Math.max(backoff, outcome.retryAfterMs ?? 0);
        if (attempts >= this.options.maxAttempts || next >= delivery.expiresAt.getTime()) {
          await this.park(app, delivery, device, body, attempts, outcome.error);
          return;
        }
        if (await store.offline.rescheduleDelivery(delivery.id, delivery.lease, new Date(next), attempts, outcome.error)) this.counters.retries++;
        return;
      }
    }
  }

  private async park(app: App, delivery: ClaimedDelivery, device: StoredDevice, body: PushBody, attempts: number, error: string): Promise<void> {
    if (!(await this.deps.store.offline.parkDelivery(delivery.id, delivery.lease, attempts, error, new Date(this.deps.now())))) return;
    this.counters.parked++;
    this.deps.logger.warn({ app: app.id, user: delivery.userId, device: device.id, kind: device.kind, attempts, error }, 'push delivery parked');
    this.deps.report({ type: 'push_failed', app, userId: delivery.userId, deviceId: device.id, deviceKind: device.kind, ids: idsOf(body), error, attempts });
  }
}
