/** The push routes of design.md §6: VAPID public key, devices, preferences, and the service worker's click receipt. */
import { isValidUserId } from '../../inbox/push-request.js';
import { parsePreferences } from '../../push/preferences.js';
import type { PushService, PreferencesView } from '../../push/push-service.js';
import { isSubscriptionKeys } from '../../push/web-push-crypto.js';
import { badRequest, notFound, unauthorized } from '../../protocol/errors.js';
import type { NewDevice, StoredDevice } from '../../store/push-store.js';
import { jsonBody, Reply, type RequestContext } from '../context.js';

const MAX_ADDRESS_LENGTH = 4096;
const TOKEN_PATTERN = /^[\x21-\x7e]{1,4096}$/;

function userIdParam(ctx: RequestContext): string {
  const userId = ctx.params.userId ?? '';
  if (!isValidUserId(userId)) throw badRequest('User id must be 1-200 characters without control characters');
  return userId;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates `{ kind: "webpush", subscription }`, `{ kind: "fcm", token }` or `{ kind: "apns", token }`. */
export function parseDevice(body: Record<string, unknown>): NewDevice {
  const { kind, subscription, token, ...rest } = body;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw badRequest(`"${unknown}" is not a device field (kind, subscription, token)`);
  if (kind === 'webpush') {
    if (token !== undefined) throw badRequest('A webpush device has a "subscription", not a "token"');
    if (!isObject(subscription)) throw badRequest('"subscription" must be the PushSubscription JSON { endpoint, keys: { p256dh, auth } }');
    const { endpoint, keys } = subscription;
    if (typeof endpoint !== 'string' || endpoint.length > MAX_ADDRESS_LENGTH || !isPushEndpoint(endpoint)) {
      throw badRequest('"subscription.endpoint" must be an absolute https (or http) URL of at most 4096 characters');
    }
    if (!isObject(keys) || typeof keys.p256dh !== 'string' || typeof keys.auth !== 'string') {
      throw badRequest('"subscription.keys" must be { p256dh, auth } (base64url)');
    }
    if (!isSubscriptionKeys({ p256dh: keys.p256dh, auth: keys.auth })) {
      throw badRequest('"subscription.keys": p256dh must be a P-256 public key (65 bytes) and auth a 16-byte secret, base64url');
    }
    return { kind, endpoint, p256dh: keys.p256dh, auth: keys.auth };
  }
  if (kind === 'fcm' || kind === 'apns') {
    if (subscription !== undefined) throw badRequest(`An ${kind} device has a "token", not a "subscription"`);
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) throw badRequest('"token" must be 1-4096 printable characters without spaces');
    return { kind, token };
  }
  throw badRequest('"kind" must be "webpush", "fcm" or "apns"');
}

function isPushEndpoint(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

/** A device as the API shows it. */
function deviceJson(device: StoredDevice): Record<string, unknown> {
  const address = device.kind === 'webpush' ? { endpoint: device.endpoint } : { token: device.token };
  return { id: device.id, kind: device.kind, created_at: device.createdAt.toISOString(), ...address };
}

function preferencesJson(view: PreferencesView): Record<string, unknown> {
  return { ...view.preferences, effective: view.effective };
}

/** `GET /apps/:appId/push/vapid-public-key`. */
export async function vapidPublicKey(ctx: RequestContext, push: PushService): Promise<unknown> {
  const keys = await push.vapidKeys(ctx.app!);
  return { public_key: keys.publicKey };
}

/** `POST /apps/:appId/users/:userId/devices`: 201, the same device for the same subscription or token. */
export async function addDevice(ctx: RequestContext, push: PushService): Promise<Reply> {
  const userId = userIdParam(ctx);
  const device = await push.addDevice(ctx.app!, userId, parseDevice(jsonBody(ctx)));
  return new Reply(201, { id: device.id, kind: device.kind, created_at: device.createdAt.toISOString() });
}

/** `GET /apps/:appId/users/:userId/devices`. */
export async function listDevices(ctx: RequestContext, push: PushService): Promise<unknown> {
  const devices = await push.listDevices(ctx.app!, userIdParam(ctx));
  return { devices: devices.map(deviceJson) };
}

/** `DELETE /apps/:appId/users/:userId/devices/:id`. */
export async function removeDevice(ctx: RequestContext, push: PushService): Promise<unknown> {
  const id = ctx.params.id ?? '';
  if (!(await push.removeDevice(ctx.app!, userIdParam(ctx), id))) throw notFound(`No device "${id}" for this user`);
  return { deleted: true };
}

/** `GET /apps/:appId/users/:userId/preferences`: the stored preferences and `effective`. */
export async function getPreferences(ctx: RequestContext, push: PushService): Promise<unknown> {
  return preferencesJson(await push.preferences(ctx.app!, userIdParam(ctx)));
}

/** `PUT /apps/:appId/users/:userId/preferences`: replaces them; answers like GET. */
export async function putPreferences(ctx: RequestContext, push: PushService): Promise<unknown> {
  const userId = userIdParam(ctx);
  return preferencesJson(await push.setPreferences(ctx.app!, userId, parsePreferences(jsonBody(ctx))));
}

/** `POST /apps/:appId/push/clicks` `{ user_id, id, receipt, button_id? }`: what the service worker sends on a click. */
export async function pushClick(ctx: RequestContext, push: PushService): Promise<unknown> {
  const { user_id: userId, id, receipt, button_id: buttonId, ...rest } = jsonBody(ctx);
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw badRequest(`"${unknown}" is not a click field (user_id, id, receipt, button_id)`);
  if (!isValidUserId(userId)) throw badRequest('"user_id" must be a user id');
  if (typeof id !== 'string' || id.length === 0 || id.length > 128) throw badRequest('"id" must be a notification id');
  if (typeof receipt !== 'string' || receipt.length > 100) throw badRequest('"receipt" must be the receipt of the pushed notification');
  if (buttonId !== undefined && buttonId !== null && (typeof buttonId !== 'string' || buttonId.length > 128)) throw badRequest('"button_id" must be a button id');
  const result = await push.click(ctx.app!, userId, id, receipt, (buttonId as string | null | undefined) ?? null);
  if (result === null) throw unauthorized('The receipt does not match this user and notification');
  return result;
}
