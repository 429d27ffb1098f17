/**
 * Herald's service worker (bundled to `/sdk/herald-sw.js`; apps serve a copy from their own origin):
 * shows each push (heading, content, image, buttons as actions, one slot per tag), sets the app
 * badge, and on a click marks the notification opened on Herald (with the push's receipt), records
 * the button pressed, and opens or focuses the app. `?herald=` names Herald's URL, `?open=` the page.
 */
import { isPushBody, notificationOf, type PushBody } from './push-display.js';
import { indexedDbRegistrations, renewSubscription } from './push-registration.js';

/** The parts of the service worker global this script uses (the DOM library has no worker types). */
interface WorkerGlobal {
  readonly location: Location;
  readonly registration: {
    readonly scope: string;
    showNotification(title: string, options: Record<string, unknown>): Promise<void>;
    readonly pushManager: { subscribe(options: { userVisibleOnly: boolean; applicationServerKey: BufferSource }): Promise<PushSubscription> };
  };
  readonly clients: {
    matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<{ url: string; focus(): Promise<unknown>; navigate?(url: string): Promise<unknown> }[]>;
    openWindow(url: string): Promise<unknown>;
  };
  readonly caches: {
    open(name: string): Promise<{ match(key: string): Promise<unknown>; put(key: string, response: Response): Promise<void>; keys(): Promise<readonly Request[]>; delete(key: Request): Promise<boolean> }>;
  };
  readonly navigator: { setAppBadge?(count: number): Promise<void>; clearAppBadge?(): Promise<void> };
  addEventListener(type: 'push', listener: (event: PushEventLike) => void): void;
  addEventListener(type: 'notificationclick', listener: (event: ClickEventLike) => void): void;
  addEventListener(type: 'pushsubscriptionchange', listener: (event: SubscriptionChangeEventLike) => void): void;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEventLike) => void): void;
  skipWaiting(): Promise<void>;
  readonly clientsClaim?: never;
}

interface ExtendableEventLike {
  waitUntil(work: Promise<unknown>): void;
}

interface PushEventLike extends ExtendableEventLike {
  readonly data: { json(): unknown } | null;
}

interface SubscriptionChangeEventLike extends ExtendableEventLike {
  readonly oldSubscription?: PushSubscription | null;
  readonly newSubscription?: PushSubscription | null;
}

interface ClickEventLike extends ExtendableEventLike {
  readonly action: string;
  readonly notification: { readonly data: unknown; close(): void };
}

const sw = globalThis as unknown as WorkerGlobal & { clients: WorkerGlobal['clients'] & { claim(): Promise<void> } };
const params = new URL(sw.location.href).searchParams;
const heraldUrl = params.get('herald');
const openUrl = params.get('open');

/** `waitUntil` throws for an event the page dispatched itself (untrusted); the work still runs. */
function keepAlive(event: ExtendableEventLike, work: Promise<unknown>): void {
  try {
    event.waitUntil(work);
  } catch {
    // Not a browser-dispatched event: nothing to keep alive.
  }
}

const SEEN_CACHE = 'herald-push-seen';
const SEEN_KEEP = 200;

/**
 * Whether this message was shown before (and remembers it). A message the provider accepted just
 * before Herald crashed can come again: it is then shown without alerting a second time.
 */
async function seenBefore(messageId: string | undefined): Promise<boolean> {
  if (messageId === undefined) return false;
  try {
    const cache = await sw.caches.open(SEEN_CACHE);
    const key = `${sw.registration.scope}__herald/seen/${encodeURIComponent(messageId)}`;
    if (await cache.match(key)) return true;
    await cache.put(key, new Response(''));
    const keys = await cache.keys();
    for (const old of keys.slice(0, Math.max(0, keys.length - SEEN_KEEP))) await cache.delete(old);
  } catch {
    // No Cache Storage: every message alerts.
  }
  return false;
}

async function show(body: PushBody): Promise<void> {
  const { title, options } = notificationOf(body, await seenBefore(body.message_id));
  await sw.registration.showNotification(title, options);
  await sw.navigator.setAppBadge?.(body.badge).catch(() => undefined);
}

/** The page a click opens: the payload's `url` on the same origin as the worker, else `?open=`, else the scope. */
function targetOf(body: PushBody): string {
  const url = (body.payload as { url?: unknown } | null | undefined)?.url;
  if (typeof url === 'string') {
    try {
      const target = new URL(url, sw.registration.scope);
      if (target.origin === sw.location.origin) return target.href;
    } catch {
      // Not a URL: fall back.
    }
  }
  return openUrl ?? sw.registration.scope;
}

async function markOpened(body: PushBody, action: string): Promise<void> {
  if (heraldUrl === null || body.id === null || body.receipt === null) return;
  await fetch(`${heraldUrl}/apps/${encodeURIComponent(body.app_id)}/push/clicks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: body.user_id, id: body.id, receipt: body.receipt, ...(action ? { button_id: action } : {}) }),
  }).catch(() => undefined);
}

async function focusOrOpen(url: string): Promise<void> {
  const windows = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const same = windows.find((client) => client.url === url) ?? windows.find((client) => new URL(client.url).origin === sw.location.origin);
  if (same) {
    await same.focus();
    if (same.url !== url) await same.navigate?.(url).catch(() => undefined);
    return;
  }
  await sw.clients.openWindow(url);
}

sw.addEventListener('install', (event) => keepAlive(event, sw.skipWaiting()));
sw.addEventListener('activate', (event) => keepAlive(event, sw.clients.claim()));

sw.addEventListener('push', (event) => {
  let body: unknown = null;
  try {
    body = event.data?.json() ?? null;
  } catch {
    body = null;
  }
  if (isPushBody(body)) keepAlive(event, show(body));
});

sw.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const body = event.notification.data;
  if (!isPushBody(body)) return;
  keepAlive(event, Promise.all([markOpened(body, event.action), focusOrOpen(targetOf(body))]));
});

// The browser replaced the subscription: subscribe again with the app's key, register the new one
// and remove the old device (what enableWebPush stored in IndexedDB names the user and Herald).
sw.addEventListener('pushsubscriptionchange', (event) => {
  keepAlive(
    event,
    renewSubscription({
      store: indexedDbRegistrations,
      newSubscription: event.newSubscription?.toJSON() ?? null,
      oldKey: event.oldSubscription?.options.applicationServerKey ?? null,
      subscribe: async (applicationServerKey) => (await sw.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey })).toJSON(),
      fetch: (input, init) => fetch(input, init),
    }),
  );
});
