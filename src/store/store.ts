/**
 * The inbox store: durable, per-user notifications. Implemented by SQLite (embedded default)
 * and PostgreSQL. Nothing above this interface writes SQL.
 *
 * Contract every implementation keeps:
 * - A write resolves only after it is durably committed.
 * - `seq` is per (app, user): assigned when a notification becomes visible (at push, or when a
 *   scheduled one falls due), strictly increasing in commit order, so a reader that has seen
 *   `seq = n` and later asks for `after_seq = n` can never miss a row committed after it.
 * - Scheduled notifications (`sendAfter` in the future) have `seq = null` and are invisible to
 *   list, count, open, delete and action until released.
 * - An idempotency key is unique per app and sender (the backend, or the user of a client push):
 *   a second insert with it from the same sender stores nothing and returns the first result,
 *   for 24 hours. Another sender's key of the same text is another key.
 * - `changeSeq` is per (app, user) like `seq`: every change to a user's inbox (new, collapsed,
 *   seen, opened, unopened, archived, snoozed, resurfaced, actioned, deleted, expired) takes the
 *   next one, gapless and in commit order, across every node sharing the database. A notification
 *   keeps the `changeSeq` of its newest change; a deleted or expired one leaves a tombstone.
 * - Live = visible, not archived, not snoozed (`snoozedUntil` null or past), not expired
 *   (`expiresAt` null or future), all judged at the `now` a call passes. Counts count live ones.
 */
import type { PushJobSpec, PushStore } from './push-store.js';

/** How long a store waits on its database server (PostgreSQL; SQLite is in-process). */
export interface DatabaseTimeouts {
  /** For a connection: a free one of the pool, or a new one to be established. */
  readonly connectTimeoutMs: number;
  /** For one statement (lock waits included); the server cancels it, and the client gives up shortly after. */
  readonly statementTimeoutMs: number;
}

/** Production defaults: a database that does not answer fails a request within seconds, not minutes. */
export const defaultDatabaseTimeouts: DatabaseTimeouts = { connectTimeoutMs: 5_000, statementTimeoutMs: 10_000 };

/** Importance of a notification. */
export type Priority = 'low' | 'normal' | 'high' | 'critical';
export const PRIORITIES: readonly Priority[] = ['low', 'normal', 'high', 'critical'];

/** Which notifications a list, count, view or bulk action is about (design.md §5). Absent keys do not filter. */
export interface InboxFilter {
  /** unseen: not seen; unread: not opened; read: opened; all (default). */
  readonly status?: 'unseen' | 'unread' | 'read' | 'all';
  /** Default exclude. */
  readonly archived?: 'exclude' | 'include' | 'only';
  /** Default exclude: snoozed means `snoozedUntil` in the future. */
  readonly snoozed?: 'exclude' | 'include' | 'only';
  readonly category?: readonly string[];
  /** Any of these tags. */
  readonly tags?: readonly string[];
  readonly tenant?: string;
  readonly priority?: readonly Priority[];
}

/** A state change a bulk action makes. */
export type BulkAction = 'seen' | 'open' | 'unopen' | 'archive' | 'unarchive' | 'snooze' | 'unsnooze' | 'delete';
export const BULK_ACTIONS: readonly BulkAction[] = ['seen', 'open', 'unopen', 'archive', 'unarchive', 'snooze', 'unsnooze', 'delete'];

/** What a bulk action applies to: `ids`, or a filter (the whole live inbox when neither), up to a seq. */
export interface BulkTarget {
  readonly ids?: readonly string[];
  readonly filter?: InboxFilter;
  /** Leaves notifications with a greater seq alone. */
  readonly upToSeq?: number;
  /** The end of a snooze (action `snooze` only). */
  readonly until?: Date;
}

/** One entry of the change feed: the newest state of a notification, or its removal. */
export interface InboxChange {
  readonly changeSeq: number;
  readonly id: string;
  readonly deleted: boolean;
  /** Why it left: deleted by a user, or expired. Null while it exists. */
  readonly reason: 'deleted' | 'expired' | null;
  readonly notification: StoredNotification | null;
}

