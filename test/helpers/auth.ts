/** pusher-js auth options backed by the official `pusher` SDK's signing, as an app's backend would do it. */
import Pusher from 'pusher';
import type { ChannelAuthorizationOptions, UserAuthenticationOptions } from 'pusher-js';
import type { PusherJs } from '../../src/client/pusher-js.js';
import { once, waitFor } from './wait.js';

/** Presence data per channel, or none for private channels. */
export type PresenceData = (channelName: string) => Pusher.PresenceChannelData | undefined;

/** `channelAuthorization` that signs every channel with the SDK's `authorizeChannel`. */
export function sdkChannelAuth(backend: Pusher, presence?: Pusher.PresenceChannelData | PresenceData): ChannelAuthorizationOptions {
  return {
    customHandler: ({ socketId, channelName }, callback) => {
      const data = typeof presence === 'function' ? presence(channelName) : presence;
      callback(null, backend.authorizeChannel(socketId, channelName, data));
    },
  };
}

/** `userAuthentication` that signs in as `user` with the SDK's `authenticateUser`. */
export function sdkUserAuth(backend: Pusher, user: Pusher.UserChannelData): UserAuthenticationOptions {
  return {
    customHandler: ({ socketId }, callback) => callback(null, backend.authenticateUser(socketId, user)),
  };
}

/** Waits until a pusher-js client is connected; resolves with its socket id. */
export async function connected(client: PusherJs, timeoutMs = 5_000): Promise<string> {
  if (client.connection.state !== 'connected') {
    await once<void>((done) => client.connection.bind('connected', () => done()), 'pusher-js connected', timeoutMs);
  }
  return client.connection.socket_id;
}

/** Subscribes a pusher-js client and waits for `pusher:subscription_succeeded`; resolves with the channel. */
export async function subscribed(client: PusherJs, name: string, timeoutMs = 5_000) {
  const channel = client.subscribe(name);
  await once<void>((done) => channel.bind('pusher:subscription_succeeded', () => done()), `subscription to ${name}`, timeoutMs);
  return channel;
}

/** Signs a pusher-js client in and waits until its `#server-to-user-` channel is subscribed. */
export async function signedIn(client: PusherJs, timeoutMs = 5_000): Promise<void> {
  client.signin();
  await waitFor(() => client.user.serverToUserChannel?.subscribed === true, 'sign-in and #server-to-user- subscription', timeoutMs);
}

/** The SDK for an app with an encryption master key, for `private-encrypted-` channels. */
export function encryptingBackend(port: number, app: { id: string; key: string; secret: string }, masterKeyBase64: string): Pusher {
  return new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(port), useTLS: false, encryptionMasterKeyBase64: masterKeyBase64 });
}
