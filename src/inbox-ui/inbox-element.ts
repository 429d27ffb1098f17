/**
 * `<herald-inbox>`: a bell with the unread (or unseen) badge and a live feed in a popover (or
 * inline), as a standards custom element with shadow DOM. Configured by attributes (`app-key`,
 * `app-id`, `user-id`, `host`, `port`, `token-url`, `locale`, …) or given an InboxClient.
 */
import { InboxClient, type ConnectionState, type HeraldError } from '../client/index.js';
import { h, icon } from './icons.js';
import { DEFAULT_TABS, feedFor, supportsViews, type FeedSource, type InboxTab, type UiNotification } from './inbox-source.js';
import { directionOf, format, messagesFor, type InboxMessages } from './messages.js';
import { renderRow, snoozeUntil, timeText, type RowAction } from './notification-row.js';
import { INBOX_CSS } from './styles.js';

/** The events the element dispatches (bubbling, composed). */
export interface HeraldInboxEventMap {
  /** A notification was clicked (and marked opened). */
  'herald-open': CustomEvent<{ notification: UiNotification }>;
  /** One of a notification's buttons was pressed (and recorded). */
  'herald-action': CustomEvent<{ notification: UiNotification; buttonId: string }>;
  /** The popover opened or closed. */
  'herald-toggle': CustomEvent<{ open: boolean }>;
  /** The badge's count changed. */
  'herald-count': CustomEvent<{ count: number }>;
  /** The inbox is connected and its first page is shown. */
  'herald-ready': CustomEvent<{ client: InboxClient }>;
  /** Something failed (connecting, an action); the element shows it too. */
  'herald-error': CustomEvent<{ error: HeraldError | Error }>;
}

const ATTRIBUTES = ['app-id', 'app-key', 'user-id', 'host', 'port', 'tls', 'token-url', 'locale', 'badge', 'views', 'layout', 'open', 'theme'] as const;
/** Attributes that change which inbox is shown: the element connects again. */
const CONNECTION_ATTRIBUTES = new Set(['app-id', 'app-key', 'user-id', 'host', 'port', 'tls', 'token-url']);
const OFFLINE_STATES = new Set<ConnectionState>(['connecting', 'unavailable', 'failed', 'disconnected']);
/** How long seen notifications are gathered before one markSeen call. */
const SEEN_BATCH_MS = 250;
/** Milliseconds a failed action's message stays. */
const NOTICE_MS = 4_000;
/** How near the end of the list (px) the next page starts loading. */
const MORE_MARGIN_PX = 120;

// Node (server rendering, type imports) has no HTMLElement: the class must still be definable there.
const ElementBase = (typeof HTMLElement === 'undefined' ? class {} : HTMLElement) as typeof HTMLElement;

let instances = 0;

/** The `<herald-inbox>` element. */
export class HeraldInboxElement extends ElementBase {
  static readonly observedAttributes: readonly string[] = ATTRIBUTES;

  private readonly shadow: ShadowRoot;
  private readonly uid = `hi${++instances}`;
  private readonly ui: {
    root: HTMLElement;
    bell: HTMLButtonElement;
    badge: HTMLElement;
    panel: HTMLElement;
    title: HTMLElement;
    markAll: HTMLButtonElement;
    close: HTMLButtonElement;
    tabs: HTMLElement;
    banner: HTMLElement;
    scroller: HTMLElement;
    feed: HTMLElement;
    status: HTMLElement;
    empty: HTMLElement;
    more: HTMLElement;
    moreButton: HTMLButtonElement;
    sentinel: HTMLElement;
  };

  private givenClient: InboxClient | null = null;
  private active: InboxClient | null = null;
  private ownsClient = false;
  private clientStops: (() => void)[] = [];
  private source: FeedSource | null = null;
  private sourceStop: (() => void) | null = null;
  private tabList: readonly InboxTab[] = [];
  private customTabs: readonly InboxTab[] | null = null;
  private activeTab = 0;
  private list: readonly UiNotification[] = [];
  private readonly rows = new Map<string, { element: HTMLElement; notification: UiNotification; key: string }>();
  private rowCounter = 0;
  private badgeCount = 0;
  private unreadCount = 0;
  private loading = true;
  private loadingMore = false;
  /** The end of the list came into view while a page was loading: the next one is wanted after it. */
  private moreWanted = false;
  private failure: Error | null = null;
  private notice: string | null = null;
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;
  private connection: ConnectionState = 'initialized';
  private everConnected = false;
  private restartQueued = false;
  private started = false;
  private generation = 0;
  private tabCountsTimer: ReturnType<typeof setTimeout> | null = null;
  private clockTimer: ReturnType<typeof setInterval> | null = null;
  private seenObserver: IntersectionObserver | null = null;
  private moreObserver: IntersectionObserver | null = null;
  private readonly onScreen = new Set<string>();
  private readonly seenQueue = new Set<string>();
  private readonly seenSent = new Set<string>();
  private seenTimer: ReturnType<typeof setTimeout> | null = null;
  private menu: { element: HTMLElement; trigger: HTMLButtonElement; id: string } | null = null;
  private messageOverrides: Partial<InboxMessages> = {};
  private wasOpen = false;

