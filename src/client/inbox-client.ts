/** `InboxClient`: the internal-notifications service apps already use, with gapless catch-up. */
import { HeraldAuthError, HeraldDisposedError, HeraldError, HeraldNetworkError } from './errors.js';
import { InboxApi, type ChangesAnswer, type Page } from './inbox-api.js';
import { LiveView, applyChanges, filterQuery, type AppliedChange, type InboxCounts, type InboxView, type ViewFilter, type ViewHost } from './inbox-views.js';
import { channelForUser } from '../protocol/user-channel.js';
import { isNotification, markOpenedIn, markUnreadIn, mergeNotifications, reconcileWithNewest, type NewNotification, type Notification } from './notifications.js';
import { PusherJs, type PusherJsChannel, type PusherJsOptions } from './pusher-js.js';
import { EventStream, ValueStream } from './streams.js';
import { TokenSource, type TokenOption } from './token-source.js';
import { enableWebPush, type WebPushDevice, type WebPushOptions } from './web-push.js';

/** Event Herald sends on the user's channel when notifications are opened. */
export const OPENED_EVENT = 'herald:notifications_opened';
/** Event Herald sends on the user's channel when a notification is deleted. */
export const DELETED_EVENT = 'herald:notification_deleted';
/** Event Herald sends on the user's channel after every change: `{ change_seq, ids, counts }`. */
export const INBOX_CHANGED_EVENT = 'herald:inbox_changed';

/** A bulk action of design.md §5. */
export type BulkAction = 'seen' | 'open' | 'unopen' | 'archive' | 'unarchive' | 'snooze' | 'unsnooze' | 'delete';

/** The answer of a bulk action. */
export interface BulkAnswer {
  affected: number;
  counts: InboxCounts & { last_seq: number };
  change_seq: number;
}

/** Changes fetched per `/changes` call. */
const CHANGES_PAGE = 500;

/** The state of the connection to Herald, as pusher-js names it. */
export type ConnectionState = 'initialized' | 'connecting' | 'connected' | 'unavailable' | 'failed' | 'disconnected';

/** Options of an InboxClient. */
export interface InboxClientOptions {
  readonly host: string;
  readonly port?: number;
  readonly useTLS?: boolean;
  readonly appId: string;
  readonly appKey: string;
  readonly userId: string;
  /** The user token, or an async function returning a fresh one (asked again near expiry or when refused). */
  readonly token: TokenOption;
  /** Notifications per page (default 50). */
  readonly pageSize?: number;
  /** The user's inbox channel (default `private-{userId}`, the server's default template). */
  readonly channelName?: string;
  /** The event of a new notification (default `Internal Notification`). */
  readonly eventName?: string;
  /** Use the app's own channel-authorisation endpoint instead of Herald's built-in one. */
  readonly channelAuthorization?: { readonly endpoint: string; readonly headers?: Record<string, string> };
  /** Milliseconds `init()` and `subscribe()` wait for the first sync (default 15,000). */
  readonly initTimeoutMs?: number;
  /** Milliseconds an HTTP request may take before it fails with a HeraldNetworkError (default 10,000). */
  readonly requestTimeoutMs?: number;
  /** Extra pusher-js options (timeouts, transports). */
  readonly pusherOptions?: Partial<PusherJsOptions>;
  /** The clock a token's expiry is judged by, in epoch milliseconds (default `Date.now`). */
  readonly now?: () => number;
}

/** An unread count, and the newest seq it includes when the server says (`last_seq`). */
interface UnreadCount {
  readonly unread: number;
  readonly lastSeq: number | null;
}

type LiveEvent =
  | { kind: 'notification'; notification: Notification }
  | { kind: 'opened'; ids: string[]; all: boolean; count: UnreadCount; openedAt: string }
  | { kind: 'deleted'; id: string; count: UnreadCount };

/** Whether an error is the server refusing this user's token, which retrying cannot fix. */
function isRefusal(error: HeraldError): boolean {
  return error instanceof HeraldAuthError && (error.status === 401 || error.status === 403);
}

