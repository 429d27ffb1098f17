/**
 * Inbox v2 in the client: filters evaluated locally (design.md §5), and live, filtered views kept
 * current by the change feed of their InboxClient.
 */
import type { InboxApi } from './inbox-api.js';
import { mergeNotifications, type Notification } from './notifications.js';
import { ValueStream } from './streams.js';

/** Filter of a view; the same keys as the list route's query (design.md §5). */
export interface ViewFilter {
  status?: 'unseen' | 'unread' | 'read' | 'all';
  archived?: 'exclude' | 'include' | 'only';
  snoozed?: 'exclude' | 'include' | 'only';
  category?: readonly string[];
  tags?: readonly string[];
  tenant?: string;
  priority?: readonly ('low' | 'normal' | 'high' | 'critical')[];
}

/** Unseen, unread and total of the whole inbox or of a view. */
export interface InboxCounts {
  unseen: number;
  unread: number;
  total: number;
}

/** A live, filtered list over the same connection as its InboxClient. */
export interface InboxView {
  readonly filter: ViewFilter;
  /** Newest first. */
  readonly notifications: readonly Notification[];
  readonly notificationsStream: ValueStream<readonly Notification[]>;
  readonly counts: InboxCounts;
  readonly countsStream: ValueStream<InboxCounts>;
  readonly hasMore: boolean;
  /** Resolves after the first page and counts are loaded. */
  ready(): Promise<void>;
  loadMore(): Promise<void>;
  /** Stops updates; the InboxClient keeps running. */
  dispose(): void;
}

/** A notification with the v2 fields (older servers send none of them). */
type V2Notification = Notification & {
  seen?: boolean;
  archived?: boolean;
  snoozed_until?: string | null;
  expires_at?: string | null;
  category?: string | null;
  tags?: string[];
  tenant?: string | null;
  priority?: string;
};

/** The list route's query of a filter. */
export function filterQuery(filter: ViewFilter): URLSearchParams {
  const query = new URLSearchParams();
  if (filter.status) query.set('status', filter.status);
  if (filter.archived) query.set('archived', filter.archived);
  if (filter.snoozed) query.set('snoozed', filter.snoozed);
  if (filter.category) query.set('category', filter.category.join(','));
  if (filter.tags) query.set('tags', filter.tags.join(','));
  if (filter.tenant !== undefined) query.set('tenant', filter.tenant);
  if (filter.priority) query.set('priority', filter.priority.join(','));
  return query;
}

/** Whether a notification belongs in a view at `nowMs`, as the server decides it. */
export function matchesFilter(notification: Notification, filter: ViewFilter, nowMs: number): boolean {
  const n = notification as V2Notification;
  if (n.expires_at && Date.parse(n.expires_at) <= nowMs) return false;
  const archived = n.archived === true;
  if ((filter.archived ?? 'exclude') === 'exclude' && archived) return false;
  if (filter.archived === 'only' && !archived) return false;
  const snoozed = !!n.snoozed_until && Date.parse(n.snoozed_until) > nowMs;
  if ((filter.snoozed ?? 'exclude') === 'exclude' && snoozed) return false;
  if (filter.snoozed === 'only' && !snoozed) return false;
  const seen = n.seen === true || n.opened;
  if (filter.status === 'unseen' && seen) return false;
  if (filter.status === 'unread' && n.opened) return false;
  if (filter.status === 'read' && !n.opened) return false;
  if (filter.category && !filter.category.includes(n.category ?? '\u0000')) return false;
  if (filter.tags && !(n.tags ?? []).some((tag) => filter.tags!.includes(tag))) return false;
  if (filter.tenant !== undefined && n.tenant !== filter.tenant) return false;
  if (filter.priority && !(filter.priority as readonly string[]).includes(n.priority ?? 'normal')) return false;
  return true;
}

/** One change of the feed, as a view applies it. */
export interface AppliedChange {
  readonly id: string;
  /** The newest state, or null when the notification is gone. */
  readonly notification: Notification | null;
}

/** Applies changes to a list held for a filter: updated in place, added if it now matches, removed if gone or not matching. */
export function applyChanges(list: readonly Notification[], changes: readonly AppliedChange[], filter: ViewFilter, nowMs: number, complete: boolean): Notification[] {
  let next = [...list];
  for (const change of changes) {
    next = next.filter((n) => n.id !== change.id);
    const n = change.notification;
    if (!n || !matchesFilter(n, filter, nowMs)) continue;
    // A page that is not complete holds only the newest: an older notification belongs to a later loadMore().
    const oldest = next[next.length - 1];
    if (!complete && oldest && n.seq < oldest.seq) continue;
    next = mergeNotifications(next, [n]);
  }
  return next;
}

/** Where a view's live updates come from: its InboxClient. */
export interface ViewHost {
  readonly api: InboxApi;
  readonly pageSize: number;
  now(): number;
  report(error: unknown): void;
  detach(view: LiveView): void;
  /** Resolves once the client holds its change cursor, so a page loaded after it misses no change. */
  cursor(): Promise<void>;
}

/** An InboxView: loads its first page and counts, then follows the client's changes. */
export class LiveView implements InboxView {
  readonly notificationsStream: ValueStream<readonly Notification[]>;
  readonly countsStream: ValueStream<InboxCounts>;
  private more = false;
  private disposed = false;
  private readonly loading: Promise<void>;

  constructor(
    readonly filter: ViewFilter,
    private readonly host: ViewHost,
  ) {
    const report = (error: unknown) => host.report(error);
    this.notificationsStream = new ValueStream<readonly Notification[]>([], report);
    this.countsStream = new ValueStream<InboxCounts>({ unseen: 0, unread: 0, total: 0 }, report);
    this.loading = this.load();
    this.loading.catch((error: unknown) => host.report(error));
  }

  get notifications(): readonly Notification[] {
    return this.notificationsStream.value;
  }

  get counts(): InboxCounts {
    return this.countsStream.value;
  }

  get hasMore(): boolean {
    return this.more;
  }

  ready(): Promise<void> {
    return this.loading;
  }

  async loadMore(): Promise<void> {
    if (this.disposed) return;
    const oldest = this.notifications[this.notifications.length - 1];
    const page = await this.host.api.listFiltered(filterQuery(this.filter), this.host.pageSize, oldest?.seq);
    if (this.disposed) return;
    this.more = page.has_more;
    this.notificationsStream.set(mergeNotifications(this.notifications, page.notifications));
  }

  /** Applies changes of the feed; the counts come from `refreshCounts`. */
  apply(changes: readonly AppliedChange[]): void {
    if (this.disposed) return;
    this.notificationsStream.set(applyChanges(this.notifications, changes, this.filter, this.host.now(), !this.more));
  }

  setCounts(counts: InboxCounts): void {
    if (!this.disposed) this.countsStream.set({ unseen: counts.unseen, unread: counts.unread, total: counts.total });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.host.detach(this);
    this.notificationsStream.close();
    this.countsStream.close();
  }

  private async load(): Promise<void> {
    await this.host.cursor();
    const query = filterQuery(this.filter);
    const [page, counts] = await Promise.all([this.host.api.listFiltered(query, this.host.pageSize), this.host.api.countFiltered(query)]);
    if (this.disposed) return;
    this.more = page.has_more;
    this.notificationsStream.set(mergeNotifications(this.notifications, page.notifications));
    this.setCounts(counts);
  }
}
