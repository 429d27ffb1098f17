/** The inbox: stores notifications before delivering them, and keeps every device's state in sync. */
import type { Logger } from 'pino';
import { liveInboxChannel, type App, type AppRegistry } from '../config/apps.js';
import type { Realtime } from '../realtime/realtime.js';
import { resolvePushRule } from '../push/rule.js';
import type { DeviceKind, PushJobSpec } from '../store/push-store.js';
import type {
  BulkAction,
  BulkResult,
  BulkTarget,
  ChangesPage,
  Counts,
  ExpiredNotification,
  InboxFilter,
  InboxStore,
  ListQuery,
  ListResult,
  PushResult,
  StoredNotification,
  ViewCounts,
} from '../store/store.js';
import { NotificationFrames } from './notification-frames.js';
import type { PushRequest } from './push-request.js';

/** Event sent on a user's channel when notifications are opened: `{ ids, all, unread, total, last_seq, opened_at }`. */
export const OPENED_EVENT = 'herald:notifications_opened';
/** Event sent on a user's channel when a notification is deleted: `{ id, unread, total, last_seq }`. */
export const DELETED_EVENT = 'herald:notification_deleted';

/** Event sent on a user's channel after every change: `{ change_seq, ids, counts: { unseen, unread, total, last_seq } }`. */
export const INBOX_CHANGED_EVENT = 'herald:inbox_changed';
/** How many users' counts one query reads for the live events of a push. */
const COUNT_BATCH = 1000;

/** A row to deliver, with the user's inbox channel. */
interface LiveRow {
  readonly row: StoredNotification;
  readonly channel: string;
}

/** A change a user made to their inbox (or time made), reported to listeners (webhooks) after it is stored. */
export type InboxEvent =
  | { readonly type: 'notification_opened'; readonly app: App; readonly userId: string; readonly ids: readonly string[]; readonly all: boolean }
  | { readonly type: 'notification_action'; readonly app: App; readonly userId: string; readonly id: string; readonly buttonId: string }
  | { readonly type: 'notification_deleted'; readonly app: App; readonly userId: string; readonly id: string }
  | { readonly type: 'notification_seen'; readonly app: App; readonly userId: string; readonly ids: readonly string[] }
  | { readonly type: 'notification_archived'; readonly app: App; readonly userId: string; readonly ids: readonly string[] }
  | { readonly type: 'notification_snoozed'; readonly app: App; readonly userId: string; readonly ids: readonly string[]; readonly until: string }
  | { readonly type: 'notification_expired'; readonly app: App; readonly userId: string; readonly ids: readonly string[] }
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

/** The counts of the §3 state events, exactly as before v2 (the v2 counts ride on `herald:inbox_changed`). */
function seedCounts(counts: Counts): { unread: number; total: number; last_seq: number } {
  return { unread: counts.unread, total: counts.total, last_seq: counts.lastSeq };
}

