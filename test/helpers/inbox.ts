/**
 * Inbox test helpers: user tokens, requests signed either way (Pusher signature or bearer
 * token), pusher-js devices authorised through Herald's built-in `/auth` and `/user-auth`.
 */
import { createHash, createHmac } from 'node:crypto';
import type Pusher from 'pusher';
import type { ChannelAuthorizationOptions, UserAuthenticationOptions } from 'pusher-js';
import type { PusherJs, PusherJsChannel } from '../../src/client/pusher-js.js';
import { inboxChannel, type App } from '../../src/config/apps.js';
import type { NotificationJson } from '../../src/inbox/notification-json.js';
import { signUserToken } from '../../src/inbox/user-tokens.js';
import type { Harness } from './harness.js';
import { waitFor } from './wait.js';

/** A JSON answer: status and parsed body (`{}` when the body was empty or not JSON). */
export interface Reply<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
}

/** A row of a push answer. */
export interface PushedJson {
  readonly id: string;
  readonly user_id: string;
  readonly seq: number | null;
}

/** The answer of a push. */
export interface PushAnswer {
  readonly notifications: PushedJson[];
  readonly replayed?: boolean;
}

/** The answer of a list. */
export interface ListAnswer {
  readonly notifications: NotificationJson[];
  readonly has_more: boolean;
}

/** An error body: `{ error, code }`. */
export interface ErrorBody {
  readonly error: string;
  readonly code: string;
}

/** An HTTP method the inbox routes use. */
export type Method = 'GET' | 'POST' | 'DELETE';

/** Calls a route under `/apps/{appId}`; `path` may carry a query string. */
export type Call = <T = Record<string, unknown>>(method: Method, path: string, body?: unknown) => Promise<Reply<T>>;

/** A user token for `userId`, signed with the app's secret (HS256). */
export function tokenFor(app: App, userId: string, extra: { expiresInSeconds?: number; userInfo?: unknown; watchlist?: string[] } = {}): Promise<string> {
  return signUserToken({ appSecret: app.secret, userId, ...extra });
}

