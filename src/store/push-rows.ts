/** Rows of the push tables (migration 5) as both stores read them, and what they become. */
import { randomBytes } from 'node:crypto';
import type { Preferences } from '../push/preferences.js';
import type { PushJob, ClaimedDelivery, NewDevice, StoredDevice } from './push-store.js';

export interface DeviceRow {
  id: string;
  app_id: string;
  user_id: string;
  kind: string;
  address: string;
  p256dh: string | null;
  auth: string | null;
  created_at_ms: number;
}

export interface JobRow {
  app_id: string;
  user_id: string;
  notification_id: string;
  due_at_ms: number;
  policy: string;
  ttl_seconds: number;
  urgency: string;
}

export interface DeliveryRow {
  id: number;
  app_id: string;
  user_id: string;
  device_id: string;
  message: string;
  urgency: string;
  collapse_key: string;
  expires_at_ms: number;
  created_at_ms: number;
  attempts: number;
  attempt_started_ms: number | null;
  /** The device's columns, null when it was removed (LEFT JOIN). */
  d_id: string | null;
  d_kind: string | null;
  d_address: string | null;
  d_p256dh: string | null;
  d_auth: string | null;
  d_user_id: string | null;
  d_created_at_ms: number | null;
}

/** A new device id: 128 random bits, base64url. */
export function newDeviceId(): string {
  return randomBytes(16).toString('base64url');
}

/** The column values of a new device: its address is the endpoint or the token. */
export function deviceColumns(device: NewDevice): { kind: string; address: string; p256dh: string | null; auth: string | null } {
  return device.kind === 'webpush'
    ? { kind: device.kind, address: device.endpoint, p256dh: device.p256dh, auth: device.auth }
    : { kind: device.kind, address: device.token, p256dh: null, auth: null };
}

export function toDevice(row: DeviceRow): StoredDevice {
  const common = { id: row.id, appId: row.app_id, userId: row.user_id, createdAt: new Date(row.created_at_ms) };
  if (row.kind === 'webpush') return { ...common, kind: 'webpush', endpoint: row.address, p256dh: row.p256dh ?? '', auth: row.auth ?? '' };
  return { ...common, kind: row.kind as 'fcm' | 'apns', token: row.address };
}

export function toJob(row: JobRow, lease: string): PushJob {
  return {
    appId: row.app_id,
    userId: row.user_id,
    notificationId: row.notification_id,
    dueAt: new Date(row.due_at_ms),
    policy: row.policy as PushJob['policy'],
    ttlSeconds: row.ttl_seconds,
    urgency: row.urgency as PushJob['urgency'],
    lease,
  };
}

export function toDelivery(row: DeliveryRow, lease: string): ClaimedDelivery {
  const device =
    row.d_id === null
      ? null
      : toDevice({
          id: row.d_id,
          app_id: row.app_id,
          user_id: row.d_user_id ?? row.user_id,
          kind: row.d_kind ?? '',
          address: row.d_address ?? '',
          p256dh: row.d_p256dh,
          auth: row.d_auth,
          created_at_ms: row.d_created_at_ms ?? 0,
        });
  return {
    id: row.id,
    appId: row.app_id,
    userId: row.user_id,
    deviceId: row.device_id,
    message: row.message,
    urgency: row.urgency as ClaimedDelivery['urgency'],
    collapseKey: row.collapse_key,
    expiresAt: new Date(row.expires_at_ms),
    createdAt: new Date(row.created_at_ms),
    attempts: row.attempts,
    uncertainSince: row.attempt_started_ms === null ? null : new Date(Number(row.attempt_started_ms)),
    device,
    lease,
  };
}

/** Stored preferences JSON back to preferences (written by `parsePreferences`, so trusted). */
export function toPreferences(value: unknown): Preferences {
  return (typeof value === 'string' ? JSON.parse(value) : value) as Preferences;
}

/** The columns of a delivery claim: the outbox row and its device (LEFT JOIN `d`). */
export const DELIVERY_COLUMNS = `o.id, o.app_id, o.user_id, o.device_id, o.message, o.urgency, o.collapse_key, o.expires_at_ms,
  o.created_at_ms, o.attempts, o.attempt_started_ms, d.id AS d_id, d.kind AS d_kind, d.address AS d_address, d.p256dh AS d_p256dh,
  d.auth AS d_auth, d.user_id AS d_user_id, d.created_at_ms AS d_created_at_ms`;
