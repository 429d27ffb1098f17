/**
 * Raw `ws` clients speaking Pusher protocol 7: connect to `/app/{key}?protocol=7`, subscribe
 * (private and presence channels signed locally from the app secret), answer `pusher:ping`.
 */
import { WebSocket, type RawData } from 'ws';
import { signChannel } from '../../src/protocol/signatures.js';
import type { ServerAddress } from './commands.js';

const CLIENT_OPTIONS = { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 15_000 } as const;
const PONG = JSON.stringify({ event: 'pusher:pong', data: {} });

export function socketUrl(server: ServerAddress): string {
  return `ws://${server.host}:${server.port}/app/${encodeURIComponent(server.app.key)}?protocol=7&client=herald-bench&version=1.0`;
}

/** The `pusher:subscribe` frame for a channel, signed when the channel needs it. */
export function subscribeFrame(server: ServerAddress, socketId: string, channel: string): string {
  if (channel.startsWith('presence-')) {
    const channelData = JSON.stringify({ user_id: socketId });
    return JSON.stringify({ event: 'pusher:subscribe', data: { channel, auth: signChannel(server.app.key, server.app.secret, socketId, channel, channelData), channel_data: channelData } });
  }
  if (channel.startsWith('private-')) {
    return JSON.stringify({ event: 'pusher:subscribe', data: { channel, auth: signChannel(server.app.key, server.app.secret, socketId, channel) } });
  }
  return JSON.stringify({ event: 'pusher:subscribe', data: { channel } });
}

/** A control message (not a benchmark event) received on a subscribed socket. */
export interface ControlOutcome {
  /** The text of a `pusher:error`, if it was one. */
  readonly error: string | null;
}

/** Handles a non-benchmark message on a subscribed socket: answers pings, reports errors. */
export function handleControl(socket: WebSocket, text: string): ControlOutcome {
  let event: unknown;
  try {
    event = (JSON.parse(text) as { event?: unknown }).event;
  } catch {
    return { error: `unparsable frame: ${text.slice(0, 120)}` };
  }
  if (event === 'pusher:ping') socket.send(PONG);
  return { error: event === 'pusher:error' ? text.slice(0, 300) : null };
}

/**
 * Opens a socket and subscribes it to `channel`. Resolves with the socket once
 * `pusher_internal:subscription_succeeded` arrives; from then on every message goes to
 * `onMessage` (one shared function, called with the socket as `this`). Rejects on a
 * `pusher:error`, a close or `timeoutMs`.
 */
export function openSubscribed(
  server: ServerAddress,
  channel: string,
  timeoutMs: number,
  onMessage: (this: WebSocket, data: RawData) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(socketUrl(server), CLIENT_OPTIONS);
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.terminate();
      reject(new Error(reason));
    };
    const timer = setTimeout(() => fail(`no subscription_succeeded within ${timeoutMs} ms`), timeoutMs);
    socket.on('error', (error) => fail(error.message));
    socket.once('close', (code) => fail(`closed with ${code} before subscribing`));
    const handshake = (data: RawData) => {
      const text = data.toString();
      let message: { event?: unknown; data?: unknown };
      try {
        message = JSON.parse(text) as typeof message;
      } catch {
        fail(`unparsable frame: ${text.slice(0, 120)}`);
        return;
      }
      if (message.event === 'pusher:connection_established') {
        const payload = typeof message.data === 'string' ? (JSON.parse(message.data) as { socket_id?: unknown }) : (message.data as { socket_id?: unknown });
        socket.send(subscribeFrame(server, String(payload.socket_id), channel));
      } else if (message.event === 'pusher_internal:subscription_succeeded') {
        settled = true;
        clearTimeout(timer);
        socket.off('message', handshake);
        socket.removeAllListeners('close');
        socket.on('message', onMessage);
        resolve(socket);
      } else if (message.event === 'pusher:error' || message.event === 'pusher:subscription_error') {
        fail(text.slice(0, 300));
      } else if (message.event === 'pusher:ping') {
        socket.send(PONG);
      }
    };
    socket.on('message', handshake);
  });
}
