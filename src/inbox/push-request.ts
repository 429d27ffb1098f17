/** Validation of a push request body into what the store keeps. Pure; every error names its field. */
import { randomUUID } from 'node:crypto';
import { badRequest, tooLarge } from '../protocol/errors.js';
import { parsePushRuleOverride, type PushRuleOverride } from '../push/rule.js';
import type { NotificationButton } from '../store/store.js';

/** Most recipients of one push. */
export const MAX_USERS_PER_PUSH = 10_000;
/** Longest user id. */
export const MAX_USER_ID_LENGTH = 200;
/** Most buttons on a notification. */
export const MAX_BUTTONS = 10;

/** A push, validated; the id is generated when the caller gave none. */
export interface PushRequest {
  readonly userIds: string[];
  readonly idempotencyKey: string | null;
  /** `notification.push`: the fields of the push rule this notification sets (the app's default fills the rest). */
  readonly push: PushRuleOverride | null;
  readonly notification: {
    readonly id: string;
    readonly heading: string | null;
    readonly content: string;
    readonly payload: unknown;
    readonly imageUrl: string | null;
    readonly sendAfter: Date | null;
    readonly buttons: NotificationButton[];
  };
}

// Fields of the notification JSON that the server owns: accepted (clients echo them) but ignored.
const SERVER_FIELDS = new Set(['opened', 'created_at', 'opened_at', 'seq', 'sender_id']);
const NOTIFICATION_FIELDS = new Set(['id', 'heading', 'content', 'payload', 'image_url', 'send_after', 'buttons', 'push']);
const ID_PATTERN = /^[A-Za-z0-9_\-.:]{1,128}$/;
const RESERVED_ID = 'count';

const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether text has neither NUL nor an unpaired surrogate. */
function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * The first string (or key) in a JSON value that no store can keep verbatim: a NUL character or a
 * lone UTF-16 surrogate. PostgreSQL refuses both; SQLite would keep them; the answer must not depend on the store.
 */
export function unstorableTextPath(value: unknown, path: string): string | null {
  if (typeof value === 'string') return isStorableText(value) ? null : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorableTextPath(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (!isStorableText(key)) return `${path} (a key)`;
      const found = unstorableTextPath(item, `${path}.${key}`);
      if (found) return found;
    }
  }
  return null;
}

/** Whether a string is usable as a user id: 1–200 characters, no control characters. */
export function isValidUserId(value: unknown): value is string {
  // eslint-disable-next-line no-control-regex
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_USER_ID_LENGTH && !/[\u0000-\u001f\u007f]/.test(value) && isStorableText(value);
}

function optionalText(value: unknown, field: string, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw badRequest(`"${field}" must be a string or null`);
  if (value.length > max) throw badRequest(`"${field}" is longer than ${max} characters`);
  return value;
}

function parseButtons(value: unknown): NotificationButton[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badRequest('"notification.buttons" must be an array');
  if (value.length > MAX_BUTTONS) throw badRequest(`"notification.buttons" has more than ${MAX_BUTTONS} buttons`);
  const seen = new Set<string>();
  return value.map((button, index) => {
    const at = `notification.buttons[${index}]`;
    if (typeof button !== 'object' || button === null || Array.isArray(button)) throw badRequest(`"${at}" must be an object`);
    const { id, text, icon, ...rest } = button as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw badRequest(`"${at}.${unknown}" is not a button field (id, text, icon)`);
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw badRequest(`"${at}.id" must be 1-128 characters of A-Z a-z 0-9 _ - . :`);
    if (seen.has(id)) throw badRequest(`"${at}.id" repeats button id "${id}"`);
    seen.add(id);
    if (typeof text !== 'string' || text.length === 0 || text.length > 200) throw badRequest(`"${at}.text" must be a string of 1-200 characters`);
    return { id, text, icon: optionalText(icon, `${at}.icon`, 2048) };
  });
}

function parseImageUrl(value: unknown): string | null {
  const url = optionalText(value, 'notification.image_url', 2048);
  if (url === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badRequest('"notification.image_url" must be an absolute http(s) URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw badRequest('"notification.image_url" must be an http(s) URL');
  return url;
}

// A date, or a date-time (seconds optional) with its time zone: `Z` or `±hh:mm`.
const SEND_AFTER_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2})))?$/;

