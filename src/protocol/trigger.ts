/** Validation of events triggered through the HTTP API (`/events`, `/batch_events`). Pure. */
import { channelNameProblem } from './channels.js';
import { badRequest, tooLarge } from './errors.js';
import { MAX_EVENT_NAME_LENGTH } from './limits.js';
import { isSocketId } from './socket-id.js';

/** The limits of the app the event is for. */
export interface TriggerLimits {
  readonly maxEventPayloadBytes: number;
  readonly maxChannelsPerTrigger: number;
}

/** What `info` may ask for in a trigger's answer. */
export interface InfoRequest {
  readonly subscriptionCount: boolean;
  readonly userCount: boolean;
}

/** A valid trigger. */
export interface TriggerEvent {
  readonly name: string;
  /** The event data as the wire carries it: a string. */
  readonly data: string;
  readonly channels: readonly string[];
  readonly exceptSocketId: string | null;
  readonly info: InfoRequest | null;
}

/** Parses `info=subscription_count,user_count` (also `cache` on channel queries). */
export function parseInfo(value: unknown, allowed: readonly string[]): Set<string> {
  if (value === undefined || value === null || value === '') return new Set();
  if (typeof value !== 'string') throw badRequest('"info" must be a comma-separated string');
  const attributes = new Set(value.split(',').map((part) => part.trim()).filter(Boolean));
  for (const attribute of attributes) {
    if (!allowed.includes(attribute)) throw badRequest(`Unknown info attribute "${attribute}"; allowed: ${allowed.join(', ')}`);
  }
  return attributes;
}

/** Validates one event of `/events` or `/batch_events`; `where` prefixes messages (e.g. "batch[2]"). */
export function parseTriggerEvent(body: Record<string, unknown>, limits: TriggerLimits, where = ''): TriggerEvent {
  const at = (field: string) => (where ? `${where}.${field}` : field);
  const { name, data, channels, channel, socket_id: socketId, info } = body;
  if (typeof name !== 'string' || name.length === 0) throw badRequest(`"${at('name')}" must be a non-empty string`);
  if (name.length > MAX_EVENT_NAME_LENGTH) throw badRequest(`"${at('name')}" is longer than ${MAX_EVENT_NAME_LENGTH} characters`);
  if (data === undefined) throw badRequest(`"${at('data')}" is required`);
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  if (Buffer.byteLength(text) > limits.maxEventPayloadBytes) {
    throw tooLarge(`"${at('data')}" is larger than ${limits.maxEventPayloadBytes} bytes`);
  }

  let list: unknown[];
  if (channels !== undefined) {
    if (!Array.isArray(channels)) throw badRequest(`"${at('channels')}" must be an array of channel names`);
    list = channels;
  } else if (channel !== undefined) {
    list = [channel];
  } else {
    throw badRequest(`"${at('channels')}" or "${at('channel')}" is required`);
  }
  if (list.length === 0) throw badRequest(`"${at('channels')}" must not be empty`);
  if (list.length > limits.maxChannelsPerTrigger) {
    throw badRequest(`"${at('channels')}" has ${list.length} channels; the limit is ${limits.maxChannelsPerTrigger}`);
  }
  list.forEach((item, index) => {
    const problem = channelNameProblem(item);
    // Name the field the caller sent: `channels[i]`, or `channel` for the single-channel form.
    if (problem) throw badRequest(`"${at(channels !== undefined ? `channels[${index}]` : 'channel')}": ${problem}`);
  });

  if (socketId !== undefined && socketId !== null && !isSocketId(socketId)) {
    throw badRequest(`"${at('socket_id')}" must look like "1234.5678"`);
  }
  const attributes = parseInfo(info, ['subscription_count', 'user_count']);
  return {
    name,
    data: text,
    channels: [...new Set(list as string[])],
    exceptSocketId: (socketId as string | undefined) ?? null,
    info: attributes.size > 0 ? { subscriptionCount: attributes.has('subscription_count'), userCount: attributes.has('user_count') } : null,
  };
}