async function send<T>(url: string, method: string, body: string | undefined, headers: Record<string, string>): Promise<Reply<T>> {
  const response = await fetch(url, { method, body, headers, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  let json: unknown = {};
  try {
    json = text.length > 0 ? JSON.parse(text) : {};
  } catch {
    json = {};
  }
  return { status: response.status, body: json as T };
}

function encodeBody(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  return typeof body === 'string' ? body : JSON.stringify(body);
}

/**
 * Sends a request to `/apps/{appId}{path}` signed the Pusher way (signed here, independently of
 * the server's code; unlike the SDK it can also send DELETE). `appId` overrides the target app.
 */
export function signedCall<T = Record<string, unknown>>(
  baseUrl: string,
  app: App,
  method: Method,
  path: string,
  body?: unknown,
  options: { secret?: string; appId?: string } = {},
): Promise<Reply<T>> {
  const [pathOnly, queryText = ''] = path.split('?', 2);
  const fullPath = `/apps/${options.appId ?? app.id}${pathOnly}`;
  const text = encodeBody(body);
  const params: Record<string, string> = {
    ...Object.fromEntries(new URLSearchParams(queryText)),
    auth_key: app.key,
    auth_timestamp: String(Math.floor(Date.now() / 1000)),
    auth_version: '1.0',
  };
  if (text !== undefined) params.body_md5 = createHash('md5').update(text).digest('hex');
  const keys = Object.keys(params).sort();
  const signed = keys.map((key) => `${key}=${params[key]}`).join('&');
  const signature = createHmac('sha256', options.secret ?? app.secret).update(`${method}\n${fullPath}\n${signed}`).digest('hex');
  const query = keys.map((key) => `${key}=${encodeURIComponent(params[key])}`).join('&');
  const headers: Record<string, string> = text === undefined ? {} : { 'content-type': 'application/json' };
  return send<T>(`${baseUrl}${fullPath}?${query}&auth_signature=${signature}`, method, text, headers);
}

/** Sends a request to `/apps/{appId}{path}` with `Authorization: Bearer <token>` (or the given header, or none). */
export function tokenCall<T = Record<string, unknown>>(
  baseUrl: string,
  appId: string,
  authorization: string | null,
  method: Method,
  path: string,
  body?: unknown,
): Promise<Reply<T>> {
  const text = encodeBody(body);
  const headers: Record<string, string> = {};
  if (text !== undefined) headers['content-type'] = 'application/json';
  if (authorization !== null) headers.authorization = authorization.includes(' ') ? authorization : `Bearer ${authorization}`;
  return send<T>(`${baseUrl}/apps/${appId}${path}`, method, text, headers);
}

/** A `Call` that signs as the app's backend. */
export function backendCaller(harness: Harness, app: App = harness.app): Call {
  return (method, path, body) => signedCall(harness.baseUrl, app, method, path, body);
}

/** A `Call` that sends a user's bearer token. */
export function userCaller(harness: Harness, token: string, app: App = harness.app): Call {
  return (method, path, body) => tokenCall(harness.baseUrl, app.id, token, method, path, body);
}

/** Pushes with the official SDK (`pusher.post({ path: '/notifications' })`); rejects on a non-2xx answer. */
export async function sdkPush(backend: Pusher, body: Record<string, unknown>): Promise<PushAnswer> {
  // The SDK JSON-encodes `body` itself, although its typings declare a string.
  const response = await backend.post({ path: '/notifications', body: body as unknown as string });
  return (await response.json()) as PushAnswer;
}

/** Lists with the official SDK (`pusher.get`). */
export async function sdkList(backend: Pusher, userId: string, params: Record<string, string | number> = {}): Promise<ListAnswer> {
  const response = await backend.get({ path: `/users/${userId}/notifications`, params });
  return (await response.json()) as ListAnswer;
}

/** The status and body of an SDK call that must fail (a RequestError). */
export async function sdkRejection(call: Promise<unknown>): Promise<Reply<ErrorBody>> {
  try {
    await call;
  } catch (error) {
    const { status, body } = error as { status?: number; body?: string };
    if (typeof status !== 'number') throw error;
    let parsed: unknown = {};
    try {
      parsed = JSON.parse(body ?? '{}');
    } catch {
      parsed = {};
    }
    return { status, body: parsed as ErrorBody };
  }
  throw new Error('expected the request to fail, but it succeeded');
}

/** Every notification of a user, oldest first, paged with `after_seq` as a catching-up client would. */
export async function listAll(call: Call, userId: string, pageSize = 500): Promise<NotificationJson[]> {
  const all: NotificationJson[] = [];
  let after = 0;
  for (let page = 0; page < 1000; page++) {
    const reply = await call<ListAnswer>('GET', `/users/${encodeURIComponent(userId)}/notifications?after_seq=${after}&limit=${pageSize}`);
    if (reply.status !== 200) throw new Error(`listing ${userId} failed with ${reply.status}: ${JSON.stringify(reply.body)}`);
    all.push(...reply.body.notifications);
    if (!reply.body.has_more) return all;
    after = reply.body.notifications[reply.body.notifications.length - 1].seq ?? after;
  }
  throw new Error(`listing ${userId} did not end`);
}

/** pusher-js `channelAuthorization` that asks Herald's built-in `POST /apps/{appId}/auth` with a user token. */
export function builtInChannelAuth(baseUrl: string, appId: string, token: string): ChannelAuthorizationOptions {
  return {
    customHandler: ({ socketId, channelName }, callback) => {
      postForm(`${baseUrl}/apps/${appId}/auth`, token, { socket_id: socketId, channel_name: channelName }).then(
        (data) => callback(null, data as { auth: string; channel_data?: string }),
        (error: Error) => callback(error, null),
      );
    },
  };
}

/** pusher-js `userAuthentication` that asks Herald's built-in `POST /apps/{appId}/user-auth` with a user token. */
export function builtInUserAuth(baseUrl: string, appId: string, token: string): UserAuthenticationOptions {
  return {
    customHandler: ({ socketId }, callback) => {
      postForm(`${baseUrl}/apps/${appId}/user-auth`, token, { socket_id: socketId }).then(
        (data) => callback(null, data as { auth: string; user_data: string }),
        (error: Error) => callback(error, null),
      );
    },
  };
}

/** POSTs form fields with a bearer token (what a browser's auth request looks like); the JSON answer, or a rejection naming the status. */
export async function postForm(url: string, token: string | null, fields: Record<string, string>): Promise<unknown> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(fields).toString(), signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  if (!response.ok) throw Object.assign(new Error(`auth answered ${response.status}: ${text}`), { status: response.status });
  return JSON.parse(text) as unknown;
}

/** One event a device received. */
export interface Received {
  readonly event: string;
  readonly data: unknown;
  /** `Date.now()` when it arrived. */
  readonly at: number;
}

/** A pusher-js client of one user, subscribed to its inbox channel, recording every non-`pusher:` event there. */
export interface Device {
  readonly client: PusherJs;
  readonly channel: PusherJsChannel;
  readonly received: Received[];
  /** The data of every `event` received so far. */
  of<T = NotificationJson>(event: string): T[];
  /** Waits until `count` events named `event` have arrived; resolves with their data. */
  waitFor<T = NotificationJson>(event: string, count?: number, timeoutMs?: number): Promise<T[]>;
}

/** Connects a pusher-js device for `userId` with built-in auth and subscribes to its inbox channel. */
export async function inboxDevice(harness: Harness, userId: string, options: { app?: App; token?: string } = {}): Promise<Device> {
  const app = options.app ?? harness.app;
  const token = options.token ?? (await tokenFor(app, userId));
  const client = harness.client({
    key: app.key,
    channelAuthorization: builtInChannelAuth(harness.baseUrl, app.id, token),
    userAuthentication: builtInUserAuth(harness.baseUrl, app.id, token),
  });
  const name = inboxChannel(app, userId);
  const channel = client.subscribe(name);
  const received: Received[] = [];
  channel.bind_global((event: string, data: unknown) => {
    if (!event.startsWith('pusher:') && !event.startsWith('pusher_internal:')) received.push({ event, data, at: Date.now() });
  });
  await subscription(channel, name);
  const of = <T>(event: string) => received.filter((item) => item.event === event).map((item) => item.data as T);
  return {
    client,
    channel,
    received,
    of,
    async waitFor<T>(event: string, count = 1, timeoutMs = 5_000) {
      await waitFor(() => of(event).length >= count, `${count} "${event}" event(s) on ${name}`, timeoutMs);
      return of<T>(event);
    },
  };
}

/** Waits for a channel's subscription to succeed; rejects on `pusher:subscription_error` or after `timeoutMs`. */
export function subscription(channel: PusherJsChannel, name: string, timeoutMs = 5_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for the subscription to ${name}`)), timeoutMs);
    channel.bind('pusher:subscription_succeeded', () => {
      clearTimeout(timer);
      resolve();
    });
    channel.bind('pusher:subscription_error', (error: unknown) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`subscription to ${name} failed: ${JSON.stringify(error)}`), { detail: error }));
    });
  });
}

/** A user's `{ unread, total }` from the count route (other fields of the answer left out). */
export async function countsOf(call: Call, userId: string): Promise<{ unread: number; total: number }> {
  const reply = await call<{ unread: number; total: number }>('GET', `/users/${encodeURIComponent(userId)}/notifications/count`);
  if (reply.status !== 200) throw new Error(`counting ${userId} failed with ${reply.status}: ${JSON.stringify(reply.body)}`);
  return { unread: reply.body.unread, total: reply.body.total };
}
