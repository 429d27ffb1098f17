/** `pusher:signin`: user authentication, `#server-to-user-` delivery and watchlists. */
import { Errors } from '../protocol/errors.js';
import { MAX_WATCHLIST_LENGTH } from '../protocol/limits.js';
import { signinSuccess, watchlistEvents } from '../protocol/messages.js';
import { verifyAuth } from '../protocol/signatures.js';
import type { AppHub } from './app-hub.js';
import type { Connection } from './connection.js';
import type { RealtimeServices } from './services.js';
import { outbound } from './transport.js';

interface UserData {
  readonly id: string;
  readonly watchlist: string[];
}

function parseUserData(text: string): UserData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw Errors.invalidUserData('user_data is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw Errors.invalidUserData('user_data must be a JSON object');
  const { id, watchlist } = parsed as Record<string, unknown>;
  if (typeof id !== 'string' || id.length === 0) throw Errors.invalidUserData('user_data.id must be a non-empty string');
  if (watchlist === undefined) return { id, watchlist: [] };
  if (!Array.isArray(watchlist) || !watchlist.every((w) => typeof w === 'string')) {
    throw Errors.invalidUserData('user_data.watchlist must be an array of user id strings');
  }
  if (watchlist.length > MAX_WATCHLIST_LENGTH) {
    throw Errors.watchlistTooLong(watchlist.length, MAX_WATCHLIST_LENGTH);
  }
  return { id, watchlist: [...new Set(watchlist as string[])] };
}

/** Handles `pusher:signin`: a bad signature closes the socket with 4009, as on Pusher. */
export async function handleSignin(
  services: RealtimeServices,
  hub: AppHub,
  connection: Connection,
  message: { readonly auth: string; readonly userData: string },
): Promise<void> {
  const app = connection.app;
  if (!verifyAuth(app.key, app.secret, `${connection.socketId}::user::${message.userData}`, message.auth)) {
    throw Errors.invalidSigninSignature();
  }
  const user = parseUserData(message.userData);
  if (connection.userId !== null) {
    if (connection.userId !== user.id) throw Errors.signedInAsOther();
    connection.transport.send(outbound(signinSuccess(message.userData)));
    return;
  }

  connection.signIn(user.id, user.watchlist);
  hub.addUserSocket(user.id, connection);
  for (const watched of user.watchlist) hub.addWatcher(watched, connection);
  connection.transport.send(outbound(signinSuccess(message.userData)));

  // The sign-in stands locally even when cluster state is unreachable: the adapter registers it
  // from its snapshot once the backend is back; only the watchlist announcements are lost.
  const first = await services.adapter.userSignedIn(app.id, user.id, connection.socketId).catch((error: unknown) => {
    services.logger.warn({ err: error, socketId: connection.socketId }, 'could not record a sign-in in cluster state');
    return false;
  });
  if (first) services.announcePresence(app, user.id, true);
  if (user.watchlist.length > 0 && !connection.closed) {
    const online = await services.adapter.onlineUsers(app.id, user.watchlist).catch((error: unknown) => {
      services.logger.warn({ err: error, socketId: connection.socketId }, 'could not read the online users of a watchlist');
      return [];
    });
    if (online.length > 0 && !connection.closed) {
      connection.transport.send(outbound(watchlistEvents([{ name: 'online', user_ids: online }])));
    }
  }
}

/** Removes a closed socket's sign-in and watches; announces the user offline after its last socket. */
export async function signOut(services: RealtimeServices, hub: AppHub, connection: Connection): Promise<void> {
  const userId = connection.userId;
  if (userId === null) return;
  const app = connection.app;
  hub.removeUserSocket(userId, connection);
  for (const watched of connection.watchlist) hub.removeWatcher(watched, connection);
  const last = await services.adapter.userSignedOut(app.id, userId, connection.socketId).catch((error: unknown) => {
    services.logger.warn({ err: error, socketId: connection.socketId }, 'could not record a sign-out in cluster state');
    return false;
  });
  if (last) services.announcePresence(app, userId, false);
}
