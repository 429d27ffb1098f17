/** Built-in auth for clients holding a user token: `/apps/:appId/auth` and `/apps/:appId/user-auth`. */
import { inboxChannel, type App } from '../../config/apps.js';
import type { UserClaims } from '../../inbox/user-tokens.js';
import { channelKind, channelNameProblem } from '../../protocol/channels.js';
import { badRequest, forbidden } from '../../protocol/errors.js';
import { signChannel, signUser } from '../../protocol/signatures.js';
import { isSocketId } from '../../protocol/socket-id.js';
import { formBody, type RequestContext } from '../context.js';

function socketIdField(fields: Record<string, string>): string {
  const socketId = fields.socket_id;
  if (!isSocketId(socketId)) throw badRequest('"socket_id" must look like "1234.5678"');
  return socketId;
}

/** Whether a channel is the inbox channel of some user under the app's template (whoever that user is). */
function isInboxChannelOfAnyUser(app: App, channel: string): boolean {
  const at = app.inboxChannelTemplate.indexOf('{userId}');
  const prefix = app.inboxChannelTemplate.slice(0, at);
  const suffix = app.inboxChannelTemplate.slice(at + '{userId}'.length);
  return channel.length > prefix.length + suffix.length && channel.startsWith(prefix) && channel.endsWith(suffix);
}

/**
 * Signs a channel subscription for the token's user: their own inbox channel, and presence
 * channels (as a member with the token's `user_info`) other than another user's inbox channel.
 * Any other channel is 403. A demo token gets its own inbox channel only: anonymous visitors never
 * join the app's presence rooms.
 */
export function authorizeChannel(ctx: RequestContext, claims: UserClaims): unknown {
  const app = ctx.app!;
  const fields = formBody(ctx);
  const socketId = socketIdField(fields);
  const channel = fields.channel_name;
  const problem = channelNameProblem(channel);
  if (problem) throw badRequest(`"channel_name": ${problem}`);
  const own = inboxChannel(app, claims.userId);
  if (claims.demo && channel !== own) throw forbidden(`A demo token authorises only its own inbox channel ${own}, not ${channel}`);
  // An inbox template may name presence channels: another user's inbox is never a presence room to join.
  if (channel !== own && (!channelKind(channel).presence || isInboxChannelOfAnyUser(app, channel))) {
    throw forbidden(`A user token authorises its own inbox channel ${own} and presence channels, not ${channel}`);
  }
  if (channelKind(channel).presence) {
    const channelData = JSON.stringify({ user_id: claims.userId, user_info: claims.userInfo ?? {} });
    return { auth: signChannel(app.key, app.secret, socketId, channel, channelData), channel_data: channelData };
  }
  return { auth: signChannel(app.key, app.secret, socketId, channel) };
}

/** Signs `pusher:signin` user data for the token's user. */
export function authenticateUserSignin(ctx: RequestContext, claims: UserClaims): unknown {
  const app = ctx.app!;
  const socketId = socketIdField(formBody(ctx));
  const userData: Record<string, unknown> = { id: claims.userId };
  if (claims.userInfo !== null) userData.user_info = claims.userInfo;
  if (claims.watchlist) userData.watchlist = claims.watchlist;
  const text = JSON.stringify(userData);
  return { auth: signUser(app.key, app.secret, socketId, text), user_data: text };
}
