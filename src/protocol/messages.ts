/** Decoding client frames into typed messages and encoding server messages. Pure functions. */
import { Errors } from './errors.js';
import { jsonDepthExceeds } from './json-depth.js';
import { MAX_EVENT_NAME_LENGTH, MAX_JSON_DEPTH } from './limits.js';

/** A message a client may send, after validation. */
export type ClientMessage =
  | { readonly type: 'ping' }
  | { readonly type: 'pong' }
  | { readonly type: 'subscribe'; readonly channel: string; readonly auth?: string; readonly channelData?: string }
  | { readonly type: 'unsubscribe'; readonly channel: string }
  | { readonly type: 'signin'; readonly auth: string; readonly userData: string }
  | { readonly type: 'client-event'; readonly event: string; readonly channel: string; readonly data: unknown; readonly rawData: string };

/** Parses `data` of a `pusher:` event: an object, or a JSON string holding one (some clients send that). */
function objectData(event: string, data: unknown): Record<string, unknown> {
  let value = data;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      throw Errors.invalidField(event, 'data is not valid JSON');
    }
  }
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw Errors.invalidField(event, 'data must be an object');
  return value as Record<string, unknown>;
}

function requiredString(event: string, data: Record<string, unknown>, field: string): string {
  const value = data[field];
  if (typeof value !== 'string' || value.length === 0) throw Errors.invalidField(event, `${field} must be a non-empty string`);
  return value;
}

function optionalString(event: string, data: Record<string, unknown>, field: string): string | undefined {
  const value = data[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw Errors.invalidField(event, `${field} must be a string`);
  return value;
}

/**
 * Turns one text frame into a typed message, or throws a registered ProtocolError saying what was wrong.
 * Channel names and authorisation are checked later, by the connection.
 */
export function decodeClientMessage(text: string): ClientMessage {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    throw Errors.malformedMessage('not valid JSON');
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
    throw Errors.malformedMessage('expected a JSON object');
  }
  const { event, data, channel } = frame as Record<string, unknown>;
  if (typeof event !== 'string' || event.length === 0) throw Errors.malformedMessage('"event" must be a non-empty string');

  switch (event) {
    case 'pusher:ping':
      return { type: 'ping' };
    case 'pusher:pong':
      return { type: 'pong' };
    case 'pusher:subscribe': {
      const fields = objectData(event, data);
      return {
        type: 'subscribe',
        channel: requiredString(event, fields, 'channel'),
        auth: optionalString(event, fields, 'auth'),
        channelData: optionalString(event, fields, 'channel_data'),
      };
    }
    case 'pusher:unsubscribe':
      return { type: 'unsubscribe', channel: requiredString(event, objectData(event, data), 'channel') };
    case 'pusher:signin': {
      const fields = objectData(event, data);
      return { type: 'signin', auth: requiredString(event, fields, 'auth'), userData: requiredString(event, fields, 'user_data') };
    }
  }

  if (event.startsWith('client-')) {
    if (event.length > MAX_EVENT_NAME_LENGTH) throw Errors.clientEventInvalid(`Event name is longer than ${MAX_EVENT_NAME_LENGTH} characters`);
    if (typeof channel !== 'string' || channel.length === 0) throw Errors.clientEventInvalid('Client event needs a "channel"');
    if (jsonDepthExceeds(data, MAX_JSON_DEPTH)) throw Errors.clientEventInvalid(`Client event data is nested more than ${MAX_JSON_DEPTH} levels deep`);
    const rawData = typeof data === 'string' ? data : JSON.stringify(data ?? null);
    return { type: 'client-event', event, channel, data, rawData };
  }
  throw Errors.unsupportedEvent(event.slice(0, MAX_EVENT_NAME_LENGTH));
}

/** A server-to-client frame. `data` is sent as given: a string stays a string, as Pusher does. */
export function encodeEvent(event: string, data: unknown, channel?: string, userId?: string): string {
  const message: Record<string, unknown> = { event };
  if (channel !== undefined) message.channel = channel;
  if (data !== undefined) message.data = data;
  if (userId !== undefined) message.user_id = userId;
  return JSON.stringify(message);
}

/** `pusher:connection_established`, data as a JSON string as Pusher sends it. */
export function connectionEstablished(socketId: string, activityTimeoutSeconds: number): string {
  return encodeEvent('pusher:connection_established', JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeoutSeconds }));
}

/** `pusher:error` with a code (or null) and a message. */
export function errorMessage(code: number | null, message: string): string {
  return encodeEvent('pusher:error', { code, message });
}

/** `pusher:subscription_error` on a channel, the way pusher-js reports a refused subscription to its listeners. */
export function subscriptionError(channel: string, message: string, status: number): string {
  return encodeEvent('pusher:subscription_error', { type: 'AuthError', error: message, status }, channel);
}

/** `pusher:pong`, the answer to a client ping. */
export const PONG = encodeEvent('pusher:pong', '{}');
/** `pusher:ping`, sent when a client has been silent too long. */
export const PING = encodeEvent('pusher:ping', '{}');

/** Presence state sent with a presence subscription. */
export interface PresenceState {
  readonly ids: string[];
  readonly hash: Record<string, unknown>;
  readonly count: number;
}

/** `pusher_internal:subscription_succeeded`, with presence state on presence channels. */
export function subscriptionSucceeded(channel: string, presence?: PresenceState): string {
  return encodeEvent('pusher_internal:subscription_succeeded', JSON.stringify(presence ? { presence } : {}), channel);
}

/** `pusher_internal:member_added`. */
export function memberAdded(channel: string, userId: string, userInfo: unknown): string {
  return encodeEvent('pusher_internal:member_added', JSON.stringify({ user_id: userId, user_info: userInfo }), channel);
}

/** `pusher_internal:member_removed`. */
export function memberRemoved(channel: string, userId: string): string {
  return encodeEvent('pusher_internal:member_removed', JSON.stringify({ user_id: userId }), channel);
}

/** `pusher:cache_miss`, sent after subscribing to a cache channel that holds no event. */
export function cacheMiss(channel: string): string {
  return encodeEvent('pusher:cache_miss', undefined, channel);
}

/** `pusher_internal:subscription_count` (pusher-js re-emits it as `pusher:subscription_count`). */
export function subscriptionCount(channel: string, count: number): string {
  return encodeEvent('pusher_internal:subscription_count', JSON.stringify({ subscription_count: count }), channel);
}

/** `pusher:signin_success`, echoing the signed user data. */
export function signinSuccess(userData: string): string {
  return encodeEvent('pusher:signin_success', JSON.stringify({ user_data: userData }));
}

/** `pusher_internal:watchlist_events`: online/offline changes of watched users. */
export function watchlistEvents(events: { name: 'online' | 'offline'; user_ids: string[] }[]): string {
  return encodeEvent('pusher_internal:watchlist_events', JSON.stringify({ events }));
}