/** Whether the numbers of a SEND_AFTER_PATTERN match name a real day and time (no 2026-02-30, no 25:00). */
function isRealDateTime(parts: number[]): boolean {
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = parts;
  const calendar = new Date(Date.UTC(year, month - 1, day));
  return (
    calendar.getUTCFullYear() === year && calendar.getUTCMonth() === month - 1 && calendar.getUTCDate() === day &&
    hour <= 23 && minute <= 59 && second <= 59 && offsetHours <= 23 && offsetMinutes <= 59
  );
}

function parseSendAfter(value: unknown): Date | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw badRequest('"notification.send_after" must be an ISO-8601 date string or null');
  // Date parsing alone rolls 2026-02-30 over into March and reads a date-time without a zone as server-local time.
  const match = SEND_AFTER_PATTERN.exec(value);
  const date = new Date(value);
  if (!match || !isRealDateTime(match.slice(1).map((part) => Number(part ?? 0))) || Number.isNaN(date.getTime())) {
    throw badRequest('"notification.send_after" must be an ISO-8601 date with a time zone, such as 2026-12-01T09:00:00Z');
  }
  return date;
}

/** Validates `{ user_ids, notification, idempotency_key? }`. `maxNotificationBytes` bounds the notification JSON. */
export function parsePushRequest(body: Record<string, unknown>, maxNotificationBytes: number): PushRequest {
  const { user_ids: userIds, notification, idempotency_key: idempotencyKey, ...rest } = body;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw badRequest(`"${unknown}" is not a push field (user_ids, notification, idempotency_key)`);

  if (!Array.isArray(userIds) || userIds.length === 0) throw badRequest('"user_ids" must be a non-empty array of user ids');
  if (userIds.length > MAX_USERS_PER_PUSH) throw badRequest(`"user_ids" has ${userIds.length} users; the limit is ${MAX_USERS_PER_PUSH}`);
  userIds.forEach((id, index) => {
    if (!isValidUserId(id)) throw badRequest(`"user_ids[${index}]" must be a string of 1-${MAX_USER_ID_LENGTH} characters without control characters`);
  });
  if (
    idempotencyKey !== undefined &&
    idempotencyKey !== null &&
    (typeof idempotencyKey !== 'string' || idempotencyKey.length === 0 || idempotencyKey.length > 200 || unstorableTextPath(idempotencyKey, 'k'))
  ) {
    throw badRequest('"idempotency_key" must be a string of 1-200 characters without NUL or unpaired surrogates');
  }

  if (typeof notification !== 'object' || notification === null || Array.isArray(notification)) {
    throw badRequest('"notification" must be an object');
  }
  const fields = notification as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!NOTIFICATION_FIELDS.has(key) && !SERVER_FIELDS.has(key)) {
      throw badRequest(`"notification.${key}" is not a notification field (id, heading, content, payload, image_url, send_after, buttons, push)`);
    }
  }
  const unstorable = unstorableTextPath(notification, 'notification');
  if (unstorable) throw badRequest(`"${unstorable}" contains a NUL character or an unpaired UTF-16 surrogate`);
  if (Buffer.byteLength(JSON.stringify(notification)) > maxNotificationBytes) {
    throw tooLarge(`"notification" is larger than ${maxNotificationBytes} bytes`);
  }
  const { id, content, payload } = fields;
  if (id !== undefined && id !== null && (typeof id !== 'string' || !ID_PATTERN.test(id))) {
    throw badRequest('"notification.id" must be 1-128 characters of A-Z a-z 0-9 _ - . :');
  }
  // `GET .../notifications/count` is the count route, so a notification with that id could never be read.
  if (id === RESERVED_ID) throw badRequest(`"notification.id" must not be "${RESERVED_ID}": that path is the count route`);
  if (typeof content !== 'string' || content.trim().length === 0) throw badRequest('"notification.content" is required and must be a non-empty string');
  return {
    userIds: [...new Set(userIds as string[])],
    idempotencyKey: (idempotencyKey as string | undefined) ?? null,
    push: parsePushRuleOverride(fields.push),
    notification: {
      id: (id as string | undefined) ?? randomUUID(),
      heading: optionalText(fields.heading, 'notification.heading', 500),
      content,
      payload: payload === undefined ? {} : payload,
      imageUrl: parseImageUrl(fields.image_url),
      sendAfter: parseSendAfter(fields.send_after),
      buttons: parseButtons(fields.buttons),
    },
  };
}
