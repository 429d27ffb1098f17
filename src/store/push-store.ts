/**
 * The push side of the store (migration 5): devices, preferences, VAPID keys, push jobs (one per
 * notification and user, evaluated when due) and the push outbox (one delivery per device).
 *
 * Contract every implementation keeps:
 * - A device is unique per (app, kind, address): adding it again returns the same device (moved
 *   to the user adding it, since a browser or phone changes hands when users sign out and in).
 * - Jobs are stored in the push's own transaction (see InboxStore.push), so an acknowledged push
 *   never loses its job.
 * - A claim of jobs or deliveries is a lease: concurrent claimers (nodes) never get the same row
 *   while it holds. `settleJobs` deletes or reschedules the claimed jobs and stores their deliveries
 *   in one transaction, and only while the lease still holds: a job is evaluated to deliveries once.
 * - A delivery is removed when its provider accepted it; parked ones stay, never claimed again.
 * - `startAttempt` commits a write-ahead marker before each provider request; rescheduling or
 *   parking clears it. A claimed delivery that still carries one was in flight when its node died.
 */
import type { Preferences } from '../push/preferences.js';
import type { PushPolicy, PushUrgency } from '../push/rule.js';

export type DeviceKind = 'webpush' | 'fcm' | 'apns';

/** A device as registered: a Web Push subscription, or an FCM or APNs token. */
export type NewDevice =
  | { readonly kind: 'webpush'; readonly endpoint: string; readonly p256dh: string; readonly auth: string }
  | { readonly kind: 'fcm' | 'apns'; readonly token: string };

/** A stored device of a user. */
export type StoredDevice = NewDevice & {
  readonly id: string;
  readonly appId: string;
  readonly userId: string;
  readonly createdAt: Date;
};

/** What a push stores with its rows so its devices are reached later (the notification's resolved rule). */
export interface PushJobSpec {
  readonly dueAt: Date;
  readonly policy: Exclude<PushPolicy, 'never'>;
  readonly ttlSeconds: number;
  readonly urgency: PushUrgency;
}

/** A claimed job: one notification of one user, due. */
export interface PushJob {
  readonly appId: string;
  readonly userId: string;
  readonly notificationId: string;
  readonly dueAt: Date;
  readonly policy: Exclude<PushPolicy, 'never'>;
  readonly ttlSeconds: number;
  readonly urgency: PushUrgency;
  readonly lease: string;
}

/** A delivery to store: one message to one device. */
export interface NewDelivery {
  readonly appId: string;
  readonly userId: string;
  readonly deviceId: string;
  /** The provider-neutral message (JSON), rendered per provider when sent. */
  readonly message: string;
  readonly urgency: PushUrgency;
  /** Same key, same slot on the device: a later message replaces an earlier one. */
  readonly collapseKey: string;
  /** After this the message is worth nothing: it is parked instead of sent. */
  readonly expiresAt: Date;
  readonly createdAt: Date;
}

/** A claimed delivery, with its device (null when the device was removed meanwhile). */
export interface ClaimedDelivery extends NewDelivery {
  readonly id: number;
  readonly attempts: number;
  /**
   * When an earlier attempt began that never came to an outcome (its node died in flight): the
   * provider may have accepted it, so sending it again may repeat it on the device.
   */
  readonly uncertainSince: Date | null;
  readonly device: StoredDevice | null;
  readonly lease: string;
}

/** What becomes of a batch of claimed jobs. */
export interface JobSettlement {
  /** Jobs evaluated (sent, merged, or cancelled): removed. */
  readonly done: readonly PushJob[];
  /** Jobs held (quiet hours): due again at `until`. */
  readonly held: readonly { readonly job: PushJob; readonly until: Date }[];
  readonly deliveries: readonly NewDelivery[];
}

export interface PushOutboxCounts {
  /** Jobs not yet due or evaluated. */
  readonly jobs: number;
  /** Deliveries waiting or being sent. */
  readonly pending: number;
  readonly parked: number;
}

export interface PushStore {
  /** Adds a device, or returns the one with the same address (now the user's). */
  addDevice(appId: string, userId: string, device: NewDevice, now: Date): Promise<StoredDevice>;
  listDevices(appId: string, userId: string): Promise<StoredDevice[]>;
  /** Removes a user's device and its pending deliveries; false when there was none. */
  removeDevice(appId: string, userId: string, id: string): Promise<boolean>;

  /** The user's stored preferences, or null when never set. */
  getPreferences(appId: string, userId: string): Promise<Preferences | null>;
  putPreferences(appId: string, userId: string, preferences: Preferences, now: Date): Promise<void>;

  /** The app's stored VAPID keys; `generated` is stored and returned when there were none (first start wins across nodes). */
  vapidKeys(appId: string, generated: { publicKey: string; privateKey: string }, now: Date): Promise<{ publicKey: string; privateKey: string }>;

  /** Leases the due jobs of up to `users` users (all of each user's due jobs) until `leaseUntil`. */
  claimDueJobs(now: Date, leaseUntil: Date, users: number, holder: string): Promise<PushJob[]>;
  /** Applies a settlement of jobs claimed under one lease; false (nothing changed) when the lease no longer holds. */
  settleJobs(lease: string, settlement: JobSettlement): Promise<boolean>;

  /** Leases up to `limit` due, unparked deliveries until `leaseUntil`, oldest first. */
  claimDeliveries(now: Date, leaseUntil: Date, limit: number, holder: string): Promise<ClaimedDelivery[]>;
  /** Commits the marker that a request for this delivery is about to go out; false when the lease no longer holds. */
  startAttempt(id: number, lease: string, at: Date): Promise<boolean>;
  /** Removes a delivery (sent, or its device is gone). */
  completeDelivery(id: number, lease: string): Promise<boolean>;
  rescheduleDelivery(id: number, lease: string, nextAttemptAt: Date, attempts: number, lastError: string): Promise<boolean>;
  parkDelivery(id: number, lease: string, attempts: number, lastError: string, now: Date): Promise<boolean>;
  /** Removes a device the provider reported gone, with its pending deliveries. */
  removeGoneDevice(deviceId: string): Promise<boolean>;
  /** Ends the job and delivery leases `holder` took (a node restarting under the same name). */
  releasePushLeases(holder: string): Promise<number>;
  countPush(): Promise<PushOutboxCounts>;
}
