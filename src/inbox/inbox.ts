/** The inbox: stores notifications before delivering them, and keeps every device's state in sync. */
import type { Logger } from 'pino';
import { liveInboxChannel, type App, type AppRegistry } from '../config/apps.js';
import type { Realtime } from '../realtime/realtime.js';
import { resolvePushRule } from '../push/rule.js';
import type { DeviceKind, PushJobSpec } from '../store/push-store.js';
import type { Counts, InboxStore, ListQuery, ListResult, PushResult, StoredNotification } from '../store/store.js';
import { NotificationFrames } from './notification-frames.js';
import type { PushRequest } from './push-request.js';

/** Event sent on a user's channel when notifications are opened: `{ ids, all, unread, total, last_seq, opened_at }`. */
export const OPENED_EVENT = 'herald:notifications_opened';
/** Event sent on a user's channel when a notification is deleted: `{ id, unread, total, last_seq }`. */
export const DELETED_EVENT = 'herald:notification_deleted';

/** A change a user made to their inbox, reported to listeners (webhooks) after it is stored. */
export type InboxEvent =
  | { readonly type: 'notification_opened'; readonly app: App; readonly userId: string; readonly ids: readonly string[]; readonly all: boolean }
  | { readonly type: 'notification_action'; readonly app: App; readonly userId: string; readonly id: string; readonly buttonId: string }
  | { readonly type: 'notification_deleted'; readonly app: App; readonly userId: string; readonly id: string }
  | PushOutcomeEvent;

/** What became of a push to one device (design.md §6): sent, given up on (parked), or the device removed as gone. */
export type PushOutcomeEvent =
  | { readonly type: 'push_sent'; readonly app: App; readonly userId: string; readonly deviceId: string; readonly deviceKind: DeviceKind; readonly ids: readonly string[] }
  | {
      readonly type: 'push_failed';
      readonly app: App;
      readonly userId: string;
      readonly deviceId: string;
      readonly deviceKind: DeviceKind;
      readonly ids: readonly string[];
      readonly error: string;
      readonly attempts: number;
    }
  | { readonly type: 'push_device_removed'; readonly app: App; readonly userId: string; readonly deviceId: string; readonly deviceKind: DeviceKind; readonly error: string };

/** Called synchronously with each inbox event. */
export type InboxListener = (event: InboxEvent) => void;

export interface InboxDeps {
  readonly store: InboxStore;
  readonly realtime: Realtime;
  readonly apps: AppRegistry;
  readonly logger: Logger;
  readonly now: () => number;
}

/** What the inbox did since start, as plain numbers for the metrics. */
export interface InboxCounters {
  /** Push calls that stored something (idempotent replays excluded). */
  pushes: number;
  /** Notifications stored, one per addressed user. */
  notifications: number;
  /** Notifications published live on a user's channel (now, or when their send_after came). */
  deliveries: number;
}

/** Durable per-user notifications on top of the store and the realtime fan-out. */
export class Inbox {
  readonly counters: InboxCounters = { pushes: 0, notifications: 0, deliveries: 0 };

  private listeners: InboxListener[] = [];

  constructor(private readonly deps: InboxDeps) {}

