/** The notification type of the client SDK and the pure merge that keeps a list gapless and unique. */

/** A button of a notification. */
export interface NotificationButton {
  readonly id: string;
  readonly text: string;
  readonly icon: string | null;
}

/** A notification, as the server sends it. */
export interface Notification {
  readonly id: string;
  readonly heading: string | null;
  readonly content: string;
  readonly payload: unknown;
  readonly image_url: string | null;
  readonly send_after: string | null;
  readonly opened: boolean;
  readonly buttons: readonly NotificationButton[];
  readonly created_at: string;
  readonly opened_at: string | null;
  /** Per-user cursor: strictly increasing in the order notifications became visible. */
  readonly seq: number;
  readonly sender_id: string | null;
}

/** What `push` sends: the fields a user sets. Herald names client-pushed notifications, so there is no `id`. */
export interface NewNotification {
  readonly heading?: string | null;
  readonly content: string;
  readonly payload?: unknown;
  readonly image_url?: string | null;
  readonly send_after?: string | null;
  readonly buttons?: readonly { readonly id: string; readonly text: string; readonly icon?: string | null }[];
}

/** Whether a value looks like a notification (live events come from the network). */
export function isNotification(value: unknown): value is Notification {
  if (typeof value !== 'object' || value === null) return false;
  const n = value as Record<string, unknown>;
  return typeof n.id === 'string' && typeof n.content === 'string' && typeof n.seq === 'number' && typeof n.opened === 'boolean';
}

/**
 * Merges incoming notifications into a list by id (incoming wins, except that an opened
 * notification never turns unread again), newest first by seq.
 */
export function mergeNotifications(current: readonly Notification[], incoming: readonly Notification[]): Notification[] {
  if (incoming.length === 0) return current as Notification[];
  const byId = new Map<string, Notification>();
  for (const n of current) byId.set(n.id, n);
  for (const n of incoming) {
    const known = byId.get(n.id);
    byId.set(n.id, known?.opened && !n.opened ? { ...n, opened: true, opened_at: known.opened_at } : n);
  }
  return [...byId.values()].sort((a, b) => b.seq - a.seq);
}

/** Marks notifications opened (all when `ids` is 'all'); returns the new list and how many changed. */
export function markOpenedIn(list: readonly Notification[], ids: ReadonlySet<string> | 'all', openedAt: string): { list: Notification[]; changed: string[] } {
  const changed: string[] = [];
  const next = list.map((n) => {
    if (n.opened || (ids !== 'all' && !ids.has(n.id))) return n;
    changed.push(n.id);
    return { ...n, opened: true, opened_at: openedAt };
  });
  return { list: changed.length > 0 ? next : (list as Notification[]), changed };
}

/** Marks notifications unread again (rollback of an optimistic open). */
export function markUnreadIn(list: readonly Notification[], ids: ReadonlySet<string>): Notification[] {
  return list.map((n) => (ids.has(n.id) && n.opened ? { ...n, opened: false, opened_at: null } : n));
}

/**
 * Takes the server's current newest page into a list: its notifications' state wins (an opened
 * one is never made unread), and a held notification the page should contain but does not was
 * deleted. `hasMore` false means the page is everything the user has.
 */
export function reconcileWithNewest(list: readonly Notification[], newest: readonly Notification[], hasMore: boolean): Notification[] {
  const present = new Set(newest.map((n) => n.id));
  const last = newest[newest.length - 1];
  const oldest = hasMore ? (last?.seq ?? Infinity) : -Infinity;
  return mergeNotifications(
    list.filter((n) => n.seq < oldest || present.has(n.id)),
    newest,
  );
}
