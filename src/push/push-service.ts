/** The push side the HTTP routes use: VAPID keys (configured, or generated once and stored), devices, preferences, clicks. */
import type { Logger } from 'pino';
import type { App, AppRegistry } from '../config/apps.js';
import type { Inbox } from '../inbox/inbox.js';
import type { NewDevice, StoredDevice } from '../store/push-store.js';
import type { InboxStore } from '../store/store.js';
import { isClickReceipt } from './message.js';
import { DEFAULT_PREFERENCES, effectivePreferences, type EffectivePreferences, type Preferences } from './preferences.js';
import { generateVapidKeys, isVapidKeyPair, type VapidKeys } from './web-push-crypto.js';

export interface PushServiceDeps {
  readonly store: InboxStore;
  readonly apps: AppRegistry;
  readonly inbox: Inbox;
  readonly logger: Logger;
  readonly now: () => number;
}

/** A user's preferences and their effective result. */
export interface PreferencesView {
  readonly preferences: Preferences;
  readonly effective: EffectivePreferences;
}

/** Devices, preferences and VAPID keys of every app. */
export class PushService {
  private readonly vapid = new Map<string, Promise<VapidKeys>>();

  constructor(private readonly deps: PushServiceDeps) {}

  /**
   * The app's VAPID keys: from the apps file, else the stored pair, else a new pair stored now. Nodes
   * starting together each offer a pair; the store keeps the first, and every node uses that one.
   */
  vapidKeys(app: App): Promise<VapidKeys> {
    if (app.push.vapidKeys) return Promise.resolve(app.push.vapidKeys);
    let keys = this.vapid.get(app.id);
    if (!keys) {
      keys = this.deps.store.offline.vapidKeys(app.id, generateVapidKeys(), new Date(this.deps.now()));
      keys.catch(() => this.vapid.delete(app.id));
      this.vapid.set(app.id, keys);
    }
    return keys;
  }

  /** The VAPID keys of an app by id (for the Web Push provider). */
  vapidKeysOf = async (appId: string): Promise<VapidKeys> => {
    const app = this.deps.apps.findById(appId);
    if (!app) throw new Error(`unknown app "${appId}"`);
    return this.vapidKeys(app);
  };

  /** Makes sure every app has its keys (generated on first start), and warns about configured pairs that do not match. */
  async prepare(): Promise<void> {
    for (const app of this.deps.apps.all()) {
      if (app.push.vapidKeys && !isVapidKeyPair(app.push.vapidKeys)) {
        this.deps.logger.error({ app: app.id }, 'push.vapid: private_key does not belong to public_key; Web Push will fail');
      }
      await this.vapidKeys(app);
    }
  }

  addDevice(app: App, userId: string, device: NewDevice): Promise<StoredDevice> {
    return this.deps.store.offline.addDevice(app.id, userId, device, new Date(this.deps.now()));
  }

  listDevices(app: App, userId: string): Promise<StoredDevice[]> {
    return this.deps.store.offline.listDevices(app.id, userId);
  }

  removeDevice(app: App, userId: string, id: string): Promise<boolean> {
    return this.deps.store.offline.removeDevice(app.id, userId, id);
  }

  async preferences(app: App, userId: string): Promise<PreferencesView> {
    const preferences = (await this.deps.store.offline.getPreferences(app.id, userId)) ?? DEFAULT_PREFERENCES;
    return { preferences, effective: effectivePreferences(preferences, app.categories, this.deps.now()) };
  }

  async setPreferences(app: App, userId: string, preferences: Preferences): Promise<PreferencesView> {
    await this.deps.store.offline.putPreferences(app.id, userId, preferences, new Date(this.deps.now()));
    return { preferences, effective: effectivePreferences(preferences, app.categories, this.deps.now()) };
  }

  /**
   * A click on a pushed notification, proven by its receipt: opens it (every device learns, and
   * what is still pending for it is cancelled), and records the button pressed, if any.
   * Returns false when the receipt does not match.
   */
  async click(app: App, userId: string, id: string, receipt: string, buttonId: string | null): Promise<{ opened: boolean; recorded: boolean } | null> {
    if (!isClickReceipt(app.secret, userId, id, receipt)) return null;
    const result = await this.deps.inbox.open(app, userId, [id]);
    const recorded = buttonId === null ? false : await this.deps.inbox.recordAction(app, userId, id, buttonId);
    return { opened: result.opened.length > 0, recorded };
  }
}