/** The count of a state event or answer: `unread`, and `last_seq` when present. */
function unreadCountOf(data: { unread?: unknown; last_seq?: unknown }): UnreadCount {
  return { unread: Number(data.unread ?? 0), lastSeq: typeof data.last_seq === 'number' ? data.last_seq : null };
}

/** The server's largest page: catch-up pages, and the bound of `pageSize`. */
const CATCH_UP_PAGE = 500;

/** A user's inbox: live, caught up after every reconnect, in sync across devices. */
export class InboxClient {
  /** The notifications held, newest first. */
  readonly notificationsStream: ValueStream<readonly Notification[]>;
  /** The unread count (the badge). */
  readonly pendingNotificationsCountStream: ValueStream<number>;
  /** Every error, also those of background work (reconnect sync, live events). */
  readonly errors: EventStream<HeraldError>;
  /** The connection's state: `connected`, or `connecting`/`unavailable` while offline (the UI's offline state). */
  readonly connectionStateStream: ValueStream<ConnectionState>;
  /** Unseen, unread and total of the whole (live) inbox. */
  readonly countsStream: ValueStream<InboxCounts>;
  /** The live unseen badge. */
  readonly unseenCountStream: ValueStream<number>;
  /** After each applied batch of changes of the change feed. */
  readonly changesStream: EventStream<{ change_seq: number; ids: string[] }>;

  private readonly views = new Set<LiveView>();
  private cursorTaking: Promise<void> | null = null;
  /** Every change up to this change_seq is applied; null until the first sync. */
  private changeSeq: number | null = null;
  private changesRun: Promise<void> | null = null;
  private changesWanted = false;
  /** Counts unsubscribe() calls: a catch-up under way when one came must not apply what it fetched. */
  private unsubscribes = 0;
  /**
   * Optimistic opens waiting for their answer: counts read by the server before such an open
   * (a delivery's event, a catch-up) would bring the badge back up for a moment; its answer sets it.
   */
  private opensInFlight = 0;
  /** The newest change_seq whose event counts were applied: an older event's counts are stale. */
  private eventCountsSeq = 0;

  private readonly api: InboxApi;
  private readonly heraldUrl: string;
  private readonly tokens: TokenSource;
  private readonly pageSize: number;
  private readonly channelName: string;
  private readonly eventName: string;
  private pusher: PusherJs | null = null;
  private channel: PusherJsChannel | null = null;
  private initRun: Promise<void> | null = null;
  /** Why Herald's auth route refused the channel, told to pusher-js's `subscription_error`. */
  private authFailure: HeraldError | null = null;
  private disposed = false;
  private loaded = false;
  private hasMoreOlder = false;
  /** Every notification with seq ≤ syncedSeq is held: the catch-up cursor. */
  private syncedSeq = 0;
  private buffered: LiveEvent[] | null = null;
  private syncRun: Promise<void> | null = null;
  private resyncWanted = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Failed subscriptions and catch-ups in a row, for the retry backoff. */
  private failures = 0;
  private firstSync: { resolve: () => void; reject: (error: HeraldError) => void } | null = null;