/** The counts of a live event or an answer, in their JSON shape. */
export function countsJson(counts: Counts): { unseen: number; unread: number; total: number; last_seq: number } {
  return { unseen: counts.unseen, unread: counts.unread, total: counts.total, last_seq: counts.lastSeq };
}

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

  /** The inbox's clock (epoch ms). */
  now(): number {
    return this.deps.now();
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
    // Collapsed rows differ per user (id, content of their own, count): those are serialised each.
    const onePush = result.visible.every((row) => row.collapsedCount === 1);
    if (result.visible.length > 0) setImmediate(() => void this.deliver(result.visible, onePush));
    return result;
  }

  /**
   * Publishes newly visible (pushed, released, collapsed, resurfaced) notifications on their users'
   * inbox channels (live, at-most-once), then each user's `herald:inbox_changed` with fresh counts.
   * The notifications go out at once, in order; the counts are read after, in batches, so a slow
   * database never holds a notification back. (On SQLite the counts come before the writes are
   * flushed, so both events still leave in one write.)
   * `onePush`: the rows are the same notification (one push, none collapsed), so it is serialised once.
   */
  deliver(rows: readonly StoredNotification[], onePush = false): Promise<void> {
    let frames: NotificationFrames | null = null;
    let app: App | undefined;
    /** The delivered rows of each app, for their change events. */
    const delivered = new Map<App, LiveRow[]>();
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
      const ofApp = delivered.get(app);
      if (ofApp) ofApp.push({ row, channel });
      else delivered.set(app, [{ row, channel }]);
    }
    return delivered.size > 0 ? this.announceDelivered(delivered) : Promise.resolve();
  }

  /** The change events of delivered rows: counts read in batches after the notifications went out. */
  private async announceDelivered(delivered: ReadonlyMap<App, readonly LiveRow[]>): Promise<void> {
    try {
      for (const [app, live] of delivered) {
        for (let i = 0; i < live.length; i += COUNT_BATCH) {
          const batch = live.slice(i, i + COUNT_BATCH);
          const counts = await this.deps.store.countUsers(app.id, batch.map(({ row }) => row.userId), new Date(this.deps.now()));
          for (const { row, channel } of batch) {
            const userCounts = counts.get(row.userId);
            if (userCounts && row.changeSeq !== null) this.publishChangedOn(app, channel, row.changeSeq, [row.id], userCounts);
          }
        }
      }
    } catch (error) {
      this.deps.logger.error({ err: error }, 'inbox change events of a delivery failed');
    }
  }

  list(app: App, userId: string, query: ListQuery): Promise<ListResult> {
    return this.deps.store.list(app.id, userId, { ...query, now: new Date(this.deps.now()) });
  }

  count(app: App, userId: string, filter: InboxFilter = {}): Promise<Counts> {
    return this.deps.store.count(app.id, userId, filter, new Date(this.deps.now()));
  }

  countViews(app: App, userId: string, views: Readonly<Record<string, InboxFilter>>): Promise<{ views: Record<string, ViewCounts>; lastSeq: number }> {
    return this.deps.store.countViews(app.id, userId, views, new Date(this.deps.now()));
  }

  changes(app: App, userId: string, afterChangeSeq: number | null, limit: number): Promise<ChangesPage> {
    return this.deps.store.changes(app.id, userId, afterChangeSeq, limit, new Date(this.deps.now()));
  }

  /** Applies a bulk action; tells every device (state events, `herald:inbox_changed`) and the listeners. */
  async bulk(app: App, userId: string, action: BulkAction, target: BulkTarget): Promise<BulkResult> {
    const now = new Date(this.deps.now());
    const result = await this.deps.store.bulk(app.id, userId, action, target, now);
    const ids = result.changes.map((change) => change.id);
    if (ids.length === 0) return result;
    const counts = result.counts;
    switch (action) {
      case 'open':
        this.publishState(app, userId, OPENED_EVENT, { ids, all: false, ...seedCounts(counts), opened_at: now.toISOString() });
        this.emit({ type: 'notification_opened', app, userId, ids, all: false });
        break;
      case 'delete':
        for (const id of ids) {
          this.publishState(app, userId, DELETED_EVENT, { id, ...seedCounts(counts) });
          this.emit({ type: 'notification_deleted', app, userId, id });
        }
        break;
      case 'seen':
        this.emit({ type: 'notification_seen', app, userId, ids });
        break;
      case 'archive':
        this.emit({ type: 'notification_archived', app, userId, ids });
        break;
      case 'snooze':
        this.emit({ type: 'notification_snoozed', app, userId, ids, until: target.until!.toISOString() });
        break;
      default:
        break;
    }
    this.publishChanged(app, userId, result.changeSeq, ids, counts);
    return result;
  }

  /** Tells the devices and listeners of notifications the sweep removed as expired. */
  announceExpired(expired: readonly ExpiredNotification[]): void {
    const byUser = new Map<string, ExpiredNotification[]>();
    for (const row of expired) {
      const key = JSON.stringify([row.appId, row.userId]);
      byUser.set(key, [...(byUser.get(key) ?? []), row]);
    }
    void (async () => {
      for (const rows of byUser.values()) {
        const app = this.deps.apps.findById(rows[0].appId);
        if (!app) continue;
        const userId = rows[0].userId;
        const ids = rows.map((row) => row.id);
        this.emit({ type: 'notification_expired', app, userId, ids });
        if (liveInboxChannel(app, userId) === null) continue;
        const counts = await this.count(app, userId);
        this.publishChanged(app, userId, Math.max(...rows.map((row) => row.changeSeq)), ids, counts);
      }
    })().catch((error: unknown) => this.deps.logger.error({ err: error }, 'inbox expiry events failed'));
  }

  get(app: App, userId: string, id: string): Promise<StoredNotification | null> {
    return this.deps.store.get(app.id, userId, id);
  }

  /** Opens notifications (and so sees them) and tells every device of the user the new counts. */
  async open(app: App, userId: string, ids: readonly string[] | 'all'): Promise<{ opened: string[]; counts: Counts }> {
    const openedAt = new Date(this.deps.now());
    const target: BulkTarget = ids === 'all' ? { filter: { archived: 'include', snoozed: 'include' } } : { ids: [...new Set(ids)] };
    const result = await this.deps.store.bulk(app.id, userId, 'open', target, openedAt);
    const changed = new Set(result.changes.map((change) => change.id));
    const opened = ids === 'all' ? result.changes.map((change) => change.id) : [...new Set(ids)].filter((id) => changed.has(id));
    if (opened.length > 0 || ids === 'all') {
      this.publishState(app, userId, OPENED_EVENT, {
        ids: ids === 'all' ? [] : opened,
        all: ids === 'all',
        ...seedCounts(result.counts),
        opened_at: openedAt.toISOString(),
      });
    }
    if (opened.length > 0) {
      this.emit({ type: 'notification_opened', app, userId, ids: opened, all: ids === 'all' });
      this.publishChanged(app, userId, result.changeSeq, result.changes.map((change) => change.id), result.counts);
    }
    return { opened, counts: result.counts };
  }

  /** Deletes a notification; tells every device. Returns null when there was none. */
  async delete(app: App, userId: string, id: string): Promise<Counts | null> {
    const result = await this.bulk(app, userId, 'delete', { ids: [id] });
    return result.changes.length === 0 ? null : result.counts;
  }

  /** Records a button press (the notification's `actioned`; reported to listeners and devices). */
  async recordAction(app: App, userId: string, id: string, buttonId: string): Promise<boolean> {
    const result = await this.deps.store.recordAction(app.id, userId, id, buttonId, new Date(this.deps.now()));
    if (!result) return false;
    this.emit({ type: 'notification_action', app, userId, id, buttonId });
    this.publishChanged(app, userId, result.changeSeq, [id], result.counts);
    return true;
  }

  private publishChanged(app: App, userId: string, changeSeq: number, ids: readonly string[], counts: Counts): void {
    const channel = liveInboxChannel(app, userId);
    if (channel !== null) this.publishChangedOn(app, channel, changeSeq, ids, counts);
  }

  /** `herald:inbox_changed` on a user's inbox channel, already looked up. */
  private publishChangedOn(app: App, channel: string, changeSeq: number, ids: readonly string[], counts: Counts): void {
    this.deps.realtime.publish(app, channel, INBOX_CHANGED_EVENT, JSON.stringify({ change_seq: changeSeq, ids, counts: countsJson(counts) }), null);
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
