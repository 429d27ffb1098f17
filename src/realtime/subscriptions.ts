/** Subscribing and unsubscribing: authorisation, presence membership, counts and cache replay. */
import { channelKind, channelNameProblem, serverToUserId } from '../protocol/channels.js';
import { ErrorCode } from '../protocol/errors.js';
import { cacheMiss, encodeEvent, memberAdded, memberRemoved, subscriptionCount, subscriptionSucceeded, type PresenceState } from '../protocol/messages.js';
import { channelAuthString, verifyAuth } from '../protocol/signatures.js';
import type { Connection } from './connection.js';
import { outbound } from './transport.js';

/** A presence subscription's member, parsed from `channel_data`. */
interface Member {
  readonly userId: string;
  readonly userInfo: unknown;
}

/** Tells the client its subscription failed, the way pusher-js reports it to channel listeners. */
function subscriptionError(connection: Connection, channel: string, status: number, message: string, code: number | null): void {
  connection.transport.send(outbound(encodeEvent('pusher:subscription_error', { type: 'AuthError', error: message, status }, channel)));
  connection.sendError(code, message);
}

function parseMember(connection: Connection, channelData: string | undefined): Member | string {
  if (channelData === undefined) return 'presence subscription needs channel_data';
  if (Buffer.byteLength(channelData) > connection.app.maxPresenceMemberBytes) {
    return `channel_data is larger than ${connection.app.maxPresenceMemberBytes} bytes`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(channelData);
  } catch {
    return 'channel_data is not valid JSON';
  }
  if (typeof parsed !== 'object' || parsed === null) return 'channel_data must be a JSON object';
  const { user_id: rawUserId, user_info: userInfo } = parsed as Record<string, unknown>;
  if ((typeof rawUserId !== 'string' && typeof rawUserId !== 'number') || String(rawUserId).length === 0) {
    return 'channel_data.user_id must be a non-empty string or a number';
  }
  return { userId: String(rawUserId), userInfo: userInfo ?? null };
}

/** Handles `pusher:subscribe`. */
export async function handleSubscribe(
  connection: Connection,
  message: { readonly channel: string; readonly auth?: string; readonly channelData?: string },
): Promise<void> {
  const { channel, auth, channelData } = message;
  const problem = channelNameProblem(channel);
  if (problem) {
    subscriptionError(connection, channel, 400, problem, null);
    return;
  }
  const kind = channelKind(channel);
  const app = connection.app;

  if (kind.serverToUser && connection.userId !== serverToUserId(channel)) {
    subscriptionError(connection, channel, 403, 'Only the signed-in user may subscribe to its #server-to-user- channel', ErrorCode.Unauthorized);
    return;
  }
  let member: Member | null = null;
  if (kind.authorised) {
    const signed = channelAuthString(connection.socketId, channel, kind.presence ? channelData : undefined);
    if (!verifyAuth(app.key, app.secret, signed, auth)) {
      subscriptionError(connection, channel, 401, `Invalid signature for channel ${channel}: expected HMAC-SHA256 of "${signed}" with the app secret`, ErrorCode.Unauthorized);
      return;
    }
    if (kind.presence) {
      const parsed = parseMember(connection, channelData);
      if (typeof parsed === 'string') {
        subscriptionError(connection, channel, 400, parsed, null);
        return;
      }
      member = parsed;
    }
  }

  if (connection.subscriptions.has(channel)) {
    // A repeated subscribe is answered again, as Pusher does, without counting it twice.
    await sendSucceeded(connection, channel, member !== null);
    return;
  }

  const realtime = connection.realtime;
  const adapter = realtime.adapter;
  if (member) {
    const members = await adapter.presenceMembers(app.id, channel);
    const alreadyMember = members.some((m) => m.userId === member.userId);
    if (!alreadyMember && members.length >= app.maxPresenceMembers) {
      subscriptionError(connection, channel, 403, `Presence channel ${channel} is full (${app.maxPresenceMembers} members)`, ErrorCode.OverCapacity);
      return;
    }
  }
  if (connection.closed) return;

  connection.subscriptions.set(channel, member ? { presenceUserId: member.userId } : {});
  connection.hub.addSubscriber(channel, connection);
  if (kind.authorised) connection.authorised = true;

  let firstForUser = false;
  if (member) firstForUser = await adapter.presenceJoin(app.id, channel, connection.socketId, member);
  const count = await adapter.subscriptionAdded(app.id, channel);
  if (connection.closed) return;

  await sendSucceeded(connection, channel, member !== null);
  if (member && firstForUser) realtime.broadcastFrame(app, channel, memberAdded(channel, member.userId, member.userInfo), connection.socketId);
  if (app.subscriptionCount && !kind.presence) realtime.broadcastFrame(app, channel, subscriptionCount(channel, count), null);
  if (kind.cache) await replayCache(connection, channel);
}

async function sendSucceeded(connection: Connection, channel: string, presence: boolean): Promise<void> {
  let state: PresenceState | undefined;
  if (presence) {
    const members = await connection.realtime.adapter.presenceMembers(connection.app.id, channel);
    const hash: Record<string, unknown> = {};
    for (const m of members) hash[m.userId] = m.userInfo;
    state = { ids: members.map((m) => m.userId), hash, count: members.length };
  }
  connection.transport.send(outbound(subscriptionSucceeded(channel, state)));
}

async function replayCache(connection: Connection, channel: string): Promise<void> {
  const cached = await connection.realtime.adapter.cacheGet(connection.app.id, channel);
  if (connection.closed) return;
  connection.transport.send(outbound(cached ? encodeEvent(cached.event, cached.data, channel) : cacheMiss(channel)));
}

/** Handles `pusher:unsubscribe`; unknown channels are ignored, as on Pusher. */
export async function handleUnsubscribe(connection: Connection, channel: string): Promise<void> {
  const subscription = connection.subscriptions.get(channel);
  if (!subscription) return;
  connection.subscriptions.delete(channel);
  await leave(connection, channel, subscription.presenceUserId);
}

/** Removes every subscription of a closed socket. */
export async function unsubscribeAll(connection: Connection): Promise<void> {
  const subscriptions = [...connection.subscriptions];
  connection.subscriptions.clear();
  await Promise.all(subscriptions.map(([channel, subscription]) => leave(connection, channel, subscription.presenceUserId)));
}

async function leave(connection: Connection, channel: string, presenceUserId: string | undefined): Promise<void> {
  const { realtime, app } = connection;
  connection.hub.removeSubscriber(channel, connection);
  if (presenceUserId !== undefined) {
    const lastForUser = await realtime.adapter.presenceLeave(app.id, channel, connection.socketId, presenceUserId);
    if (lastForUser) realtime.broadcastFrame(app, channel, memberRemoved(channel, presenceUserId), null);
  }
  const count = await realtime.adapter.subscriptionRemoved(app.id, channel);
  if (app.subscriptionCount && count > 0 && !channelKind(channel).presence) {
    realtime.broadcastFrame(app, channel, subscriptionCount(channel, count), null);
  }
}
