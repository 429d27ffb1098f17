/**
 * `InboxClient.enableWebPush()`: registers Herald's service worker (served by the app from its own
 * origin, a copy of `/sdk/herald-sw.js`), subscribes with the app's VAPID key and registers the
 * subscription as a device of the user. Browser only.
 */
import { HeraldError } from './errors.js';
import type { InboxApi } from './inbox-api.js';
import { indexedDbRegistrations } from './push-registration.js';

/** Options of `enableWebPush`. */
export interface WebPushOptions {
  /** Where the page's origin serves the service worker (default `/herald-sw.js`). */
  readonly serviceWorkerUrl?: string;
  /** The service worker's scope (default: its folder). */
  readonly scope?: string;
  /** The page a click opens when the notification's payload names no `url` (default: the scope). */
  readonly openUrl?: string;
}

/** The device Herald registered. */
export interface WebPushDevice {
  readonly id: string;
  readonly kind: 'webpush';
  readonly created_at: string;
}

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

function sameKey(a: ArrayBuffer | null, b: Uint8Array<ArrayBuffer>): boolean {
  if (a === null || a.byteLength !== b.length) return false;
  const bytes = new Uint8Array(a);
  return bytes.every((byte, i) => byte === b[i]);
}

/** Resolves once the registration has an active worker (a page outside its scope never gets `ready`). */
function activated(registration: ServiceWorkerRegistration): Promise<void> {
  if (registration.active) return Promise.resolve();
  const worker = registration.installing ?? registration.waiting;
  return new Promise((resolve, reject) => {
    if (!worker) return reject(new HeraldError('the service worker did not install'));
    worker.addEventListener('statechange', () => {
      if (worker.state === 'activated') resolve();
      else if (worker.state === 'redundant') reject(new HeraldError('the service worker failed to install'));
    });
  });
}

/** Enables Web Push for the user of `api` (see WebPushOptions). */
export async function enableWebPush(api: InboxApi, heraldUrl: string, appId: string, userId: string, options: WebPushOptions = {}): Promise<WebPushDevice> {
  if (typeof navigator === 'undefined' || !('serviceWorker' in navigator) || typeof PushManager === 'undefined' || typeof Notification === 'undefined') {
    throw new HeraldError('Web Push is not available here (it needs a browser with service workers, Push API and notifications, on https or localhost)');
  }
  const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
  if (permission !== 'granted') throw new HeraldError(`notifications are not allowed (permission: ${permission})`);
  const scriptUrl = new URL(options.serviceWorkerUrl ?? '/herald-sw.js', location.href);
  scriptUrl.searchParams.set('herald', heraldUrl);
  if (options.openUrl !== undefined) scriptUrl.searchParams.set('open', new URL(options.openUrl, location.href).href);
  const registration = await navigator.serviceWorker.register(scriptUrl.href, options.scope === undefined ? undefined : { scope: options.scope });
  await activated(registration);
  const app = encodeURIComponent(appId);
  const { public_key: publicKey } = await api.request<{ public_key: string }>('GET', `/apps/${app}/push/vapid-public-key`);
  const key = keyBytes(publicKey);
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
    // Made with another app server key (the app's keys changed): the push service would refuse ours.
    await subscription.unsubscribe();
    subscription = null;
  }
  subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  const device = await api.request<WebPushDevice>('POST', `/apps/${app}/users/${encodeURIComponent(userId)}/devices`, { kind: 'webpush', subscription: subscription.toJSON() }, true);
  // What the worker needs when the browser replaces the subscription (pushsubscriptionchange).
  await indexedDbRegistrations.put({ heraldUrl, appId, userId, deviceId: device.id, token: await api.token() }).catch(() => undefined);
  return device;
}