/** What a bulk action did. */
export interface BulkResult {
  /** The changed notifications (their newest state, or tombstones), in change order. */
  readonly changes: readonly InboxChange[];
  /** Live counts of the whole inbox after the action. */
  readonly counts: Counts;
  /** The user's newest change_seq after the action. */
  readonly changeSeq: number;
}

/** A page of the change feed, or `resync` when the cursor is older than what is kept (or unknown). */
export type ChangesPage =
  | { readonly kind: 'page'; readonly changes: readonly InboxChange[]; readonly hasMore: boolean; readonly changeSeq: number }
  | { readonly kind: 'resync' };

/** A notification that expired, as the sweep removed it. */
export interface ExpiredNotification {
  readonly appId: string;
  readonly userId: string;
  readonly id: string;
  readonly changeSeq: number;
}

/** Counts of one view. */
export interface ViewCounts {
  readonly unseen: number;
  readonly unread: number;
  readonly total: number;
}

/** A button of a notification. */
export interface NotificationButton {
  readonly id: string;
  readonly text: string;
  readonly icon: string | null;
}

/** What a push stores, validated. */
export interface NotificationInput {
  /** Caller-chosen id; generated by the caller (inbox) when absent. Same id for every recipient. */
  readonly id: string;
  readonly heading: string | null;
  readonly content: string;
  readonly payload: unknown;
  readonly imageUrl: string | null;
  /** When it becomes visible; null means at once. */
  readonly sendAfter: Date | null;
  readonly buttons: readonly NotificationButton[];
  /** User id of the sender when pushed with a user token; null for the app's backend. */
  readonly senderId: string | null;
  /** Inbox v2 fields; absent means the default (null, [], 'normal', 1). */
  readonly category?: string | null;
  readonly tags?: readonly string[];
  readonly priority?: Priority;
  readonly tenant?: string | null;
  readonly expiresAt?: Date | null;
  readonly collapseKey?: string | null;
}

/** A stored notification of one user. */
export interface StoredNotification {
  readonly appId: string;
  readonly userId: string;
  readonly id: string;
  /** Null while scheduled and invisible. */
  readonly seq: number | null;
  readonly heading: string | null;
  readonly content: string;
  readonly payload: unknown;
  readonly imageUrl: string | null;
  readonly sendAfter: Date | null;
  readonly buttons: readonly NotificationButton[];
  readonly senderId: string | null;
  readonly opened: boolean;
  readonly openedAt: Date | null;
  readonly createdAt: Date;
  readonly category: string | null;
  readonly tags: readonly string[];
  readonly priority: Priority;
  readonly tenant: string | null;
  readonly seen: boolean;
  readonly seenAt: Date | null;
  readonly archived: boolean;
  readonly archivedAt: Date | null;
  readonly snoozedUntil: Date | null;
  readonly expiresAt: Date | null;
  readonly actioned: { readonly buttonId: string; readonly at: Date } | null;
  readonly collapseKey: string | null;
  readonly collapsedCount: number;
  /** The change_seq of its newest change; null while scheduled. */
  readonly changeSeq: number | null;
}

/** One recipient's row in a push result. */
export interface PushedRow {
  readonly id: string;
  readonly userId: string;
  /** Null when scheduled. */
  readonly seq: number | null;
}

/** The result of a push. */
export interface PushResult {
  readonly rows: readonly PushedRow[];
  /** True when an earlier push with the same idempotency key answered instead; nothing was stored. */
  readonly replayed: boolean;
  /** The stored notifications that are visible now (empty when replayed or scheduled). */
  readonly visible: readonly StoredNotification[];
}

/** Paging of a user's list. */
export interface ListQuery {
  /** Newest first, older than this seq. */
  readonly beforeSeq?: number;
  /** Oldest first, newer than this seq (catch-up). Exclusive with beforeSeq. */
  readonly afterSeq?: number;
  readonly limit: number;
  readonly unreadOnly: boolean;
  /** Which notifications (default: live ones). */
  readonly filter?: InboxFilter;
  /** The time snooze and expiry are judged at (default: the wall clock). */
  readonly now?: Date;
}

