/**
 * A stand-in for a Laravel app's broadcasting backend, built on Express and the official `pusher`
 * SDK: `POST /broadcasting/auth` answers pusher-js's form-encoded authorisation request the way
 * Laravel's `PusherBroadcaster` does (`{ auth }` for private channels, `{ auth, channel_data }`
 * with `{ user_id, user_info: { id, name } }` for presence channels).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import type Pusher from 'pusher';

/** A signed-in user of the Laravel app, chosen per request by the `X-User-Id` header. */
export interface LaravelUser {
  readonly id: number;
  readonly name: string;
}

/** The running backend. */
export interface LaravelBackend {
  /** `http://127.0.0.1:{port}/broadcasting/auth`. */
  readonly authEndpoint: string;
  close(): Promise<void>;
}

/** Laravel's channel rules of `routes/channels.php`: the user's own model channel, any presence room. */
function authorises(user: LaravelUser, channel: string): boolean {
  const own = /^private-App\.Models\.User\.(\d+)$/.exec(channel);
  if (own) return Number(own[1]) === user.id;
  return channel.startsWith('private-') || channel.startsWith('presence-');
}

/** Starts the backend on a free loopback port. */
export async function startLaravelBackend(pusher: Pusher, users: readonly LaravelUser[]): Promise<LaravelBackend> {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.post('/broadcasting/auth', (request, response) => {
    const user = users.find((candidate) => String(candidate.id) === request.get('x-user-id'));
    const socketId = String(request.body?.socket_id ?? '');
    const channel = String(request.body?.channel_name ?? '');
    if (!user || !authorises(user, channel)) {
      response.status(403).json({ message: 'This action is unauthorized.' });
      return;
    }
    const presence = channel.startsWith('presence-') ? { user_id: String(user.id), user_info: { id: user.id, name: user.name } } : undefined;
    response.json(pusher.authorizeChannel(socketId, channel, presence));
  });
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const { port } = server.address() as AddressInfo;
  return {
    authEndpoint: `http://127.0.0.1:${port}/broadcasting/auth`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