  constructor(private readonly options: InboxClientOptions) {
    const report = (error: unknown) => this.report(error);
    this.errors = new EventStream<HeraldError>();
    this.notificationsStream = new ValueStream<readonly Notification[]>([], report);
    this.pendingNotificationsCountStream = new ValueStream<number>(0, report);
    this.connectionStateStream = new ValueStream<ConnectionState>('initialized', report);
    this.countsStream = new ValueStream<InboxCounts>({ unseen: 0, unread: 0, total: 0 }, report);
    this.unseenCountStream = new ValueStream<number>(0, report);
    this.changesStream = new EventStream<{ change_seq: number; ids: string[] }>();
    this.tokens = new TokenSource(options.token, options.now);
    this.pageSize = options.pageSize ?? 50;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1 || this.pageSize > CATCH_UP_PAGE) {
      throw new RangeError(`pageSize must be an integer from 1 to ${CATCH_UP_PAGE}, not ${options.pageSize}`);
    }
    this.channelName = options.channelName ?? channelForUser('private-{userId}', options.userId);
    this.eventName = options.eventName ?? 'Internal Notification';
    const scheme = options.useTLS ? 'https' : 'http';
    const port = options.port ?? (options.useTLS ? 443 : 80);
    this.heraldUrl = `${scheme}://${options.host}:${port}`;
    this.api = new InboxApi(this.heraldUrl, options.appId, options.userId, this.tokens, options.requestTimeoutMs ?? 10_000);
  }

  /** The notifications held, newest first. */
  get notifications(): readonly Notification[] {
    return this.notificationsStream.value;
  }

  /** The unread count. */
  get pendingNotificationsCount(): number {
    return this.pendingNotificationsCountStream.value;
  }

  /** Whether older notifications remain to be loaded with `loadMore()`. */
  get hasMore(): boolean {
    return this.hasMoreOlder;
  }

  /**
   * Connects, subscribes and loads the first page; resolves once the inbox is in sync. On
   * failure (refused token, timeout) it disconnects again, so `init()` may be called again.
   */
  async init(): Promise<void> {
    this.assertAlive();
    this.initRun ??= this.connect().catch((error: unknown) => {
      this.initRun = null;
      this.teardownConnection();
      throw error;
    });
    return this.initRun;
  }

  /** Subscribes again after `unsubscribe()`; catches up on what was missed. */
  async subscribe(): Promise<void> {
    this.assertAlive();
    if (!this.initRun) return this.init();
    await this.initRun;
    if (this.channel) return;
    await this.subscribeAndSync();
  }

  /** Stops live updates (the connection stays); `subscribe()` resumes with a catch-up. */
  async unsubscribe(): Promise<void> {
    if (!this.pusher || !this.channel) return;
    this.channel.unbind_all();
    this.pusher.unsubscribe(this.channelName);
    this.channel = null;
    this.unsubscribes++;
    this.failFirstSync(new HeraldError('unsubscribe() was called before the inbox was in sync'));
  }

  /** Loads the next page of older notifications. */
  async loadMore(): Promise<void> {
    this.assertAlive();
    const list = this.notifications;
    const oldest = list.length > 0 ? list[list.length - 1].seq : undefined;
    const page = await this.api.page(this.pageSize, oldest);
    this.assertAlive();
    this.hasMoreOlder = page.has_more;
    this.setList(mergeNotifications(this.notifications, page.notifications));
  }

  /** Marks notifications opened at once; reconciles with the server, or rolls back and rejects. */
  async markOpened(ids: readonly string[]): Promise<void> {
    this.assertAlive();
    if (ids.length === 0) return;
    return this.openOptimistically(new Set(ids), () => this.api.open(ids));
  }

  /**
   * Marks every notification (of a filter) opened, up to the newest seq held: one that arrives
   * meanwhile stays unread. Without a filter it is optimistic; reconciles, or rolls back and rejects.
   */
  async markAllOpened(filter?: ViewFilter): Promise<void> {
    this.assertAlive();
    const newest = this.notifications[0]?.seq;
    const body = { action: 'open', ...(filter ? { filter: bodyFilter(filter) } : {}), ...(newest === undefined ? {} : { up_to_seq: newest }) };
    if (filter) {
      await this.bulkRequest(body);
      return;
    }
    return this.openOptimistically('all', async () => {
      const answer = await this.api.bulk(body);
      this.applyCounts(answer.counts);
      void this.catchUpChanges();
      return { unread: answer.counts.unread, last_seq: answer.counts.last_seq };
    });
  }

  /** A live, filtered view of this inbox; starts loading at once. */
  view(filter: ViewFilter = {}): InboxView {
    this.assertAlive();
    const host: ViewHost = {
      api: this.api,
      pageSize: this.pageSize,
      now: () => (this.options.now ?? Date.now)(),
      report: (error) => this.report(error),
      detach: (view) => this.views.delete(view),
      cursor: () => this.takeCursor(),
    };
    const view = new LiveView(filter, host);
    this.views.add(view);
    return view;
  }

  /**
   * Takes the change cursor once (the feed's position now): every change after it is applied on top
   * of what was loaded after it. Without it (a server before v2, unreachable) it stays null.
   */
  private takeCursor(): Promise<void> {
    if (this.changeSeq !== null) return Promise.resolve();
    this.cursorTaking ??= this.api
      .changes(null, 1)
      .then((answer) => {
        if (this.changeSeq === null) this.changeSeq = answer.change_seq;
      })
      .catch(() => undefined)
      .finally(() => {
        this.cursorTaking = null;
      });
    return this.cursorTaking;
  }

  /** Counts of several views in one snapshot. */
  async counts(views: Record<string, ViewFilter>): Promise<{ views: Record<string, InboxCounts>; last_seq: number }> {
    this.assertAlive();
    try {
      return await this.api.countViews(Object.fromEntries(Object.entries(views).map(([name, filter]) => [name, bodyFilter(filter)])));
    } catch (error) {
      throw this.report(error);
    }
  }

  /** Marks notifications seen (the badge); opening implies seen. */
  async markSeen(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.bulk('seen', { ids });
  }

  async markUnopened(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.bulk('unopen', { ids });
  }

  async archive(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.bulk('archive', { ids });
  }

  async unarchive(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.bulk('unarchive', { ids });
  }

  /** Hides notifications until `until`; they come back then with a new seq, delivered live. */
  async snooze(ids: readonly string[], until: Date | string): Promise<void> {
    if (ids.length > 0) await this.bulk('snooze', { ids, until });
  }

  async unsnooze(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.bulk('unsnooze', { ids });
  }

  /** A bulk action by ids or filter (design.md §5); every view and stream follows through the change feed. */
  async bulk(
    action: BulkAction,
    options: { ids?: readonly string[]; filter?: ViewFilter; up_to_seq?: number; until?: Date | string },
  ): Promise<BulkAnswer> {
    this.assertAlive();
    const body: Record<string, unknown> = { action };
    if (options.ids) body.ids = options.ids;
    if (options.filter) body.filter = bodyFilter(options.filter);
    if (options.up_to_seq !== undefined) body.up_to_seq = options.up_to_seq;
    if (options.until !== undefined) body.until = typeof options.until === 'string' ? options.until : options.until.toISOString();
    return this.bulkRequest(body);
  }

  private async bulkRequest(body: Record<string, unknown>): Promise<BulkAnswer> {
    try {
      const answer = await this.api.bulk(body);
      this.applyCounts(answer.counts);
      await this.catchUpChanges();
      return answer;
    } catch (error) {
      throw this.report(error);
    }
  }

  /** The whole inbox's counts (and the badge derived from them). */
  private applyCounts(counts: InboxCounts & { last_seq?: number }): void {
    if (this.disposed) return;
    this.countsStream.set({ unseen: counts.unseen, unread: counts.unread, total: counts.total });
    this.unseenCountStream.set(counts.unseen);
    this.setCount(this.countFrom({ unread: counts.unread, lastSeq: counts.last_seq ?? null }));
  }

  /**
   * Applies every change after the cursor, from `/changes` (serialised; a call during a run asks for
   * one more). A cursor the server no longer keeps (410) reloads the list and the views.
   */
  private catchUpChanges(): Promise<void> {
    if (this.changesRun) {
      this.changesWanted = true;
      return this.changesRun;
    }
    this.changesRun = (async () => {
      do {
        this.changesWanted = false;
        await this.catchUpChangesOnce();
      } while (this.changesWanted && !this.disposed);
    })()
      .catch((error: unknown) => void this.report(error))
      .finally(() => {
        this.changesRun = null;
      });
    return this.changesRun;
  }

  private async catchUpChangesOnce(): Promise<void> {
    if (this.changeSeq === null || this.disposed) return;
    const unsubscribes = this.unsubscribes;
    const applied: AppliedChange[] = [];
    for (;;) {
      let page: ChangesAnswer;
      try {
        page = await this.api.changes(this.changeSeq, CHANGES_PAGE);
      } catch (error) {
        if (error instanceof HeraldError && error.status === 410) return this.reloadAll();
        throw error;
      }
      if (this.disposed) return;
      // Unsubscribed meanwhile: the inbox holds still until subscribe(), whose catch-up brings this.
      if (this.unsubscribes !== unsubscribes && !this.channel) break;
      const batch = page.changes.map((change) => ({ id: change.id, notification: change.deleted ? null : (change.notification ?? null) }));
      applied.push(...batch);
      this.applyToAll(batch);
      this.changeSeq = page.change_seq;
      if (!page.has_more) break;
    }
    if (applied.length > 0) await this.refreshCounts();
    if (!this.disposed && applied.length > 0) this.changesStream.emit({ change_seq: this.changeSeq, ids: applied.map((change) => change.id) });
  }

  private applyToAll(changes: readonly AppliedChange[]): void {
    if (changes.length === 0) return;
    const nowMs = (this.options.now ?? Date.now)();
    this.setList(applyChanges(this.notifications, changes, {}, nowMs, !this.hasMoreOlder));
    for (const view of this.views) view.apply(changes);
  }

  /** The whole inbox's and every view's counts, in one snapshot. */
  private async refreshCounts(): Promise<void> {
    const views = [...this.views];
    const names: Record<string, unknown> = { all: {} };
    views.forEach((view, i) => (names[`v${i}`] = bodyFilter(view.filter)));
    const answer = await this.api.countViews(names);
    if (this.disposed) return;
    if (this.opensInFlight === 0) this.applyCounts({ ...answer.views.all, last_seq: answer.last_seq });
    views.forEach((view, i) => {
      const counts = answer.views[`v${i}`];
      if (counts) view.setCounts(counts);
    });
  }

  /** After a 410: the cursor starts again from now, the list and every view load again. */
  private async reloadAll(): Promise<void> {
    this.changeSeq = (await this.api.changes(null, 1)).change_seq;
    const page = await this.api.page(this.pageSize);
    if (this.disposed) return;
    this.hasMoreOlder = page.has_more;
    this.setList(reconcileWithNewest(mergeNotifications(this.notifications, page.notifications), page.notifications, page.has_more));
    for (const view of [...this.views]) {
      const fresh = await this.api.listFiltered(filterQuery(view.filter), this.pageSize);
      view.apply(view.notifications.map((n) => ({ id: n.id, notification: null })));
      view.apply(fresh.notifications.map((n) => ({ id: n.id, notification: n })));
    }
    await this.refreshCounts();
  }

  /** Deletes a notification of this user. */
  async remove(id: string): Promise<void> {
    this.assertAlive();
    try {
      const answer = await this.api.remove(id);
      if (!this.disposed) this.applyLive({ kind: 'deleted', id, count: unreadCountOf(answer) });
    } catch (error) {
      throw this.report(error);
    }
  }

  /** Records a press of one of a notification's buttons. */
  async pressButton(id: string, buttonId: string): Promise<void> {
    this.assertAlive();
    try {
      await this.api.action(id, buttonId);
    } catch (error) {
      throw this.report(error);
    }
  }

  /** Pushes a notification to users (the app must allow client push). */
  async push(userIds: readonly string[], notification: NewNotification, idempotencyKey?: string): Promise<{ id: string; user_id: string; seq: number | null }[]> {
    this.assertAlive();
    try {
      return (await this.api.push(userIds, notification, idempotencyKey)).notifications;
    } catch (error) {
      throw this.report(error);
    }
  }

  /** Disconnects and ends every stream; leaves no timer, socket or listener behind. */
  /**
   * Browser: asks for notification permission, registers Herald's service worker (the app serves a
   * copy of `/sdk/herald-sw.js`, by default at `/herald-sw.js`), subscribes with the app's VAPID key
   * and registers the subscription as this user's device. The user then gets pushes while away.
   */
  enableWebPush(options: WebPushOptions = {}): Promise<WebPushDevice> {
    return enableWebPush(this.api, this.heraldUrl, this.options.appId, this.options.userId, options);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.failFirstSync(new HeraldDisposedError());
    this.teardownConnection();
    this.api.close();
    this.notificationsStream.close();
    this.pendingNotificationsCountStream.close();
    this.connectionStateStream.close();
    for (const view of [...this.views]) view.dispose();
    this.countsStream.close();
    this.unseenCountStream.close();
    this.changesStream.close();
    this.errors.close();
  }

  private async connect(): Promise<void> {
    const { options } = this;
    this.pusher = new PusherJs(options.appKey, {
      cluster: 'herald',
      wsHost: options.host,
      wsPort: options.port ?? 80,
      wssPort: options.port ?? 443,
      forceTLS: options.useTLS ?? false,
      // 'ws' is TLS too when forceTLS is set; 'wss' would only add a TLS attempt on a plain port.
      enabledTransports: ['ws'],
      disableStats: true,
      channelAuthorization: options.channelAuthorization
        ? { endpoint: options.channelAuthorization.endpoint, transport: 'ajax', headers: options.channelAuthorization.headers }
        : {
            endpoint: '',
            transport: 'ajax',
            customHandler: (params, callback) => {
              this.api.authorizeChannel(params.socketId, params.channelName).then(
                (auth) => callback(null, auth),
                (error: unknown) => {
                  // Reported once, by the subscription_error handler, with its status.
                  this.authFailure = error instanceof HeraldError ? error : new HeraldError(String(error));
                  callback(this.authFailure, null);
                },
              );
            },
          },
      ...options.pusherOptions,
    });
    this.pusher.connection.bind('state_change', (states: { current: ConnectionState }) => {
      if (!this.disposed) this.connectionStateStream.set(states.current);
      if (states.current === 'unavailable' || states.current === 'failed') {
        this.report(new HeraldNetworkError(`Connection to Herald is ${states.current}; retrying`));
      }
    });
    // 4000-4099 (unknown app key, app disabled, ...) tell pusher-js not to reconnect: fail now, not at the timeout.
    // pusher-js emits them as `{ type: 'PusherError', data }`, or wrapped in `{ error }` during the handshake.
    type PusherErrorEvent = { type?: string; data?: { code?: unknown; message?: unknown }; error?: PusherErrorEvent };
    this.pusher.connection.bind('error', (event: PusherErrorEvent | undefined) => {
      const pusherError = event?.type === 'PusherError' ? event : event?.error?.type === 'PusherError' ? event.error : null;
      const code = pusherError?.data?.code;
      if (typeof code !== 'number' || code < 4000 || code > 4099) return;
      const error = new HeraldError(`Herald refused the connection (${code}): ${String(pusherError?.data?.message ?? '')}`, null, String(code));
      this.report(error);
      this.failFirstSync(error);
    });
    await this.subscribeAndSync();
  }

  /** Subscribes and waits for the first catch-up, within `initTimeoutMs`. */
  private async subscribeAndSync(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => (this.firstSync = { resolve, reject }));
    const timeoutMs = this.options.initTimeoutMs ?? 15_000;
    const timer = setTimeout(() => this.failFirstSync(new HeraldNetworkError(`The inbox did not sync within ${timeoutMs} ms`)), timeoutMs);
    this.subscribeChannel();
    try {
      await ready;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Disconnects pusher-js and stops background work; the streams stay open. */
  private teardownConnection(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.channel?.unbind_all();
    this.pusher?.connection.unbind_all();
    this.pusher?.disconnect();
    this.pusher = null;
    if (!this.disposed) this.connectionStateStream.set('disconnected');
    this.channel = null;
  }

  /** The optimistic open of `markOpened` and `markAllOpened`. */
  private async openOptimistically(ids: ReadonlySet<string> | 'all', request: () => Promise<{ unread: number; last_seq?: number }>): Promise<void> {
    const { list, changed } = markOpenedIn(this.notifications, ids, new Date().toISOString());
    const countBefore = this.pendingNotificationsCount;
    const decrement = ids === 'all' ? countBefore : Math.min(countBefore, changed.length);
    this.setList(list);
    this.setCount(countBefore - decrement);
    this.opensInFlight++;
    try {
      const answer = await request();
      this.setCount(this.countFrom(unreadCountOf(answer)));
    } catch (error) {
      // Undo this call's own change only: what arrived meanwhile (a live notification) stays counted.
      this.setList(markUnreadIn(this.notifications, new Set(changed)));
      this.setCount(this.pendingNotificationsCount + decrement);
      throw this.report(error);
    } finally {
      this.opensInFlight--;
    }
  }

  private subscribeChannel(): void {
    const channel = this.pusher!.subscribe(this.channelName);
    this.channel = channel;
    // pusher-js re-subscribes after every reconnect and fires this again: each time, catch up.
    channel.bind('pusher:subscription_succeeded', () => void this.sync());
    channel.bind('pusher:subscription_error', (status: { status?: number; error?: string }) => {
      const error = this.authFailure ?? new HeraldAuthError(`Subscription to ${this.channelName} was refused: ${status?.error ?? 'unknown reason'}`, status?.status ?? null);
      this.authFailure = null;
      this.report(error);
      if (isRefusal(error)) this.failFirstSync(error);
      // A failed auth request (network, server, token() itself) is retried; pusher-js would not until the next reconnect.
      else this.retryLater(() => this.pusher?.subscribe(this.channelName));
    });
    channel.bind(this.eventName, (data: unknown) => {
      if (isNotification(data)) this.onLive({ kind: 'notification', notification: data });
      else this.report(new HeraldError(`Ignored a malformed "${this.eventName}" event`));
    });
    channel.bind(OPENED_EVENT, (data: { ids?: string[]; all?: boolean; unread?: number; last_seq?: number; opened_at?: string }) => {
      this.onLive({ kind: 'opened', ids: data.ids ?? [], all: data.all === true, count: unreadCountOf(data), openedAt: data.opened_at ?? new Date().toISOString() });
    });
    channel.bind(DELETED_EVENT, (data: { id?: string; unread?: number; last_seq?: number }) => {
      if (typeof data.id === 'string') this.onLive({ kind: 'deleted', id: data.id, count: unreadCountOf(data) });
    });
    channel.bind(INBOX_CHANGED_EVENT, (data: { change_seq?: number; ids?: string[]; counts?: InboxCounts & { last_seq: number } }) => {
      if (this.disposed || typeof data.change_seq !== 'number') return;
      if (data.counts && this.opensInFlight === 0 && this.changeSeq !== null && data.change_seq > this.changeSeq && data.change_seq > this.eventCountsSeq) {
        this.eventCountsSeq = data.change_seq;
        this.applyCounts(data.counts);
      }
      // The event names the ids; their new state (and anything missed) comes from the feed.
      if (this.changeSeq !== null && data.change_seq > this.changeSeq) void this.catchUpChanges();
    });
  }

  private onLive(event: LiveEvent): void {
    if (this.disposed) return;
    if (this.buffered) this.buffered.push(event);
    else this.applyLive(event);
  }

  private applyLive(event: LiveEvent): void {
    switch (event.kind) {
      case 'notification': {
        const n = event.notification;
        const known = this.notifications.some((held) => held.id === n.id);
        this.setList(mergeNotifications(this.notifications, [n]));
        if (n.seq === this.syncedSeq + 1) this.syncedSeq = n.seq;
        // Live delivery is at-most-once: a seq beyond the cursor means something was missed.
        else if (n.seq > this.syncedSeq + 1 && this.loaded) void this.sync();
        if (!known && !n.opened) this.setCount(this.pendingNotificationsCount + 1);
        break;
      }
      case 'opened':
        this.setList(markOpenedIn(this.notifications, event.all ? 'all' : new Set(event.ids), event.openedAt).list);
        this.setCount(this.countFrom(event.count));
        break;
      case 'deleted':
        this.setList(this.notifications.filter((n) => n.id !== event.id));
        this.setCount(this.countFrom(event.count));
        break;
    }
  }

  /**
   * Catch-up: live events are buffered while the count and the missed notifications are
   * fetched, then merged by id and replayed. Runs after every (re)subscription.
   */
  private sync(): Promise<void> {
    if (this.syncRun) {
      this.resyncWanted = true;
      return this.syncRun;
    }
    this.syncRun = (async () => {
      do {
        this.resyncWanted = false;
        await this.syncOnce();
      } while (this.resyncWanted && !this.disposed);
    })()
      .then(
        () => {
          this.failures = 0;
          const first = this.firstSync;
          this.firstSync = null;
          first?.resolve();
        },
        (error: unknown) => {
          const herald = this.report(error);
          if (isRefusal(herald)) this.failFirstSync(herald);
          else this.retryLater(() => void this.sync());
        },
      )
      .finally(() => {
        this.syncRun = null;
      });
    return this.syncRun;
  }

  /** A failed subscription or catch-up is retried with backoff (1 s doubling to 30 s) while subscribed. */
  private retryLater(retry: () => void): void {
    if (this.disposed || !this.channel || this.retryTimer) return;
    const delay = Math.min(30_000, 1000 * 2 ** this.failures++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.disposed && this.channel) retry();
    }, delay);
  }

  private async syncOnce(): Promise<void> {
    this.buffered = [];
    try {
      // The change cursor is taken before the list, so every change after it is applied on top.
      await this.takeCursor();
      const counts = await this.api.count();
      const fetched: Notification[] = [];
      let newest: Page | null = null;
      if (!this.loaded) {
        const page = await this.api.page(this.pageSize);
        fetched.push(...page.notifications);
        this.hasMoreOlder = page.has_more;
        this.loaded = true;
      } else {
        for (;;) {
          const page = await this.api.after(this.syncedSeq, CATCH_UP_PAGE);
          fetched.push(...page.notifications);
          const last = page.notifications[page.notifications.length - 1];
          if (last) this.syncedSeq = Math.max(this.syncedSeq, last.seq);
          if (!page.has_more) break;
        }
        // Opens and deletes made on other devices while this one was away came as events it
        // missed: the newest page is read again to take the server's state of what it shows.
        newest = await this.api.page(this.pageSize);
      }
      if (this.disposed) return;
      // Everything up to last_seq that still exists has been fetched (or is older than the first page).
      this.syncedSeq = Math.max(this.syncedSeq, fetched[0]?.seq ?? 0, counts.last_seq);
      // Merged into the list as it is now: a loadMore() or markOpened() made meanwhile stays.
      let list = mergeNotifications(this.notifications, fetched);
      if (newest) list = reconcileWithNewest(list, newest.notifications, newest.has_more);
      this.setList(list);
      this.setCount(this.countFrom({ unread: counts.unread, lastSeq: counts.last_seq }));
      if (typeof (counts as { unseen?: unknown }).unseen === 'number') this.applyCounts(counts as unknown as InboxCounts & { last_seq: number });
      const replay = this.buffered;
      this.buffered = null;
      for (const event of replay) {
        // Notifications up to last_seq are counted already: held, or on an older page for loadMore().
        if (event.kind === 'notification' && event.notification.seq <= counts.last_seq) continue;
        this.applyLive(event);
      }
    } finally {
      this.buffered = null;
    }
    // States changed on other devices while this one was away: all of them, from the change feed.
    await this.catchUpChanges();
  }

  /** The server's unread count, plus the unread notifications held that are newer than what it counted. */
  private countFrom(count: UnreadCount): number {
    if (count.lastSeq === null) return count.unread;
    const lastSeq = count.lastSeq;
    return count.unread + this.notifications.filter((n) => !n.opened && n.seq > lastSeq).length;
  }

  private setList(list: readonly Notification[]): void {
    if (!this.disposed) this.notificationsStream.set(list);
  }

  private setCount(count: number): void {
    if (!this.disposed) this.pendingNotificationsCountStream.set(count);
  }

  private failFirstSync(error: HeraldError): void {
    const first = this.firstSync;
    this.firstSync = null;
    first?.reject(error);
  }

  /** Emits an error on `errors` and returns it as a HeraldError. */
  private report(error: unknown): HeraldError {
    const herald = error instanceof HeraldError ? error : new HeraldError((error as Error)?.message ?? String(error), null, null, { cause: error });
    if (!this.disposed) this.errors.emit(herald);
    return herald;
  }

  private assertAlive(): void {
    if (this.disposed) throw new HeraldDisposedError();
  }
}

/** A view's filter as a JSON body takes it (lists as arrays). */
function bodyFilter(filter: ViewFilter): Record<string, unknown> {
  return Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== undefined));
}
