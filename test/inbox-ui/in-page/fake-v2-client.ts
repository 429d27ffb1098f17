/**
 * A stand-in for the inbox v2 client API agreed for issue 15 (views, counts, seen, archive,
 * snooze; see src/inbox-ui/inbox-source.ts), kept in memory in the page, so the element's v2
 * behaviour (tabs, seen on view, archive, snooze, mark all read of a view) is tested against the
 * agreed interface. Every call is recorded in `calls`. Bundled into the v2 test page.
 */
import type { InboxCounts, UiNotification, ViewFilter } from '../../../src/inbox-ui/index.js';
import { EventStream, ValueStream } from '../../../src/client/streams.js';

type Row = { -readonly [K in keyof UiNotification]: UiNotification[K] };

/** One call the element made. */
export interface Call {
  readonly method: string;
  readonly ids?: readonly string[];
  readonly filter?: ViewFilter;
  readonly until?: string;
}

function matches(n: Row, filter: ViewFilter, now: number): boolean {
  const snoozed = n.snoozed_until !== null && n.snoozed_until !== undefined && Date.parse(n.snoozed_until) > now;
  const archived = (filter.archived ?? 'exclude') === 'only' ? n.archived === true : (filter.archived ?? 'exclude') === 'exclude' ? n.archived !== true : true;
  const snooze = (filter.snoozed ?? 'exclude') === 'only' ? snoozed : (filter.snoozed ?? 'exclude') === 'exclude' ? !snoozed : true;
  const status = filter.status === 'unread' ? !n.opened : filter.status === 'unseen' ? !n.seen : filter.status === 'read' ? n.opened : true;
  const category = !filter.category || filter.category.includes(n.category ?? '');
  return archived && snooze && status && category;
}

class FakeView {
  readonly notificationsStream = new ValueStream<readonly UiNotification[]>([]);
  constructor(
    readonly filter: ViewFilter,
    private readonly owner: FakeV2Client,
  ) {}
  private pagesLoaded = 0;
  get hasMore(): boolean {
    return this.owner.viewGate !== null && this.pagesLoaded === 0;
  }
  ready(): Promise<void> {
    return this.owner.viewGate?.promise ?? Promise.resolve();
  }
  loadMore(): Promise<void> {
    this.owner.calls.push({ method: 'view.loadMore' });
    this.pagesLoaded++;
    return Promise.resolve();
  }
  dispose(): void {
    this.owner.views.delete(this);
  }
}

/** The fake client. */
export class FakeV2Client {
  readonly calls: Call[] = [];
  readonly views = new Set<FakeView>();
  readonly notificationsStream = new ValueStream<readonly UiNotification[]>([]);
  readonly pendingNotificationsCountStream = new ValueStream<number>(0);
  readonly countsStream = new ValueStream<InboxCounts>({ unseen: 0, unread: 0, total: 0 }, undefined, (a, b) => JSON.stringify(a) === JSON.stringify(b));
  readonly connectionStateStream = new ValueStream<string>('connected');
  readonly errors = new EventStream<Error>();
  hasMore = false;
  /** Set by holdViews(): views then have more pages, and their first page stays loading until released. */
  viewGate: { readonly promise: Promise<void>; readonly release: () => void } | null = null;
  private rows: Row[] = [];
  private seq = 0;

  get notifications(): readonly UiNotification[] {
    return this.notificationsStream.value;
  }
  get pendingNotificationsCount(): number {
    return this.pendingNotificationsCountStream.value;
  }

  /** Adds a notification as if it arrived live. */
  add(fields: Partial<Row> & { content: string }): string {
    const seq = ++this.seq;
    const row: Row = {
      id: `n${seq}`, heading: null, payload: {}, image_url: null, send_after: null, opened: false, buttons: [], created_at: new Date().toISOString(),
      opened_at: null, seq, sender_id: null, seen: false, archived: false, snoozed_until: null, category: null, ...fields,
    };
    this.rows.unshift(row);
    this.publish();
    return row.id;
  }

  holdViews(): void {
    let release = (): void => undefined;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.viewGate = { promise, release };
  }
  releaseViews(): void {
    this.viewGate?.release();
  }

  init(): Promise<void> {
    return Promise.resolve();
  }
  view(filter: ViewFilter = {}): FakeView {
    const view = new FakeView(filter, this);
    this.views.add(view);
    view.notificationsStream.set(this.rows.filter((n) => matches(n, filter, Date.now())).map((n) => ({ ...n })));
    return view;
  }
  counts(views: Record<string, ViewFilter>): Promise<{ views: Record<string, InboxCounts>; last_seq: number }> {
    const answer: Record<string, InboxCounts> = {};
    for (const [name, filter] of Object.entries(views)) answer[name] = this.countOf(filter);
    return Promise.resolve({ views: answer, last_seq: this.seq });
  }
  markSeen(ids: readonly string[]): Promise<void> {
    return this.change({ method: 'markSeen', ids }, (n) => ids.includes(n.id) && (n.seen = true));
  }
  markOpened(ids: readonly string[]): Promise<void> {
    return this.change({ method: 'markOpened', ids }, (n) => ids.includes(n.id) && (n.opened = n.seen = true));
  }
  markAllOpened(filter?: ViewFilter): Promise<void> {
    return this.change({ method: 'markAllOpened', filter }, (n) => matches(n, filter ?? {}, Date.now()) && (n.opened = n.seen = true));
  }
  archive(ids: readonly string[]): Promise<void> {
    return this.change({ method: 'archive', ids }, (n) => ids.includes(n.id) && (n.archived = true));
  }
  unarchive(ids: readonly string[]): Promise<void> {
    return this.change({ method: 'unarchive', ids }, (n) => ids.includes(n.id) && !(n.archived = false));
  }
  snooze(ids: readonly string[], until: Date | string): Promise<void> {
    const iso = new Date(until).toISOString();
    return this.change({ method: 'snooze', ids, until: iso }, (n) => ids.includes(n.id) && (n.snoozed_until = iso));
  }
  pressButton(id: string, buttonId: string): Promise<void> {
    this.calls.push({ method: `pressButton:${buttonId}`, ids: [id] });
    return Promise.resolve();
  }
  loadMore(): Promise<void> {
    return Promise.resolve();
  }
  dispose(): Promise<void> {
    return Promise.resolve();
  }

  private countOf(filter: ViewFilter): InboxCounts {
    const live = this.rows.filter((n) => matches(n, { ...filter, status: 'all' }, Date.now()));
    return { unseen: live.filter((n) => !n.seen).length, unread: live.filter((n) => !n.opened).length, total: live.length };
  }

  private change(call: Call, apply: (n: Row) => unknown): Promise<void> {
    this.calls.push(call);
    for (const n of this.rows) apply(n);
    this.rows = this.rows.map((n) => ({ ...n }));
    this.publish();
    return Promise.resolve();
  }

  private publish(): void {
    const now = Date.now();
    for (const view of this.views) view.notificationsStream.set(this.rows.filter((n) => matches(n, view.filter, now)));
    this.notificationsStream.set(this.rows.filter((n) => matches(n, {}, now)));
    const counts = this.countOf({});
    this.countsStream.set(counts);
    this.pendingNotificationsCountStream.set(counts.unread);
  }
}
