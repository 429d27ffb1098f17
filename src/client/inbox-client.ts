/** `InboxClient`: the internal-notifications service apps already use, with gapless catch-up. */
import { HeraldAuthError, HeraldDisposedError, HeraldError, HeraldNetworkError } from './errors.js';
import { InboxApi } from './inbox-api.js';
import { isNotification, markOpenedIn, markUnreadIn, mergeNotifications, type NewNotification, type Notification } from './notifications.js';
import { PusherJs, type PusherJsChannel, type PusherJsOptions } from './pusher-js.js';
import { EventStream, ValueStream } from './streams.js';
import { TokenSource, type TokenOption } from './token-source.js';

/** Event Herald sends on the user's channel when notifications are opened. */
export const OPENED_EVENT = 'herald:notifications_opened';
/** Event Herald sends on the user's channel when a notification is deleted. */
export const DELETED_EVENT = 'herald:notification_deleted';

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
  /** Milliseconds `init()` waits for the first sync (default 15,000). */
  readonly initTimeoutMs?: number;
  /** Extra pusher-js options (timeouts, transports). */
  readonly pusherOptions?: Partial<PusherJsOptions>;
}

type LiveEvent = { kind: 'notification'; notification: Notification } | { kind: 'opened'; ids: string[]; all: boolean; unread: number; openedAt: string } | { kind: 'deleted'; id: string; unread: number };

const CATCH_UP_PAGE = 500;

/** A user's inbox: live, caught up after every reconnect, in sync across devices. */
export class InboxClient {
  /** The notifications held, newest first. */
  readonly notificationsStream: ValueStream<readonly Notification[]>;
  /** The unread count (the badge). */
  readonly pendingNotificationsCountStream: ValueStream<number>;
  /** Every error, also those of background work (reconnect sync, live events). */
  readonly errors: EventStream<HeraldError>;

  private readonly api: InboxApi;
  private readonly tokens: TokenSource;
  private readonly pageSize: number;
  private readonly channelName: string;
  private readonly eventName: string;
  private pusher: PusherJs | null = null;
  private channel: PusherJsChannel | null = null;
  private disposed = false;
  private loaded = false;
  private hasMoreOlder = false;
  /** Every notification with seq ≤ syncedSeq is held: the catch-up cursor. */
  private syncedSeq = 0;
  private buffered: LiveEvent[] | null = null;
  private syncRun: Promise<void> | null = null;
  private resyncWanted = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private failedSyncs = 0;
  private firstSync: { resolve: () => void; reject: (error: HeraldError) => void } | null = null;