  constructor() {
    super();
    this.shadow = this.attachShadow({ mode: 'open' });
    adoptStyles(this.shadow);
    const bell = h('button', { type: 'button', class: 'bell', part: 'bell', 'data-testid': 'bell', 'aria-haspopup': 'dialog', 'aria-expanded': 'false', 'aria-controls': `${this.uid}-panel` }) as HTMLButtonElement;
    const badge = h('span', { class: 'badge', part: 'badge', 'data-testid': 'badge', 'data-count': '0', 'aria-hidden': 'true' }, '0');
    bell.append(icon('bell'), badge);
    const title = h('h2', { class: 'title', id: `${this.uid}-title`, part: 'title' });
    const markAll = h('button', { type: 'button', class: 'link-button', part: 'mark-all', 'data-testid': 'mark-all' }) as HTMLButtonElement;
    const close = h('button', { type: 'button', class: 'close', part: 'close' }, icon('close')) as HTMLButtonElement;
    const tabs = h('div', { class: 'tabs', part: 'tabs', role: 'tablist', hidden: true });
    const banner = h('div', { class: 'banner', part: 'banner', role: 'status', hidden: true });
    const feed = h('div', { class: 'feed', part: 'feed', role: 'feed', id: `${this.uid}-feed`, 'aria-busy': 'true', 'aria-labelledby': `${this.uid}-title` });
    const status = h('div', { class: 'status-line', part: 'loading', role: 'status' });
    const empty = h('div', { class: 'empty', part: 'empty', hidden: true });
    const moreButton = h('button', { type: 'button', class: 'link-button', part: 'load-more' }) as HTMLButtonElement;
    const more = h('div', { class: 'more', hidden: true }, moreButton);
    const sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
    const scroller = h('div', { class: 'scroller', part: 'scroller' }, status, feed, empty, more, sentinel);
    const panel = h(
      'div',
      { class: 'panel', part: 'panel', id: `${this.uid}-panel`, role: 'dialog', 'aria-labelledby': `${this.uid}-title`, hidden: true },
      h('div', { class: 'header', part: 'header' }, title, markAll, close),
      tabs,
      banner,
      scroller,
    );
    const root = h('div', { class: 'root', part: 'root' }, bell, panel);
    this.shadow.append(root);
    this.ui = { root, bell, badge, panel, title, markAll, close, tabs, banner, scroller, feed, status, empty, more, moreButton, sentinel };

    bell.addEventListener('click', () => (this.layoutMode === 'inline' ? this.focusFirstRow() : this.toggle()));
    bell.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowDown' && this.layoutMode !== 'inline') {
        event.preventDefault();
        this.show();
      }
    });
    close.addEventListener('click', () => this.hide(true));
    markAll.addEventListener('click', () => this.markAllRead());
    moreButton.addEventListener('click', () => this.loadMore());
    tabs.addEventListener('click', (event) => {
      const tab = (event.target as Element).closest<HTMLElement>('[role=tab]');
      if (tab) this.selectTab(Number(tab.dataset.index), true);
    });
    tabs.addEventListener('keydown', (event) => this.onTabKey(event));
    feed.addEventListener('click', (event) => this.onFeedClick(event));
    feed.addEventListener('keydown', (event) => this.onFeedKey(event));
    scroller.addEventListener('scroll', () => this.closeMenu(false), { passive: true });
    panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.layoutMode !== 'inline') {
        event.stopPropagation();
        this.hide(true);
      }
    });
    this.applyTexts();
  }

  /** The InboxClient shown: the one given, or the one the element made from its attributes. */
  get client(): InboxClient | null {
    return this.active;
  }

  /** Gives the element a client to show (the element does not dispose it); `null` goes back to the attributes. */
  set client(client: InboxClient | null) {
    this.givenClient = client;
    this.queueRestart();
  }

  /** The tabs (views of design.md §5); default All, Unread and Archived on an inbox v2 client. */
  get views(): readonly InboxTab[] {
    return this.tabList;
  }

  set views(tabs: readonly InboxTab[] | null) {
    this.customTabs = tabs && tabs.length > 0 ? tabs : null;
    if (this.active) this.setupTabs();
  }

  /** Overrides texts of the current catalog. */
  set messages(overrides: Partial<InboxMessages>) {
    this.messageOverrides = { ...overrides };
    this.applyTexts();
    this.rerenderRows();
  }

  get messages(): InboxMessages {
    return { ...messagesFor(this.localeTag), ...this.messageOverrides };
  }

  /** Whether the popover is open (always true inline). */
  get open(): boolean {
    return this.layoutMode === 'inline' || this.hasAttribute('open');
  }

  set open(value: boolean) {
    if (value) this.show();
    else this.hide(false);
  }

  /** The badge's count. */
  get count(): number {
    return this.badgeCount;
  }

  /** Opens the popover and moves the focus into it. */
  show(): void {
    if (this.layoutMode === 'inline') return;
    if (!this.hasAttribute('open')) this.setAttribute('open', '');
    this.focusFirstRow();
  }

  /** Closes the popover; `focusBell` gives the focus back to the bell. */
  hide(focusBell = false): void {
    this.closeMenu(false);
    if (this.hasAttribute('open')) this.removeAttribute('open');
    if (focusBell) this.ui.bell.focus();
  }

  toggle(): void {
    if (this.open) this.hide(false);
    else this.show();
  }

  connectedCallback(): void {
    document.addEventListener('pointerdown', this.onDocumentPointer, true);
    document.addEventListener('visibilitychange', this.onVisibility);
    window.addEventListener('online', this.onNetwork);
    window.addEventListener('offline', this.onNetwork);
    this.seenObserver = new IntersectionObserver((entries) => this.onRowsSeen(entries), { root: this.ui.scroller, threshold: 0.6 });
    this.moreObserver = new IntersectionObserver((entries) => entries.some((entry) => entry.isIntersecting) && this.loadMore(true), { root: this.ui.scroller, rootMargin: `${MORE_MARGIN_PX}px` });
    this.moreObserver.observe(this.ui.sentinel);
    for (const { element } of this.rows.values()) this.seenObserver.observe(element);
    this.clockTimer = setInterval(() => this.refreshTimes(), 30_000);
    this.applyOpen();
    this.renderBanner();
    this.queueRestart();
  }

  disconnectedCallback(): void {
    document.removeEventListener('pointerdown', this.onDocumentPointer, true);
    document.removeEventListener('visibilitychange', this.onVisibility);
    window.removeEventListener('online', this.onNetwork);
    window.removeEventListener('offline', this.onNetwork);
    this.seenObserver?.disconnect();
    this.moreObserver?.disconnect();
    this.seenObserver = this.moreObserver = null;
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.clockTimer = null;
    // A move within the page (disconnect then connect in one task) keeps the connection.
    queueMicrotask(() => {
      if (!this.isConnected) this.stop();
    });
  }

  attributeChangedCallback(name: string, before: string | null, after: string | null): void {
    if (before === after) return;
    if (CONNECTION_ATTRIBUTES.has(name)) this.queueRestart();
    else if (name === 'locale') {
      this.applyTexts();
      this.rerenderRows();
    } else if (name === 'badge') this.refreshBadge();
    else if (name === 'views') {
      this.customTabs = parseViews(after);
      if (this.active) this.setupTabs();
    } else if (name === 'open' || name === 'layout') this.applyOpen();
  }

  private get layoutMode(): 'popover' | 'inline' {
    return this.getAttribute('layout') === 'inline' ? 'inline' : 'popover';
  }

  private get localeTag(): string {
    const wanted = this.getAttribute('locale') ?? this.closest('[lang]')?.getAttribute('lang') ?? navigator.language ?? 'en';
    try {
      return Intl.getCanonicalLocales(wanted)[0] ?? 'en';
    } catch {
      return 'en';
    }
  }

  private get badgeKind(): 'unread' | 'unseen' {
    return this.getAttribute('badge') === 'unseen' ? 'unseen' : 'unread';
  }

  // ---- connection -------------------------------------------------------------------------

  private queueRestart(): void {
    if (this.restartQueued) return;
    this.restartQueued = true;
    queueMicrotask(() => {
      this.restartQueued = false;
      if (!this.isConnected) return;
      this.stop();
      this.start();
    });
  }

  private start(): void {
    const client = this.givenClient ?? this.clientFromAttributes();
    if (!client) return;
    const generation = ++this.generation;
    this.started = true;
    this.active = client;
    this.ownsClient = client !== this.givenClient;
    this.failure = null;
    this.loading = true;
    this.connection = 'connecting';
    this.everConnected = false;
    const v2 = supportsViews(client);
    const badgeStream = v2 ? null : client.pendingNotificationsCountStream;
    this.clientStops.push(
      client.connectionStateStream.listen((state) => {
        this.connection = state;
        if (state === 'connected') this.everConnected = true;
        this.renderBanner();
      }),
      client.errors.listen((error) => {
        this.emit('herald-error', { error });
        // Before the first page, a refused or failing token is shown at once (the client keeps retrying).
        if (this.loading && error.name !== 'HeraldNetworkError') {
          this.failure = error;
          this.renderBanner();
        }
      }),
    );
    if (v2) {
      this.clientStops.push(
        client.countsStream.listen((counts) => {
          this.unreadCount = counts.unread;
          this.setBadge(counts[this.badgeKind]);
          this.queueTabCounts();
        }),
      );
    } else if (badgeStream) {
      this.clientStops.push(
        badgeStream.listen((count) => {
          this.unreadCount = count;
          this.setBadge(count);
        }),
      );
    }
    this.setupTabs();
    client.init().then(
      () => {
        if (generation !== this.generation) return;
        this.emit('herald-ready', { client });
      },
      (error: unknown) => {
        if (generation !== this.generation) return;
        this.fail(error as Error);
      },
    );
  }

  private stop(): void {
    if (!this.started) return;
    this.started = false;
    this.generation++;
    for (const stop of this.clientStops.splice(0)) stop();
    this.closeFeed();
    if (this.ownsClient) void this.active?.dispose();
    this.active = null;
    if (this.tabCountsTimer) clearTimeout(this.tabCountsTimer);
    if (this.seenTimer) clearTimeout(this.seenTimer);
    this.tabCountsTimer = this.seenTimer = null;
    this.seenQueue.clear();
    this.seenSent.clear();
    this.setBadge(0);
  }

  private clientFromAttributes(): InboxClient | null {
    const appId = this.getAttribute('app-id');
    const appKey = this.getAttribute('app-key');
    const userId = this.getAttribute('user-id');
    const tokenUrl = this.getAttribute('token-url');
    if (!appId || !appKey || !userId || !tokenUrl) return null;
    const useTLS = this.hasAttribute('tls') ? this.getAttribute('tls') !== 'false' : location.protocol === 'https:';
    const port = Number(this.getAttribute('port') ?? (location.port || (useTLS ? 443 : 80)));
    const url = new URL(tokenUrl, document.baseURI).href;
    return new InboxClient({
      host: this.getAttribute('host') ?? location.hostname,
      port,
      useTLS,
      appId,
      appKey,
      userId,
      pageSize: 20,
      token: async () => {
        const response = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
        const body = (await response.json().catch(() => null)) as { token?: unknown } | null;
        if (!response.ok || typeof body?.token !== 'string') throw new Error(`token-url ${url} answered ${response.status} without a "token"`);
        return body.token;
      },
    });
  }

  // ---- tabs and the feed -------------------------------------------------------------------

  private setupTabs(): void {
    const client = this.active;
    if (!client) return;
    this.tabList = supportsViews(client) ? (this.customTabs ?? DEFAULT_TABS) : [{ id: 'all', filter: {} }];
    this.activeTab = Math.min(this.activeTab, this.tabList.length - 1);
    const { tabs } = this.ui;
    tabs.replaceChildren(
      ...this.tabList.map((tab, index) =>
        h(
          'button',
          { type: 'button', role: 'tab', class: 'tab', part: 'tab', id: `${this.uid}-tab-${index}`, 'data-index': index, 'data-view': tab.id, 'aria-controls': `${this.uid}-feed` },
          h('span', { class: 'tab-label' }),
          h('span', { class: 'tab-count', 'data-count': '0', 'aria-hidden': 'true' }),
        ),
      ),
    );
    tabs.hidden = this.tabList.length < 2;
    this.applyTexts();
    this.selectTab(this.activeTab, false);
    this.queueTabCounts();
  }

  private selectTab(index: number, focus: boolean): void {
    const client = this.active;
    if (!client || !this.tabList[index]) return;
    this.activeTab = index;
    this.ui.tabs.querySelectorAll<HTMLElement>('[role=tab]').forEach((tab, i) => {
      tab.setAttribute('aria-selected', String(i === index));
      tab.tabIndex = i === index ? 0 : -1;
      if (i === index && focus) tab.focus();
    });
    if (this.tabList.length > 1) this.ui.feed.setAttribute('aria-labelledby', `${this.uid}-title ${this.uid}-tab-${index}`);
    this.closeFeed();
    const source = feedFor(client, this.tabList[index]);
    this.source = source;
    this.loading = true;
    this.moreWanted = false;
    this.sourceStop = source.notificationsStream.listen((list) => this.renderList(list));
    const generation = this.generation;
    source.ready().then(
      () => {
        if (this.source !== source || generation !== this.generation) return;
        this.loading = false;
        this.failure = null;
        this.renderList(source.notificationsStream.value);
        this.renderBanner();
        this.loadMoreIfAtEnd();
      },
      (error: unknown) => {
        if (this.source === source && generation === this.generation) this.fail(error as Error);
      },
    );
  }

  private closeFeed(): void {
    this.sourceStop?.();
    this.sourceStop = null;
    this.source?.dispose();
    this.source = null;
    this.closeMenu(false);
    for (const { element } of this.rows.values()) this.seenObserver?.unobserve(element);
    this.rows.clear();
    this.onScreen.clear();
    this.list = [];
    this.ui.feed.replaceChildren();
    this.renderState();
  }

  private renderList(list: readonly UiNotification[]): void {
    this.list = list;
    const { feed } = this.ui;
    const keep = new Set(list.map((n) => n.id));
    for (const [id, row] of this.rows) {
      if (keep.has(id)) continue;
      this.seenObserver?.unobserve(row.element);
      this.onScreen.delete(id);
      row.element.remove();
      this.rows.delete(id);
    }
    const context = this.rowContext();
    list.forEach((n, index) => {
      let row = this.rows.get(n.id);
      // Views may hand out new objects for unchanged notifications: a row is rebuilt only when its content changed.
      const key = JSON.stringify(n);
      if (row && row.notification !== n && row.key === key) row.notification = n;
      if (!row || row.key !== key) {
        const element = renderRow(n, { ...context, idPrefix: `${this.uid}-r${++this.rowCounter}` });
        if (row) {
          const hadFocus = row.element.contains(this.shadow.activeElement);
          this.seenObserver?.unobserve(row.element);
          row.element.replaceWith(element);
          if (hadFocus) element.querySelector<HTMLElement>('.item-main')?.focus();
        }
        row = { element, notification: n, key };
        this.rows.set(n.id, row);
        this.seenObserver?.observe(element);
      }
      const { element } = row;
      element.setAttribute('aria-posinset', String(index + 1));
      element.setAttribute('aria-setsize', this.source?.hasMore ? '-1' : String(list.length));
      if (feed.children[index] !== element) feed.insertBefore(element, feed.children[index] ?? null);
    });
    this.renderState();
  }

  private rerenderRows(): void {
    if (this.rows.size === 0) return;
    for (const { element } of this.rows.values()) {
      this.seenObserver?.unobserve(element);
      element.remove();
    }
    this.rows.clear();
    this.renderList(this.list);
  }

  private rowContext(): { locale: string; messages: InboxMessages; now: number; tools: boolean } {
    return { locale: this.localeTag, messages: this.messages, now: Date.now(), tools: this.active !== null && supportsViews(this.active) };
  }

  private renderState(): void {
    const { status, empty, more, feed, markAll } = this.ui;
    const messages = this.messages;
    const showLoading = this.loading && this.list.length === 0 && !this.failure;
    status.hidden = !showLoading;
    status.textContent = showLoading ? messages.loading : '';
    feed.setAttribute('aria-busy', String(this.loading || this.loadingMore));
    const isEmpty = !this.loading && !this.failure && this.list.length === 0;
    empty.hidden = !isEmpty;
    if (isEmpty) {
      const archived = this.tabList[this.activeTab]?.filter.archived === 'only';
      empty.replaceChildren(icon('inbox'), h('strong', {}, archived ? messages.emptyArchived : messages.empty), archived ? '' : h('span', {}, messages.emptyHint));
    }
    more.hidden = !this.source?.hasMore || this.list.length === 0;
    const unreadShown = this.list.some((n) => !n.opened);
    markAll.disabled = this.active === null || (this.unreadCount === 0 && !unreadShown);
  }

  private renderBanner(): void {
    const { banner } = this.ui;
    const messages = this.messages;
    const offline = (typeof navigator !== 'undefined' && navigator.onLine === false) || (this.everConnected && OFFLINE_STATES.has(this.connection));
    banner.replaceChildren();
    banner.className = 'banner';
    if (this.failure) {
      banner.classList.add('error');
      const retry = h('button', { type: 'button', class: 'link-button', part: 'retry' }, messages.retry);
      retry.addEventListener('click', () => {
        this.stop();
        this.start();
      });
      banner.append(h('span', {}, messages.error), retry);
    } else if (offline) {
      banner.classList.add('offline');
      banner.append(messages.offline);
    } else if (this.notice) {
      banner.classList.add('error');
      banner.append(this.notice);
    }
    banner.hidden = banner.childNodes.length === 0;
    banner.dataset.state = this.failure ? 'error' : offline ? 'offline' : this.notice ? 'notice' : 'ok';
    // A custom element's constructor may not add attributes to its host: only once it is in a document.
    if (this.isConnected) this.dataset.state = this.failure ? 'error' : offline ? 'offline' : this.loading ? 'loading' : 'ready';
    this.renderState();
  }

  private fail(error: Error): void {
    this.failure = error;
    this.loading = false;
    this.emit('herald-error', { error });
    this.renderBanner();
  }

  private showNotice(error: unknown): void {
    this.notice = this.messages.actionFailed;
    this.emit('herald-error', { error: error as Error });
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => {
      this.notice = null;
      this.renderBanner();
    }, NOTICE_MS);
    this.renderBanner();
  }

  private setBadge(count: number): void {
    const previous = this.badgeCount;
    this.badgeCount = count;
    const { badge, bell } = this.ui;
    badge.textContent = String(count);
    badge.dataset.count = String(count);
    bell.setAttribute('aria-label', format(this.badgeKind === 'unseen' ? this.messages.bellLabelUnseen : this.messages.bellLabel, { count }));
    if (count > previous && this.started) {
      bell.classList.remove('ring');
      void bell.offsetWidth;
      bell.classList.add('ring');
    }
    if (count !== previous) this.emit('herald-count', { count });
    this.renderState();
  }

  private refreshBadge(): void {
    const client = this.active;
    if (!client) return;
    if (supportsViews(client)) this.setBadge(client.countsStream.value[this.badgeKind]);
    else this.setBadge(client.pendingNotificationsCount);
  }

  private queueTabCounts(): void {
    const client = this.active;
    if (!client || !supportsViews(client) || this.tabList.length < 2 || this.tabCountsTimer) return;
    this.tabCountsTimer = setTimeout(() => {
      this.tabCountsTimer = null;
      const views: Record<string, InboxTab['filter']> = {};
      this.tabList.forEach((tab, index) => (views[`t${index}`] = tab.filter));
      const generation = this.generation;
      client.counts(views).then(
        (answer) => {
          if (generation !== this.generation) return;
          this.ui.tabs.querySelectorAll<HTMLElement>('.tab-count').forEach((element, index) => {
            const counts = answer.views[`t${index}`];
            const shown = this.tabList[index]?.filter.archived === 'only' ? 0 : (counts?.unread ?? 0);
            element.textContent = String(shown);
            element.dataset.count = String(shown);
          });
        },
        () => undefined,
      );
    }, 150);
  }

  private applyTexts(): void {
    const messages = this.messages;
    const { root, title, markAll, close, moreButton, tabs } = this.ui;
    root.dir = directionOf(this.localeTag);
    root.lang = this.localeTag;
    title.textContent = messages.title;
    markAll.textContent = messages.markAllRead;
    close.setAttribute('aria-label', messages.close);
    moreButton.textContent = messages.loadMore;
    const builtIn: Record<string, string> = { all: messages.tabAll, unread: messages.tabUnread, archived: messages.tabArchived };
    tabs.querySelectorAll<HTMLElement>('.tab-label').forEach((label, index) => {
      const tab = this.tabList[index];
      label.textContent = tab?.label ?? builtIn[tab?.id ?? ''] ?? tab?.id ?? '';
    });
    this.setBadge(this.badgeCount);
    this.renderBanner();
  }

  private applyOpen(): void {
    const open = this.open;
    const { panel, bell } = this.ui;
    panel.hidden = !open;
    panel.setAttribute('role', this.layoutMode === 'inline' ? 'region' : 'dialog');
    if (this.layoutMode === 'inline') {
      bell.removeAttribute('aria-expanded');
      bell.removeAttribute('aria-haspopup');
    } else {
      bell.setAttribute('aria-haspopup', 'dialog');
      bell.setAttribute('aria-expanded', String(open));
    }
    if (!open) this.onScreen.clear();
    else this.flushVisible();
    if (open !== this.wasOpen) this.emit('herald-toggle', { open });
    this.wasOpen = open;
  }

  private refreshTimes(): void {
    const context = { locale: this.localeTag, now: Date.now() };
    this.ui.feed.querySelectorAll<HTMLTimeElement>('time.meta').forEach((time) => (time.textContent = timeText(time.dateTime, context)));
  }

  // ---- actions ------------------------------------------------------------------------------

  private onFeedClick(event: Event): void {
    const target = (event.target as Element).closest<HTMLElement>('[data-action]');
    const rowElement = target?.closest<HTMLElement>('[data-id]');
    const notification = rowElement ? this.rows.get(rowElement.dataset.id ?? '')?.notification : undefined;
    const client = this.active;
    if (!target || !notification || !client) return;
    const action = target.dataset.action as RowAction;
    const report = (error: unknown) => this.showNotice(error);
    switch (action) {
      case 'open':
        if (!notification.opened) client.markOpened([notification.id]).catch(report);
        this.emit('herald-open', { notification });
        break;
      case 'press': {
        const buttonId = target.dataset.buttonId ?? '';
        target.classList.add('pressed');
        client.pressButton(notification.id, buttonId).catch(report);
        if (!notification.opened) client.markOpened([notification.id]).catch(report);
        this.emit('herald-action', { notification, buttonId });
        break;
      }
      case 'archive':
      case 'unarchive':
        if (supportsViews(client)) {
          this.moveFocusPast(rowElement!);
          (action === 'archive' ? client.archive([notification.id]) : client.unarchive([notification.id])).catch(report);
        }
        break;
      case 'snooze':
        if (this.menu?.trigger === target) this.closeMenu(true);
        else this.openSnoozeMenu(target as HTMLButtonElement, notification.id);
        break;
    }
  }

  private markAllRead(): void {
    const client = this.active;
    if (!client) return;
    const report = (error: unknown) => this.showNotice(error);
    if (supportsViews(client)) client.markAllOpened(this.tabList[this.activeTab]?.filter).catch(report);
    else client.markAllOpened().catch(report);
  }

  private loadMore(fromScroll = false): void {
    const source = this.source;
    if (fromScroll && (this.loadingMore || this.loading)) this.moreWanted = true;
    if (!source || !source.hasMore || this.loadingMore || this.loading) return;
    if (fromScroll && this.list.length === 0) return;
    this.loadingMore = true;
    this.renderState();
    const shown = source.notificationsStream.value.length;
    source
      .loadMore()
      .catch((error: unknown) => this.showNotice(error))
      .finally(() => {
        this.loadingMore = false;
        if (this.source !== source) return;
        this.renderList(source.notificationsStream.value);
        // Only after a page that added rows: a source that keeps saying it has more but brings
        // nothing must not be asked again and again.
        if (source.notificationsStream.value.length > shown) this.loadMoreIfAtEnd();
      });
  }

  /**
   * The observer reports only changes: a sentinel that came into range while a page was loading
   * (and stayed there) would never load the next one. Checked again once a load is done.
   */
  private loadMoreIfAtEnd(): void {
    const wanted = this.moreWanted;
    this.moreWanted = false;
    if (wanted) return this.loadMore(true);
    const scroller = this.ui.scroller.getBoundingClientRect();
    if (scroller.height === 0) return;
    if (this.ui.sentinel.getBoundingClientRect().top <= scroller.bottom + MORE_MARGIN_PX) this.loadMore(true);
  }

  private openSnoozeMenu(trigger: HTMLButtonElement, id: string): void {
    this.closeMenu(false);
    const messages = this.messages;
    const choices: ['hour' | 'tomorrow' | 'week', string][] = [
      ['hour', messages.snoozeHour],
      ['tomorrow', messages.snoozeTomorrow],
      ['week', messages.snoozeNextWeek],
    ];
    const element = h(
      'div',
      { class: 'menu', part: 'menu', role: 'menu', 'aria-label': messages.snooze },
      ...choices.map(([choice, text]) => h('button', { type: 'button', role: 'menuitem', tabindex: '-1', 'data-snooze': choice }, text)),
    );
    element.addEventListener('click', (event) => {
      const item = (event.target as Element).closest<HTMLElement>('[data-snooze]');
      const client = this.active;
      if (!item || !client || !supportsViews(client)) return;
      const until = snoozeUntil(item.dataset.snooze as 'hour' | 'tomorrow' | 'week', new Date());
      const row = trigger.closest<HTMLElement>('[data-id]');
      this.closeMenu(false);
      if (row) this.moveFocusPast(row);
      client.snooze([id], until).catch((error: unknown) => this.showNotice(error));
    });
    element.addEventListener('keydown', (event) => this.onMenuKey(event));
    trigger.after(element);
    // Fixed to the viewport, so the feed's scrolling area never clips it: below the button, or above near the bottom.
    const button = trigger.getBoundingClientRect();
    const below = window.innerHeight - button.bottom >= element.offsetHeight + 8;
    element.style.top = below ? `${button.bottom + 4}px` : `${Math.max(4, button.top - element.offsetHeight - 4)}px`;
    if (this.ui.root.dir === 'rtl') element.style.left = `${button.left}px`;
    else element.style.right = `${document.documentElement.clientWidth - button.right}px`;
    trigger.setAttribute('aria-expanded', 'true');
    trigger.parentElement?.classList.add('menu-open');
    this.menu = { element, trigger, id };
    element.querySelector<HTMLElement>('[role=menuitem]')?.focus();
  }

  private closeMenu(focusTrigger: boolean): void {
    const menu = this.menu;
    if (!menu) return;
    this.menu = null;
    menu.element.remove();
    menu.trigger.setAttribute('aria-expanded', 'false');
    menu.trigger.parentElement?.classList.remove('menu-open');
    if (focusTrigger) menu.trigger.focus();
  }

  /** Before a row leaves the list, the focus goes to its neighbour rather than to nowhere. */
  private moveFocusPast(row: HTMLElement): void {
    if (!row.contains(this.shadow.activeElement)) return;
    const next = (row.nextElementSibling ?? row.previousElementSibling) as HTMLElement | null;
    (next?.querySelector<HTMLElement>('.item-main') ?? this.ui.markAll).focus();
  }

  // ---- keyboard -----------------------------------------------------------------------------

  private focusFirstRow(): void {
    queueMicrotask(() => {
      const target = this.ui.feed.querySelector<HTMLElement>('.item-main') ?? this.ui.tabs.querySelector<HTMLElement>('[aria-selected=true]') ?? this.ui.markAll;
      if (target && !target.hidden) target.focus();
    });
  }

  private onTabKey(event: KeyboardEvent): void {
    const count = this.tabList.length;
    const rtl = this.ui.root.dir === 'rtl';
    const step: Record<string, number> = { ArrowRight: rtl ? -1 : 1, ArrowLeft: rtl ? 1 : -1 };
    let next: number | null = null;
    if (event.key in step) next = (this.activeTab + step[event.key] + count) % count;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = count - 1;
    if (next === null) return;
    event.preventDefault();
    this.selectTab(next, true);
  }

  private onFeedKey(event: KeyboardEvent): void {
    const keys: Record<string, number> = { ArrowDown: 1, PageDown: 1, ArrowUp: -1, PageUp: -1 };
    if (!(event.key in keys) || this.menu) return;
    const current = (event.target as Element).closest<HTMLElement>('[data-id]');
    if (!current) return;
    const rows = Array.from(this.ui.feed.children) as HTMLElement[];
    const next = rows[rows.indexOf(current) + keys[event.key]];
    event.preventDefault();
    next?.querySelector<HTMLElement>('.item-main')?.focus();
    if (!next && keys[event.key] > 0) this.loadMore();
  }

  private onMenuKey(event: KeyboardEvent): void {
    const items = this.menu ? Array.from(this.menu.element.querySelectorAll<HTMLElement>('[role=menuitem]')) : [];
    const index = items.indexOf(this.shadow.activeElement as HTMLElement);
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1 };
    if (event.key in moves) {
      event.preventDefault();
      items[(index + moves[event.key] + items.length) % items.length]?.focus();
    } else if (event.key === 'Home' || event.key === 'End') {
      event.preventDefault();
      items[event.key === 'Home' ? 0 : items.length - 1]?.focus();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      this.closeMenu(true);
    } else if (event.key === 'Tab') {
      this.closeMenu(false);
    }
  }

  private readonly onDocumentPointer = (event: Event): void => {
    const path = event.composedPath();
    if (this.menu && !path.includes(this.menu.element) && !path.includes(this.menu.trigger)) this.closeMenu(false);
    if (this.layoutMode === 'popover' && this.open && !path.includes(this)) this.hide(false);
  };

  private readonly onVisibility = (): void => this.flushVisible();

  private readonly onNetwork = (): void => this.renderBanner();

  // ---- seen on view -------------------------------------------------------------------------

  private onRowsSeen(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      const id = (entry.target as HTMLElement).dataset.id;
      if (!id) continue;
      if (entry.isIntersecting) this.onScreen.add(id);
      else this.onScreen.delete(id);
    }
    this.flushVisible();
  }

  /** Marks seen what is on screen in an open panel of a visible page. */
  private flushVisible(): void {
    const client = this.active;
    if (!client || !supportsViews(client) || !this.open || document.visibilityState !== 'visible') return;
    for (const id of this.onScreen) {
      const n = this.rows.get(id)?.notification;
      if (n && n.seen === false && !n.opened && !this.seenSent.has(id)) this.seenQueue.add(id);
    }
    if (this.seenQueue.size === 0 || this.seenTimer) return;
    this.seenTimer = setTimeout(() => {
      this.seenTimer = null;
      const ids = [...this.seenQueue];
      this.seenQueue.clear();
      for (const id of ids) this.seenSent.add(id);
      const current = this.active;
      if (current && supportsViews(current)) {
        current.markSeen(ids).catch((error: unknown) => {
          for (const id of ids) this.seenSent.delete(id);
          this.emit('herald-error', { error: error as Error });
        });
      }
    }, SEEN_BATCH_MS);
  }

  private emit<K extends keyof HeraldInboxEventMap>(type: K, detail: HeraldInboxEventMap[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

/** The `views` attribute: a JSON array of `{ id, label?, filter }`. */
function parseViews(value: string | null): readonly InboxTab[] | null {
  if (!value) return null;
  try {
    const parsed = JSON.parse(value) as unknown;
    if (!Array.isArray(parsed)) return null;
    const tabs = parsed.filter((tab): tab is InboxTab => typeof tab === 'object' && tab !== null && typeof (tab as InboxTab).id === 'string');
    return tabs.map((tab) => ({ id: tab.id, label: tab.label, filter: tab.filter ?? {} }));
  } catch {
    return null;
  }
}

let sheet: CSSStyleSheet | null = null;

/** The stylesheet as a constructable sheet, which a page's CSP `style-src` allows, or a <style> where unsupported. */
function adoptStyles(shadow: ShadowRoot): void {
  if ('adoptedStyleSheets' in shadow && typeof CSSStyleSheet !== 'undefined' && 'replaceSync' in CSSStyleSheet.prototype) {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(INBOX_CSS);
    }
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.append(h('style', {}, INBOX_CSS));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'herald-inbox': HeraldInboxElement;
  }
}
