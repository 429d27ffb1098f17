/** Pusher signatures: channel auth, user sign-in and HTTP request signing. Pure functions. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Lower-case hex HMAC-SHA256 of `data` with `secret`. */
export function hmacSha256Hex(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data).digest('hex');
}

/** Lower-case hex MD5 of a request body, as sent in `body_md5`. */
export function md5Hex(body: string | Buffer): string {
  return createHash('md5').update(body).digest('hex');
}

/** Compares two strings in time independent of where they differ. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) {
    // Compare anyway so the time does not reveal which check failed.
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

/** The string a channel subscription signs: `socket_id:channel[:channel_data]`. */
export function channelAuthString(socketId: string, channel: string, channelData?: string): string {
  return channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
}

/** The `auth` value a backend returns for a channel: `key:signature`. */
export function signChannel(key: string, secret: string, socketId: string, channel: string, channelData?: string): string {
  return `${key}:${hmacSha256Hex(secret, channelAuthString(socketId, channel, channelData))}`;
}

/** The `auth` value for `pusher:signin`: signs `socket_id::user::user_data`. */
export function signUser(key: string, secret: string, socketId: string, userData: string): string {
  return `${key}:${hmacSha256Hex(secret, `${socketId}::user::${userData}`)}`;
}

/** Checks a `key:signature` auth value against the expected one, in constant time. */
export function verifyAuth(expectedKey: string, secret: string, signed: string, auth: unknown): boolean {
  if (typeof auth !== 'string') return false;
  const expected = `${expectedKey}:${hmacSha256Hex(secret, signed)}`;
  return safeEqual(expected, auth);
}

/**
 * The string an HTTP API request signs: `METHOD\npath\nquery`, where query is every parameter
 * but `auth_signature`, keys lower-cased and sorted, values as decoded, joined with `&`.
 */
export function httpSigningString(method: string, path: string, query: Iterable<[string, string]>): string {
  const pairs: [string, string][] = [];
  for (const [key, value] of query) {
    const lower = key.toLowerCase();
    if (lower !== 'auth_signature') pairs.push([lower, value]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `${method.toUpperCase()}\n${path}\n${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`;
}

/** Signs an HTTP API request the way Pusher's server SDKs do. */
export function signHttpRequest(secret: string, method: string, path: string, query: Iterable<[string, string]>): string {
  return hmacSha256Hex(secret, httpSigningString(method, path, query));
}