export interface ListResult {
  readonly notifications: readonly StoredNotification[];
  readonly hasMore: boolean;
}

export interface Counts {
  readonly unseen: number;
  readonly unread: number;
  readonly total: number;
  /**
   * The user's newest seq when counted (0 before the first). Read in the same snapshot as the
   * counts, so a client knows which notifications the counts already include.
   */
  readonly lastSeq: number;
}

/** The durable inbox store (which also keeps the webhook outbox, in the same database). */
export interface InboxStore {
  /** The durable webhook outbox kept in the same database. */
  readonly outbox: WebhookOutbox;
  /** Devices, preferences and the push outbox (design.md §6), in the same database. */
  readonly offline: PushStore;

  /** Applies pending migrations; safe to call on every start. */
  migrate(): Promise<void>;
  /** Whether the database answers (for `/ready`). */
  ping(): Promise<boolean>;
  close(): Promise<void>;

  /**
   * Stores one notification for each user, in one transaction. With an idempotency key seen in
   * the last 24 h, stores nothing and returns the first result with `replayed: true`.
   * Throws DuplicateNotificationError if the id already exists for one of the users.
   * With `pushJob`, the same transaction stores a push job for each user who has a device.
   */
  push(
    appId: string,
    userIds: readonly string[],
    input: NotificationInput,
    idempotencyKey: string | null,
    now: Date,
    pushJob?: PushJobSpec | null,
  ): Promise<PushResult>;

  /** Makes scheduled notifications due at `now` visible (assigning seq), at most `limit`; returns them. */
  releaseDue(now: Date, limit: number): Promise<StoredNotification[]>;
  /** The earliest `sendAfter` still scheduled, if any. */
  nextDueAt(): Promise<Date | null>;

  list(appId: string, userId: string, query: ListQuery): Promise<ListResult>;
  /** Counts of the notifications a filter selects (default: live ones) and the newest seq, in one snapshot. */
  count(appId: string, userId: string, filter?: InboxFilter, now?: Date): Promise<Counts>;
  /** Counts of several views and the newest seq, in one snapshot. */
  countViews(appId: string, userId: string, views: Readonly<Record<string, InboxFilter>>, now: Date): Promise<{ views: Record<string, ViewCounts>; lastSeq: number }>;
  /** Live counts of many users of an app (for the live events of a push). */
  countUsers(appId: string, userIds: readonly string[], now: Date): Promise<Map<string, Counts>>;
  /** A visible notification, or null. */
  get(appId: string, userId: string, id: string): Promise<StoredNotification | null>;
  /** Marks visible notifications opened (and seen); returns the ids that changed (were unread) and the new counts. */
  open(appId: string, userId: string, ids: readonly string[] | 'all', now: Date): Promise<{ opened: string[]; counts: Counts }>;
  /** Deletes a visible notification; returns null if there was none, else the new counts. */
  delete(appId: string, userId: string, id: string): Promise<Counts | null>;
  /** Applies a state change to the notifications a target selects that it changes; each takes a change_seq. */
  bulk(appId: string, userId: string, action: BulkAction, target: BulkTarget, now: Date): Promise<BulkResult>;
  /** Records a button press on a visible notification (its `actioned`); null if the notification is unknown. */
  recordAction(appId: string, userId: string, id: string, buttonId: string, now: Date): Promise<BulkResult | null>;
  /** The changes after `afterChangeSeq`, oldest first, at most `limit`; null: none, just the current change_seq. */
  changes(appId: string, userId: string, afterChangeSeq: number | null, limit: number, now: Date): Promise<ChangesPage>;
  /** Makes snoozed notifications whose snooze ended by `now` live again with a new seq, at most `limit`. */
  resurfaceDue(now: Date, limit: number): Promise<StoredNotification[]>;
  /** Removes notifications expired by `now` (visible ones leave a tombstone change), at most `limit`. */
  expireDue(now: Date, limit: number): Promise<ExpiredNotification[]>;
  /** Forgets tombstones older than `before`; a change cursor older than one forgotten answers resync. */
  pruneChanges(before: Date): Promise<void>;
  /** Removes idempotency keys older than `before`. */
  pruneIdempotencyKeys(before: Date): Promise<void>;
}

