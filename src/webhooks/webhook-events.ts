/** Webhook events in Pusher's shapes, built from realtime and inbox events, and each target's filter. Pure. */
import type { WebhookConfig } from '../config/apps.js';
import type { InboxEvent } from '../inbox/inbox.js';
import type { RealtimeEvent } from '../realtime/events.js';

/** One event of a webhook body's `events`, as Pusher sends it (plus the inbox's own). */
export type WebhookEvent =
  | { readonly name: 'channel_occupied' | 'channel_vacated' | 'cache_miss'; readonly channel: string }
  | { readonly name: 'member_added' | 'member_removed'; readonly channel: string; readonly user_id: string }
  | {
      readonly name: 'client_event';
      readonly channel: string;
      readonly event: string;
      /** The event's data as the client sent it, always a string (JSON text for objects). */
      readonly data: string;
      readonly socket_id: string;
      /** Present on presence channels: the sender's member id. */
      readonly user_id?: string;
    }
  | { readonly name: 'subscription_count'; readonly channel: string; readonly subscription_count: number }
  | { readonly name: 'notification_opened'; readonly user_id: string; readonly ids: readonly string[]; readonly all: boolean }
  | { readonly name: 'notification_action'; readonly user_id: string; readonly id: string; readonly button_id: string }
  | { readonly name: 'notification_deleted'; readonly user_id: string; readonly id: string }
  | { readonly name: 'push_sent'; readonly user_id: string; readonly device_id: string; readonly device_kind: string; readonly ids: readonly string[] }
  | {
      readonly name: 'push_failed';
      readonly user_id: string;
      readonly device_id: string;
      readonly device_kind: string;
      readonly ids: readonly string[];
      readonly error: string;
      readonly attempts: number;
    }
  | { readonly name: 'push_device_removed'; readonly user_id: string; readonly device_id: string; readonly device_kind: string; readonly error: string };

/** Every event name a webhook's `events` list may name. */
export const WEBHOOK_EVENT_NAMES: readonly WebhookEvent['name'][] = [
  'channel_occupied',
  'channel_vacated',
  'member_added',
  'member_removed',
  'client_event',
  'cache_miss',
  'subscription_count',
  'notification_opened',
  'notification_action',
  'notification_deleted',
  'push_sent',
  'push_failed',
  'push_device_removed',
];

/** The webhook event of a realtime event, or null for those webhooks do not carry (connections, publishes). */
export function fromRealtimeEvent(event: RealtimeEvent): WebhookEvent | null {
  switch (event.type) {
    case 'channel_occupied':
    case 'channel_vacated':
    case 'cache_miss':
      return { name: event.type, channel: event.channel };
    case 'member_added':
    case 'member_removed':
      return { name: event.type, channel: event.channel, user_id: event.userId };
    case 'client_event':
      return {
        name: 'client_event',
        channel: event.channel,
        event: event.event,
        data: typeof event.data === 'string' ? event.data : JSON.stringify(event.data ?? null),
        socket_id: event.socketId,
        ...(event.userId === null ? {} : { user_id: event.userId }),
      };
    case 'subscription_count':
      return { name: 'subscription_count', channel: event.channel, subscription_count: event.count };
    default:
      return null;
  }
}

/** The webhook event of an inbox event. */
export function fromInboxEvent(event: InboxEvent): WebhookEvent {
  switch (event.type) {
    case 'notification_opened':
      return { name: 'notification_opened', user_id: event.userId, ids: event.ids, all: event.all };
    case 'notification_action':
      return { name: 'notification_action', user_id: event.userId, id: event.id, button_id: event.buttonId };
    case 'notification_deleted':
      return { name: 'notification_deleted', user_id: event.userId, id: event.id };
    case 'push_sent':
      return { name: 'push_sent', user_id: event.userId, device_id: event.deviceId, device_kind: event.deviceKind, ids: event.ids };
    case 'push_failed':
      return {
        name: 'push_failed',
        user_id: event.userId,
        device_id: event.deviceId,
        device_kind: event.deviceKind,
        ids: event.ids,
        error: event.error,
        attempts: event.attempts,
      };
    case 'push_device_removed':
      return { name: 'push_device_removed', user_id: event.userId, device_id: event.deviceId, device_kind: event.deviceKind, error: event.error };
  }
}

/**
 * Whether a webhook target wants an event: its `events` list (all events when absent), and for
 * channel events its channel name filter. Inbox events have no channel and pass the name filter.
 */
export function wants(target: WebhookConfig, event: WebhookEvent): boolean {
  if (target.events !== undefined && !target.events.includes(event.name)) return false;
  if (!('channel' in event)) return true;
  const filter = target.filter;
  if (filter?.channel_name_starts_with !== undefined && !event.channel.startsWith(filter.channel_name_starts_with)) return false;
  if (filter?.channel_name_ends_with !== undefined && !event.channel.endsWith(filter.channel_name_ends_with)) return false;
  return true;
}