  constructor(private readonly options: InboxClientOptions) {
    const report = (error: unknown) => this.report(error);
    this.errors = new EventStream<HeraldError>();
    this.notificationsStream = new ValueStream<readonly Notification[]>([], report);
    this.pendingNotificationsCountStream = new ValueStream<number>(0, report);
    this.tokens = new TokenSource(options.token);
    this.pageSize = options.pageSize ?? 50;
    this.channelName = options.channelName ?? `private-${options.userId}`;
    this.eventName = options.eventName ?? 'Internal Notification';
    const scheme = options.useTLS ? 'https' : 'http';
    const port = options.port ?? (options.useTLS ? 443 : 80);
    this.api = new InboxApi(`${scheme}://${options.host}:${port}`, options.appId, options.userId, this.tokens);
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

  /** Connects, subscribes and loads the first page; resolves once the inbox is in sync. */
  async init(): Promise<void> {
    this.assertAlive();
    if (this.pusher) return;
    const { options } = this;
    this.pusher = new PusherJs(options.appKey, {
      cluster: 'herald',
      wsHost: options.host,
      wsPort: options.port ?? 80,
      wssPort: options.port ?? 443,
      forceTLS: options.useTLS ?? false,
      enabledTransports: ['ws', 'wss'],
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
                  this.report(error);
                  callback(error instanceof Error ? error : new Error(String(error)), null);
                },
              );
            },
          },
      ...options.pusherOptions,
    });
    this.pusher.connection.bind('state_change', (states: { current: string }) => {
      if (states.current === 'unavailable' || states.current === 'failed') {
        this.report(new HeraldNetworkError(`Connection to Herald is ${states.current}; retrying`));
      }
    });
    const ready = new Promise<void>((resolve, reject) => (this.firstSync = { resolve, reject }));
    const timeoutMs = options.initTimeoutMs ?? 15_000;
    const timer = setTimeout(() => this.failFirstSync(new HeraldNetworkError(`init() did not sync within ${timeoutMs} ms`)), timeoutMs);
    this.subscribeChannel();
    try {
      await ready;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Subscribes again after `unsubscribe()`; catches up on what was missed. */
  async subscribe(): Promise<void> {
    this.assertAlive();
    if (!this.pusher) return this.init();
    if (this.channel) return;
    const ready = new Promise<void>((resolve, reject) => (this.firstSync = { resolve, reject }));
    this.subscribeChannel();
    await ready;
  }

  /** Stops live updates (the connection stays); `subscribe()` resumes with a catch-up. */
  async unsubscribe(): Promise<void> {
    if (!this.pusher || !this.channel) return;
    this.channel.unbind_all();
    this.pusher.unsubscribe(this.channelName);
    this.channel = null;
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
    const { list, changed } = markOpenedIn(this.notifications, new Set(ids), new Date().toISOString());
    const previousCount = this.pendingNotificationsCount;
    this.setList(list);
    this.setCount(Math.max(0, previousCount - changed.length));
    try {
      const answer = await this.api.open(ids);
      if (!this.disposed) this.setCount(answer.unread);
    } catch (error) {
      if (!this.disposed) {
        this.setList(markUnreadIn(this.notifications, new Set(changed)));
        this.setCount(previousCount);
      }
      throw this.report(error);
    }
  }

  /** Marks every notification opened at once; reconciles, or rolls back and rejects. */
  async markAllOpened(): Promise<void> {
    this.assertAlive();
    const { list, changed } = markOpenedIn(this.notifications, 'all', new Date().toISOString());
    const previousCount = this.pendingNotificationsCount;
    this.setList(list);
    this.setCount(0);
    try {
      const answer = await this.api.open('all');
      if (!this.disposed) this.setCount(answer.unread);
    } catch (error) {
      if (!this.disposed) {
        this.setList(markUnreadIn(this.notifications, new Set(changed)));
        this.setCount(previousCount);
      }
      throw this.report(error);
    }
  }

  /** Deletes a notification of this user. */
  async remove(id: string): Promise<void> {
    this.assertAlive();
    try {
      const answer = await this.api.remove(id);
      this.applyLive({ kind: 'deleted', id, unread: answer.unread });
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
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.failFirstSync(new HeraldDisposedError());
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.channel?.unbind_all();
    this.pusher?.connection.unbind_all();
    this.pusher?.disconnect();
    this.pusher = null;
    this.channel = null;
    this.notificationsStream.close();
    this.pendingNotificationsCountStream.close();
    this.errors.close();
  }

  private subscribeChannel(): void {
    const channel = this.pusher!.subscribe(this.channelName);
    this.channel = channel;
    // pusher-js re-subscribes after every reconnect and fires this again: each time, catch up.
    channel.bind('pusher:subscription_succeeded', () => void this.sync());
    channel.bind('pusher:subscription_error', (status: { status?: number; error?: string }) => {
      const error = new HeraldAuthError(`Subscription to ${this.channelName} was refused: ${status?.error ?? 'unknown reason'}`, status?.status ?? null);
      this.report(error);
      this.failFirstSync(error);
    });
    channel.bind(this.eventName, (data: unknown) => {
      if (isNotification(data)) this.onLive({ kind: 'notification', notification: data });
      else this.report(new HeraldError(`Ignored a malformed "${this.eventName}" event`));
    });
    channel.bind(OPENED_EVENT, (data: { ids?: string[]; all?: boolean; unread?: number; opened_at?: string }) => {
      this.onLive({ kind: 'opened', ids: data.ids ?? [], all: data.all === true, unread: Number(data.unread ?? 0), openedAt: data.opened_at ?? new Date().toISOString() });
    });
    channel.bind(DELETED_EVENT, (data: { id?: string; unread?: number }) => {
      if (typeof data.id === 'string') this.onLive({ kind: 'deleted', id: data.id, unread: Number(data.unread ?? 0) });
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
        if (!known && !n.opened) this.setCount(this.pendingNotificationsCount + 1);
        break;
      }
      case 'opened':
        this.setList(markOpenedIn(this.notifications, event.all ? 'all' : new Set(event.ids), event.openedAt).list);
        this.setCount(event.unread);
        break;
      case 'deleted':
        this.setList(this.notifications.filter((n) => n.id !== event.id));
        this.setCount(event.unread);
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
          this.failedSyncs = 0;
          const first = this.firstSync;
          this.firstSync = null;
          first?.resolve();
        },
        (error: unknown) => {
          const herald = this.report(error);
          if (herald instanceof HeraldAuthError) this.failFirstSync(herald);
          else this.retrySyncLater();
        },
      )
      .finally(() => {
        this.syncRun = null;
      });
    return this.syncRun;
  }

  /** A failed catch-up is retried with backoff (1 s doubling to 30 s) while subscribed. */
  private retrySyncLater(): void {
    if (this.disposed || !this.channel || this.retryTimer) return;
    const delay = Math.min(30_000, 1000 * 2 ** this.failedSyncs++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.disposed && this.channel) void this.sync();
    }, delay);
  }

  private async syncOnce(): Promise<void> {
    this.buffered = [];
    try {
      const counts = await this.api.count();
      let list = this.notifications as Notification[];
      if (!this.loaded) {
        const page = await this.api.page(this.pageSize);
        list = mergeNotifications(list, page.notifications);
        this.hasMoreOlder = page.has_more;
        this.syncedSeq = Math.max(this.syncedSeq, page.notifications[0]?.seq ?? 0);
        this.loaded = true;
      } else {
        for (;;) {
          const page = await this.api.after(this.syncedSeq, CATCH_UP_PAGE);
          list = mergeNotifications(list, page.notifications);
          const last = page.notifications[page.notifications.length - 1];
          if (last) this.syncedSeq = last.seq;
          if (!page.has_more) break;
        }
      }
      if (this.disposed) return;
      // Notifications counted by `counts` have seq ≤ last_seq; newer unread ones are added.
      const newerUnread = list.filter((n) => !n.opened && n.seq > counts.last_seq).length;
      this.setList(list);
      this.setCount(counts.unread + newerUnread);
      const replay = this.buffered;
      this.buffered = null;
      for (const event of replay) {
        if (event.kind === 'notification' && list.some((n) => n.id === event.notification.id)) continue;
        this.applyLive(event);
      }
    } finally {
      this.buffered = null;
    }
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
