/**
 * What a push carries, provider-neutral: one notification (its JSON plus the unread badge), or a
 * summary of several that fell due together. Stored in the push outbox as JSON; each provider
 * renders it. Pure.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NotificationJson } from '../inbox/notification-json.js';

/** The Web Push body (and the `herald` field of FCM and APNs payloads). */
export type PushBody = (NotificationJson | SummaryJson) & {
  readonly badge: number;
  /** The slot on the device: a later push with the same tag replaces this one. */
  readonly tag: string;
  readonly app_id: string;
  readonly user_id: string;
  /** Lets the service worker mark this notification opened (`POST /apps/{appId}/push/clicks`), nothing else. */
  readonly receipt: string | null;
  /**
   * The same for every device and attempt of this message: a message a provider accepted just
   * before a crash may be sent again after it, and the receiver recognises it.
   */
  readonly message_id?: string;
};

/** Several notifications that fell due at once, pushed as one. */
export interface SummaryJson {
  readonly id: null;
  readonly heading: null;
  readonly content: string;
  readonly count: number;
  readonly ids: readonly string[];
}

/** Tag of summary pushes: a newer summary replaces the older one. */
export const SUMMARY_TAG = 'herald-summary';
/** Bytes of plaintext a push may carry: Web Push allows 4096 encrypted (less 103 of overhead); FCM and APNs 4 KB. */
export const MAX_PUSH_BODY_BYTES = 3_800;

/** The receipt of (user, notification) under the app's secret: base64url HMAC-SHA-256. */
export function clickReceipt(appSecret: string, userId: string, notificationId: string): string {
  return createHmac('sha256', appSecret).update(`herald-push-click\n${userId}\n${notificationId}`).digest('base64url');
}

/** Whether a receipt is the one of (user, notification), in constant time. */
export function isClickReceipt(appSecret: string, userId: string, notificationId: string, receipt: string): boolean {
  const expected = Buffer.from(clickReceipt(appSecret, userId, notificationId));
  const given = Buffer.from(receipt);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The body of one notification's push. */
export function singleBody(notification: NotificationJson, badge: number, appId: string, userId: string, appSecret: string): PushBody {
  return fit({ ...notification, badge, tag: notification.id, app_id: appId, user_id: userId, receipt: clickReceipt(appSecret, userId, notification.id) });
}

/** The body of a summary of `ids` (newest last). */
export function summaryBody(ids: readonly string[], badge: number, appId: string, userId: string): PushBody {
  const shown = ids.slice(-100);
  return { id: null, heading: null, content: `${ids.length} new notifications`, count: ids.length, ids: shown, badge, tag: SUMMARY_TAG, app_id: appId, user_id: userId, receipt: null };
}

/**
 * A body within MAX_PUSH_BODY_BYTES: first without the app's payload, then without buttons,
 * then with the content cut (the app fetches the whole notification when opened).
 */
function fit(body: PushBody): PushBody {
  if (bytes(body) <= MAX_PUSH_BODY_BYTES || body.id === null) return body;
  const single = body as NotificationJson & PushBody;
  let smaller: PushBody = { ...single, payload: null };
  if (bytes(smaller) <= MAX_PUSH_BODY_BYTES) return smaller;
  smaller = { ...single, payload: null, buttons: [] };
  if (bytes(smaller) <= MAX_PUSH_BODY_BYTES) return smaller;
  const spare = MAX_PUSH_BODY_BYTES - bytes({ ...smaller, content: '' }) - 8;
  return { ...smaller, content: cut(single.content, Math.max(0, spare)) };
}

function bytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/** `text` cut to at most `maxBytes` of JSON-encoded UTF-8, on a code point boundary, with an ellipsis. */
function cut(text: string, maxBytes: number): string {
  let out = '';
  for (const char of text) {
    if (Buffer.byteLength(JSON.stringify(out + char + '…')) > maxBytes) break;
    out += char;
  }
  return out + '…';
}

/** The title and text a system notification shows for a body. */
export function displayText(body: PushBody): { title: string | null; text: string; image: string | null } {
  if (body.id === null) return { title: null, text: body.content, image: null };
  const single = body as NotificationJson & PushBody;
  return { title: single.heading, text: single.content, image: single.image_url };
}