/** The idempotency-key namespace of a push: '' for the app's backend, the user id for a client push. */
export function keySender(input: NotificationInput): string {
  return input.senderId ?? '';
}

/** A push named a notification id that one of the users already has. */
export class DuplicateNotificationError extends Error {
  constructor(readonly notificationId: string) {
    super(`notification id "${notificationId}" already exists for one of the users`);
    this.name = 'DuplicateNotificationError';
  }
}

/** A batch of webhook events to store in the outbox. */
export interface NewWebhookBatch {
  readonly appId: string;
  /** The webhook target (its URL): batches of one app and target are delivered in creation order. */
  readonly target: string;
  /** The exact JSON body to POST; it is signed as stored. */
  readonly body: string;
  readonly createdAt: Date;
  /** When the first attempt may be made. */
  readonly nextAttemptAt: Date;
}

/** A batch claimed from the outbox. */
export interface WebhookBatch extends NewWebhookBatch {
  readonly id: number;
  /** Failed attempts so far. */
  readonly attempts: number;
  readonly lastError: string | null;
  /** Proof of this claim, needed to reschedule or park the batch. */
  readonly lease: string;
}

/** Pending (waiting or being sent) and parked batches. */
export interface WebhookCounts {
  readonly pending: number;
  readonly parked: number;
}

/**
 * The durable webhook outbox: batches are written before they are sent and removed once delivered,
 * so delivery is at-least-once across restarts and crashes.
 *
 * Contract every implementation keeps:
 * - Ids grow in commit order, across every node sharing the database.
 * - A claim only returns the oldest unparked batch of each (app, target), and only when it is due
 *   and not leased: batch n+1 of a target is never handed out while batch n waits or is being sent.
 * - A claim is a lease until `leaseUntil`; concurrent claimers (nodes) never get the same batch
 *   while the lease holds, and a batch whose lease ran out (its sender crashed) is claimed again.
 * - Parked batches stay stored for inspection but are never claimed again.
 */
export interface WebhookOutbox {
  /** Stores batches durably, in the given order (which becomes their delivery order per target). */
  enqueueWebhooks(batches: readonly NewWebhookBatch[]): Promise<void>;
  /** Leases up to `limit` due batches until `leaseUntil`, oldest first, to `holder` (the claiming node's name). */
  claimWebhooks(now: Date, leaseUntil: Date, limit: number, holder: string): Promise<WebhookBatch[]>;
  /**
   * Ends every lease `holder` took, but those of the batches in `keep`, leaving those batches as
   * they were before the claim (same attempts, due at once if they were due). A node calls it as it
   * starts, for the batches it was sending when it died, and after a database outage, for claims
   * that may have committed without its knowing (`keep`: what it is still sending). Returns how
   * many leases it ended.
   */
  releaseWebhookLeases(holder: string, keep?: readonly number[]): Promise<number>;
  /** Removes a delivered batch. */
  completeWebhook(id: number): Promise<void>;
  /**
   * Ends a claim without delivery: the batch is due again at `nextAttemptAt`, with `attempts` and
   * `lastError` recorded. Returns false (and changes nothing) when the lease is no longer held.
   */
  rescheduleWebhook(id: number, lease: string, nextAttemptAt: Date, attempts: number, lastError: string | null): Promise<boolean>;
  /** Gives up on a claimed batch: kept and counted as parked, never claimed again. False when the lease is no longer held. */
  parkWebhook(id: number, lease: string, attempts: number, lastError: string, now: Date): Promise<boolean>;
  /** Pending and parked batches of one app, or of all apps. */
  countWebhooks(appId?: string): Promise<WebhookCounts>;
}
