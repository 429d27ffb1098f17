/**
 * What the service worker needs to move a user's Web Push device to a new subscription when the
 * browser replaces it (`pushsubscriptionchange`: expiry, key rotation by the push service): stored
 * by `enableWebPush` (IndexedDB in the browser), read by the worker, which then subscribes again
 * with the app's VAPID key, registers the new subscription and removes the old device.
 */

/** Stored at enableWebPush (and on every later call, which refreshes the token). */
export interface PushRegistration {
  readonly heraldUrl: string;
  readonly appId: string;
  readonly userId: string;
  /** The device the current subscription is registered as. */
  readonly deviceId: string;
  /** The user token at the time (design §5 auth); a worker cannot ask the page for a fresh one. */
  readonly token: string;
}

/** Where the registration lives: IndexedDB in the worker and page, anything else in tests. */
export interface RegistrationStore {
  get(): Promise<PushRegistration | null>;
  put(registration: PushRegistration): Promise<void>;
}

/** What the worker does with the browser (injected, so the steps run and are tested outside one). */
export interface RenewalDeps {
  readonly store: RegistrationStore;
  /** The new subscription's JSON when the event carries one; else `subscribe` is asked. */
  readonly newSubscription: PushSubscriptionJSON | null;
  /** The old subscription's application server key, when the event carries it. */
  readonly oldKey: ArrayBuffer | null;
  readonly subscribe: (applicationServerKey: BufferSource) => Promise<PushSubscriptionJSON>;
  readonly fetch: typeof fetch;
}

/** What came of a renewal (for logs and tests). */
export type RenewalResult =
  | { readonly kind: 'renewed'; readonly deviceId: string; readonly removed: string | null }
  /** Nothing stored: enableWebPush never ran here. The page registers the subscription on its next enableWebPush. */
  | { readonly kind: 'not_enabled' }
  /** Herald refused or could not be reached; the next enableWebPush registers the new subscription, the old device goes once its push service reports it gone. */
  | { readonly kind: 'failed'; readonly error: string };

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

/** Subscribes again if needed, registers the new subscription as the user's device and removes the old one. */
export async function renewSubscription(deps: RenewalDeps): Promise<RenewalResult> {
  const stored = await deps.store.get();
  if (stored === null) return { kind: 'not_enabled' };
  const app = encodeURIComponent(stored.appId);
  const base = stored.heraldUrl.replace(/\/$/, '');
  try {
    let subscription = deps.newSubscription;
    if (subscription === null) {
      let key: BufferSource | null = deps.oldKey;
      if (key === null) {
        const response = await deps.fetch(`${base}/apps/${app}/push/vapid-public-key`);
        if (!response.ok) return { kind: 'failed', error: `vapid-public-key answered ${response.status}` };
        key = keyBytes(((await response.json()) as { public_key: string }).public_key);
      }
      subscription = await deps.subscribe(key);
    }
    const devices = `${base}/apps/${app}/users/${encodeURIComponent(stored.userId)}/devices`;
    const headers = { authorization: `Bearer ${stored.token}`, 'content-type': 'application/json' };
    const added = await deps.fetch(devices, { method: 'POST', headers, body: JSON.stringify({ kind: 'webpush', subscription: { endpoint: subscription.endpoint, keys: subscription.keys } }) });
    if (added.status !== 201) return { kind: 'failed', error: `registering the new subscription answered ${added.status}` };
    const device = (await added.json()) as { id: string };
    let removed: string | null = null;
    if (device.id !== stored.deviceId) {
      const gone = await deps.fetch(`${devices}/${encodeURIComponent(stored.deviceId)}`, { method: 'DELETE', headers: { authorization: headers.authorization } });
      if (gone.ok) removed = stored.deviceId;
    }
    await deps.store.put({ ...stored, deviceId: device.id });
    return { kind: 'renewed', deviceId: device.id, removed };
  } catch (error) {
    return { kind: 'failed', error: String((error as Error).message ?? error) };
  }
}

const DB_NAME = 'herald-push';
const STORE = 'registration';
const KEY = 'current';

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDb(): Promise<IDBDatabase> {
  const open = indexedDB.open(DB_NAME, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  return request(open);
}

/** The registration in IndexedDB (shared by the page and the worker of one origin). */
export const indexedDbRegistrations: RegistrationStore = {
  async get() {
    const db = await openDb();
    try {
      return ((await request(db.transaction(STORE).objectStore(STORE).get(KEY))) as PushRegistration | undefined) ?? null;
    } finally {
      db.close();
    }
  },
  async put(registration) {
    const db = await openDb();
    try {
      const tx = db.transaction(STORE, 'readwrite');
      tx.objectStore(STORE).put(registration, KEY);
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  },
};