  /** Adds a listener of inbox events; returns a function that removes it. */
  listen(listener: InboxListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  get store(): InboxStore {
    return this.deps.store;
  }

  /** Stores a push (durably), then delivers what is visible now to each user's channel. */
  async push(app: App, request: PushRequest, senderId: string | null): Promise<PushResult> {
    const now = new Date(this.deps.now());
    const result = await this.deps.store.push(
      app.id,
      request.userIds,
      { ...request.notification, senderId },
      request.idempotencyKey,
      now,
      pushJobOf(app, request, now),
    );
    if (!result.replayed) {
      this.counters.pushes++;
      this.counters.notifications += result.rows.length;
    }
    // The answer goes out first: delivering to thousands of users takes longer than storing.
    if (result.visible.length > 0) setImmediate(() => this.deliver(result.visible, true));
    return result;
  }

  /**
   * Publishes newly visible notifications on their users' inbox channels (live, at-most-once).
   * `onePush`: the rows are the same notification (one push), so it is serialised once.
   */
  deliver(rows: readonly StoredNotification[], onePush = false): void {
    let frames: NotificationFrames | null = null;
    let app: App | undefined;
    for (const row of rows) {
      if (!onePush || app === undefined) app = this.deps.apps.findById(row.appId);
      if (!app) continue;
      const channel = liveInboxChannel(app, row.userId);
      if (channel === null) continue;
      if (!onePush || frames === null) frames = new NotificationFrames(app.inboxEventName, row);
      const seq = row.seq;
      const shared = frames;
      this.deps.realtime.publishFrame(app, channel, app.inboxEventName, shared.frame(channel, seq), () => shared.data(seq));
      this.counters.deliveries++;
    }
  }

  list(app: App, userId: string, query: ListQuery): Promise<ListResult> {
    return this.deps.store.list(app.id, userId, query);
  }

  count(app: App, userId: string): Promise<Counts> {
    return this.deps.store.count(app.id, userId);
  }

  get(app: App, userId: string, id: string): Promise<StoredNotification | null> {
    return this.deps.store.get(app.id, userId, id);
  }

  /** Opens notifications and tells every device of the user the new unread count. */
  async open(app: App, userId: string, ids: readonly string[] | 'all'): Promise<{ opened: string[]; counts: Counts }> {
    const openedAt = new Date(this.deps.now());
    const result = await this.deps.store.open(app.id, userId, ids, openedAt);
    if (result.opened.length > 0 || ids === 'all') {
      this.publishState(app, userId, OPENED_EVENT, {
        ids: ids === 'all' ? [] : result.opened,
        all: ids === 'all',
        unread: result.counts.unread,
        total: result.counts.total,
        last_seq: result.counts.lastSeq,
        opened_at: openedAt.toISOString(),
      });
    }
    if (result.opened.length > 0) this.emit({ type: 'notification_opened', app, userId, ids: result.opened, all: ids === 'all' });
    return result;
  }

  /** Deletes a notification; tells every device. Returns null when there was none. */
  async delete(app: App, userId: string, id: string): Promise<Counts | null> {
    const counts = await this.deps.store.delete(app.id, userId, id);
    if (counts) {
      this.publishState(app, userId, DELETED_EVENT, { id, unread: counts.unread, total: counts.total, last_seq: counts.lastSeq });
      this.emit({ type: 'notification_deleted', app, userId, id });
    }
    return counts;
  }

  /** Records a button press (and reports it to listeners). */
  async recordAction(app: App, userId: string, id: string, buttonId: string): Promise<boolean> {
    const recorded = await this.deps.store.recordAction(app.id, userId, id, buttonId, new Date(this.deps.now()));
    if (recorded) this.emit({ type: 'notification_action', app, userId, id, buttonId });
    return recorded;
  }

  /** Reports an event that happened outside the inbox's own calls (a push outcome) to its listeners. */
  report(event: PushOutcomeEvent): void {
    this.emit(event);
  }

  /** A listener's exception is logged, never propagated to the request that caused the event. */
  private emit(event: InboxEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.deps.logger.error({ err: error }, 'inbox event listener failed');
      }
    }
  }

  private publishState(app: App, userId: string, event: string, data: unknown): void {
    const channel = liveInboxChannel(app, userId);
    if (channel === null) return;
    this.deps.realtime.publish(app, channel, event, JSON.stringify(data), null);
  }
}

/** The push job of a push: its rule over the app's default, due at `send_after` (or now) plus the delay; null for `never`. */
function pushJobOf(app: App, request: PushRequest, now: Date): PushJobSpec | null {
  const rule = resolvePushRule(app.push.defaultRule, request.push);
  if (rule.policy === 'never') return null;
  const visibleAt = Math.max(now.getTime(), request.notification.sendAfter?.getTime() ?? 0);
  return { dueAt: new Date(visibleAt + rule.delaySeconds * 1000), policy: rule.policy, ttlSeconds: rule.ttlSeconds, urgency: rule.urgency };
}
