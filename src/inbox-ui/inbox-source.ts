/**
 * What the inbox UI needs of an InboxClient: the seed API every client has, and the inbox v2 API
 * (views, counts, seen, archive, snooze; CLIENT-V2 of issue 15) used when the client offers it.
 */
import type { InboxClient, Notification } from '../client/index.js';
import type { ValueStream } from '../client/streams.js';

/** Filter of a view: the list route's query keys (design.md §5). */
export interface ViewFilter {
  readonly status?: 'unseen' | 'unread' | 'read' | 'all';
  readonly archived?: 'exclude' | 'include' | 'only';
  readonly snoozed?: 'exclude' | 'include' | 'only';
  readonly category?: readonly string[];
  readonly tags?: readonly string[];
  readonly tenant?: string;
  readonly priority?: readonly ('low' | 'normal' | 'high' | 'critical')[];
}

/** Unseen, unread and total of the whole inbox or of a view. */
export interface InboxCounts {
  readonly unseen: number;
  readonly unread: number;
  readonly total: number;
}

/** A notification with the v2 state fields when the server sends them. */
export type UiNotification = Notification & {
  readonly seen?: boolean;
  readonly archived?: boolean;
  readonly snoozed_until?: string | null;
  readonly category?: string | null;
};

/** A live, filtered list: an InboxView of the v2 client, or the whole inbox of a seed client. */
export interface FeedSource {
  readonly notificationsStream: ValueStream<readonly UiNotification[]>;
  readonly hasMore: boolean;
  ready(): Promise<void>;
  loadMore(): Promise<void>;
  dispose(): void;
}

/** The v2 additions of InboxClient the UI uses. */
export interface InboxV2 {
  view(filter?: ViewFilter): FeedSource;
  counts(views: Record<string, ViewFilter>): Promise<{ views: Record<string, InboxCounts>; last_seq: number }>;
  readonly countsStream: ValueStream<InboxCounts>;
  markSeen(ids: readonly string[]): Promise<void>;
  archive(ids: readonly string[]): Promise<void>;
  unarchive(ids: readonly string[]): Promise<void>;
  snooze(ids: readonly string[], until: Date | string): Promise<void>;
  markAllOpened(filter?: ViewFilter): Promise<void>;
}

/** A tab of the feed: a named view. */
export interface InboxTab {
  readonly id: string;
  /** Shown as is; without it the built-in tabs `all`, `unread` and `archived` use the catalog's words. */
  readonly label?: string;
  readonly filter: ViewFilter;
}

/** The tabs shown when the app names none (v2 clients only; a seed client has one list). */
export const DEFAULT_TABS: readonly InboxTab[] = [
  { id: 'all', filter: {} },
  { id: 'unread', filter: { status: 'unread' } },
  { id: 'archived', filter: { archived: 'only' } },
];

/** Whether a client has the v2 API (views, counts, seen, archive, snooze). */
export function supportsViews(client: InboxClient): client is InboxClient & InboxV2 {
  const candidate = client as Partial<InboxV2>;
  return typeof candidate.view === 'function' && typeof candidate.counts === 'function' && candidate.countsStream !== undefined;
}

/** The one feed of a seed client: its whole inbox (disposing it leaves the client running). */
export function wholeInbox(client: InboxClient): FeedSource {
  return {
    notificationsStream: client.notificationsStream,
    get hasMore() {
      return client.hasMore;
    },
    ready: () => client.init(),
    loadMore: () => client.loadMore(),
    dispose: () => undefined,
  };
}

/** The feed of a tab: a view of a v2 client, else the whole inbox. */
export function feedFor(client: InboxClient, tab: InboxTab): FeedSource {
  return supportsViews(client) ? client.view(tab.filter) : wholeInbox(client);
}
