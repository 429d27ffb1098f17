/** Client events (`client-*`): checked, rate-limited and relayed to the other subscribers. */
import { channelKind } from '../protocol/channels.js';
import { Errors } from '../protocol/errors.js';
import type { Connection } from './connection.js';
import type { RealtimeServices } from './services.js';

/** Relays a client event, or throws a 4301 error (sent as `pusher:error`; the socket stays open). */
export function handleClientEvent(
  services: RealtimeServices,
  connection: Connection,
  message: { readonly event: string; readonly channel: string; readonly data: unknown; readonly rawData: string },
): void {
  const app = connection.app;
  if (!app.clientEvents) throw Errors.clientEventsDisabled('Client events are not enabled for this app');
  const kind = channelKind(message.channel);
  if (!kind.authorised) throw Errors.clientEventChannel(`Client events are only allowed on private and presence channels, not on ${message.channel}`);
  if (kind.encrypted) throw Errors.clientEventChannel('Client events are not allowed on encrypted channels');
  const subscription = connection.subscription(message.channel);
  if (!subscription) throw Errors.clientEventNotSubscribed(`Not subscribed to ${message.channel}`);
  if (Buffer.byteLength(message.rawData) > app.maxEventPayloadBytes) {
    throw Errors.clientEventTooLarge(`Client event data is larger than ${app.maxEventPayloadBytes} bytes`);
  }
  if (!connection.takeClientEventToken()) throw Errors.clientEventRateLimited(`Client event rate limit exceeded (${app.clientEventRate} per second)`);
  services.publish(app, message.channel, message.event, message.data, connection.socketId, subscription.presenceUserId);
  if (services.events.active) {
    services.events.emit({
      type: 'client_event',
      app,
      channel: message.channel,
      event: message.event,
      data: message.data,
      socketId: connection.socketId,
      userId: subscription.presenceUserId ?? null,
    });
  }
}
