/**
 * `herald/react`: thin React bindings over the client SDK and `<herald-inbox>`. `<HeraldInbox>`
 * renders the element; `useInbox(view)` and `useCounts(views)` give a client's data to an app's
 * own components. React is a peer dependency.
 */
import { createContext, createElement, useContext, useEffect, useRef, useState, type CSSProperties, type ReactNode } from 'react';
import type { InboxClient } from '../client/index.js';
import { defineHeraldInbox, supportsViews, type HeraldInboxElement, type HeraldInboxEventMap, type InboxCounts, type InboxMessages, type InboxTab, type UiNotification, type ViewFilter } from '../inbox-ui/index.js';

const ClientContext = createContext<InboxClient | null>(null);

/** Gives `client` to the hooks and `<HeraldInbox>` elements below it. */
export function HeraldProvider(props: { client: InboxClient; children?: ReactNode }): ReactNode {
  return createElement(ClientContext.Provider, { value: props.client }, props.children);
}

/** The client of the nearest HeraldProvider (or the one given). */
export function useHeraldClient(client?: InboxClient | null): InboxClient | null {
  const fromContext = useContext(ClientContext);
  return client ?? fromContext;
}

/** Props of `<HeraldInbox>`: the element's attributes, its client and its events. */
export interface HeraldInboxProps {
  /** Default: the HeraldProvider's client; without one, the attributes below connect. */
  readonly client?: InboxClient | null;
  readonly appId?: string;
  readonly appKey?: string;
  readonly userId?: string;
  readonly host?: string;
  readonly port?: number;
  readonly tls?: boolean;
  readonly tokenUrl?: string;
  readonly locale?: string;
  readonly badge?: 'unread' | 'unseen';
  readonly layout?: 'popover' | 'inline';
  readonly theme?: 'light' | 'dark';
  readonly views?: readonly InboxTab[];
  readonly messages?: Partial<InboxMessages>;
  readonly className?: string;
  readonly style?: CSSProperties;
  readonly onOpen?: (notification: UiNotification) => void;
  readonly onAction?: (notification: UiNotification, buttonId: string) => void;
  readonly onCount?: (count: number) => void;
  readonly onError?: (error: Error) => void;
}

/** `<herald-inbox>` as a React component. */
export function HeraldInbox(props: HeraldInboxProps): ReactNode {
  defineHeraldInbox();
  const ref = useRef<HeraldInboxElement | null>(null);
  const client = useHeraldClient(props.client);
  const handlers = useRef(props);
  handlers.current = props;

  useEffect(() => {
    if (ref.current) ref.current.client = client;
  }, [client]);
  useEffect(() => {
    if (ref.current) ref.current.views = props.views ?? null;
  }, [props.views]);
  useEffect(() => {
    if (ref.current && props.messages) ref.current.messages = props.messages;
  }, [props.messages]);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const listeners: { [K in keyof HeraldInboxEventMap]?: (event: HeraldInboxEventMap[K]) => void } = {
      'herald-open': (event) => handlers.current.onOpen?.(event.detail.notification),
      'herald-action': (event) => handlers.current.onAction?.(event.detail.notification, event.detail.buttonId),
      'herald-count': (event) => handlers.current.onCount?.(event.detail.count),
      'herald-error': (event) => handlers.current.onError?.(event.detail.error),
    };
    for (const [type, listener] of Object.entries(listeners)) element.addEventListener(type, listener as EventListener);
    return () => {
      for (const [type, listener] of Object.entries(listeners)) element.removeEventListener(type, listener as EventListener);
    };
  }, []);

  const attributes: Record<string, unknown> = {
    ref,
    className: props.className,
    style: props.style,
    'app-id': props.appId,
    'app-key': props.appKey,
    'user-id': props.userId,
    host: props.host,
    port: props.port === undefined ? undefined : String(props.port),
    tls: props.tls === undefined ? undefined : String(props.tls),
    'token-url': props.tokenUrl,
    locale: props.locale,
    badge: props.badge,
    layout: props.layout,
    theme: props.theme,
  };
  return createElement('herald-inbox', attributes);
}

/** What `useInbox` returns. */
export interface InboxState {
  readonly notifications: readonly UiNotification[];
  readonly hasMore: boolean;
  /** False until the first page is loaded. */
  readonly ready: boolean;
  readonly error: Error | null;
  loadMore(): Promise<void>;
}

/**
 * The live notifications of a view (design.md §5 filter) of the provider's client: a view of an
 * inbox v2 client, or the whole inbox of a seed client (whose one list ignores the filter).
 */
export function useInbox(view: ViewFilter = {}, client?: InboxClient | null): InboxState {
  const inbox = useHeraldClient(client);
  const key = JSON.stringify(view);
  const [state, setState] = useState<InboxState>(() => ({ notifications: [], hasMore: false, ready: false, error: null, loadMore: async () => undefined }));
  useEffect(() => {
    if (!inbox) return;
    let live = true;
    const source = supportsViews(inbox) ? inbox.view(JSON.parse(key) as ViewFilter) : null;
    const stream = source ? source.notificationsStream : inbox.notificationsStream;
    const hasMore = () => (source ? source.hasMore : inbox.hasMore);
    const loadMore = () => (source ? source.loadMore() : inbox.loadMore());
    let ready = false;
    let error: Error | null = null;
    const publish = (notifications: readonly UiNotification[]) => {
      if (live) setState({ notifications, hasMore: hasMore(), ready, error, loadMore });
    };
    const stop = stream.listen(publish);
    (source ? source.ready() : inbox.init()).then(
      () => {
        ready = true;
        publish(stream.value);
      },
      (failure: unknown) => {
        error = failure as Error;
        publish(stream.value);
      },
    );
    return () => {
      live = false;
      stop();
      source?.dispose();
    };
  }, [inbox, key]);
  return state;
}

/**
 * Unseen, unread and total of each named view, kept current: `counts` of an inbox v2 client again
 * after every change; a seed client knows the whole inbox's unread only, given for every view.
 */
export function useCounts(views: Record<string, ViewFilter>, client?: InboxClient | null): Record<string, InboxCounts> | null {
  const inbox = useHeraldClient(client);
  const key = JSON.stringify(views);
  const [counts, setCounts] = useState<Record<string, InboxCounts> | null>(null);
  useEffect(() => {
    if (!inbox) return;
    let live = true;
    const names = Object.keys(JSON.parse(key) as Record<string, ViewFilter>);
    if (!supportsViews(inbox)) {
      return inbox.pendingNotificationsCountStream.listen((unread) => {
        const total = inbox.notifications.length;
        if (live) setCounts(Object.fromEntries(names.map((name) => [name, { unseen: unread, unread, total }])));
      });
    }
    let asked = 0;
    const refresh = () => {
      const ask = ++asked;
      inbox.counts(JSON.parse(key) as Record<string, ViewFilter>).then(
        (answer) => {
          if (live && ask === asked) setCounts(answer.views);
        },
        () => undefined,
      );
    };
    const stop = inbox.countsStream.listen(refresh);
    return () => {
      live = false;
      stop();
    };
  }, [inbox, key]);
  return counts;
}

export type { InboxCounts, InboxTab, UiNotification, ViewFilter } from '../inbox-ui/index.js';
