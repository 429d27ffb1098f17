/** Subscribing and unsubscribing: authorisation, presence membership, counts and cache replay. */
import { channelKind, channelNameProblem, serverToUserId } from '../protocol/channels.js';
import { Errors, type ClusterUnavailableError } from '../protocol/errors.js';
import { cacheMiss, encodeEvent, memberAdded, memberRemoved, subscriptionSucceeded, type PresenceState } from '../protocol/messages.js';
import { channelAuthString, verifyAuth } from '../protocol/signatures.js';
import type { PresenceMember } from '../cluster/adapter.js';
import type { AppHub } from './app-hub.js';
import type { Connection } from './connection.js';
import type { RealtimeServices } from './services.js';
import { outbound } from './transport.js';

/** A presence subscription's member, parsed from `channel_data`. */
interface Member {
  readonly userId: string;
  readonly userInfo: unknown;
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

/** Handles `pusher:subscribe`; a refusal is thrown as a registered error with its subscription_error status. */
export async function handleSubscribe(
  services: RealtimeServices,
  hub: AppHub,
  connection: Connection,
  message: { readonly channel: string; readonly auth?: string; readonly channelData?: string },
): Promise<void> {
  const { channel, auth, channelData } = message;
  const problem = channelNameProblem(channel);
  if (problem) throw Errors.invalidChannelName(problem);
  const kind = channelKind(channel);
  const app = connection.app;

  if (kind.serverToUser && connection.userId !== serverToUserId(channel)) throw Errors.serverToUserForbidden();
  let member: Member | null = null;
  if (kind.authorised) {
    // A private channel's authorisation may carry channel_data (the Pusher SDKs sign it when given
    // data); the signature then covers it. A presence channel always does.
    const signed = channelAuthString(connection.socketId, channel, channelData);
    if (!verifyAuth(app.key, app.secret, signed, auth)) throw Errors.invalidChannelSignature(channel, signed);
    if (kind.presence) {
      const parsed = parseMember(connection, channelData);
      if (typeof parsed === 'string') throw Errors.invalidChannelData(parsed);
      member = parsed;
    }
  }

  const subscribed = connection.subscription(channel) !== undefined;
  if (!subscribed && connection.subscriptionCount >= app.maxChannelsPerConnection) throw Errors.tooManyChannels(app.maxChannelsPerConnection);
  if (subscribed) {
    // A repeated subscribe is answered again, as Pusher does, without counting it twice.
    await sendSucceeded(services, connection, channel, member !== null).catch((error: unknown) => {
      throw unavailable(services, connection, channel, error);
    });
    return;
  }

  const adapter = services.adapter;
  if (member) {
    let members: PresenceMember[];
    try {
      members = await adapter.presenceMembers(app.id, channel);
    } catch (error) {
      throw unavailable(services, connection, channel, error);
    }
    const alreadyMember = members.some((m) => m.userId === member.userId);
    if (!alreadyMember && members.length >= app.maxPresenceMembers) throw Errors.presenceChannelFull(channel, app.maxPresenceMembers);
  }
  if (connection.closed) return;

  connection.addSubscription(channel, member ? { presenceUserId: member.userId, presenceUserInfo: member.userInfo } : {}, kind.authorised);
  const listening = hub.addSubscriber(channel, connection) ?? Promise.resolve();

  // The writes go out in the same step as the local change, as the adapter's contract asks; the
  // client hears it succeeded only once the other nodes' events of the channel reach this node.
  const [joined, added, listened] = await Promise.allSettled([
    member ? adapter.presenceJoin(app.id, channel, connection.socketId, member) : Promise.resolve(false),
    adapter.subscriptionAdded(app.id, channel),
    listening,
  ]);
  let failure: { readonly error: unknown } | null = null;
  if (joined.status === 'rejected') failure = { error: joined.reason };
  else if (added.status === 'rejected') failure = { error: added.reason };
  else if (listened.status === 'rejected') failure = { error: listened.reason };
  else if (!connection.closed) {
    try {
      await sendSucceeded(services, connection, channel, member !== null);
    } catch (error) {
      failure = { error };
    }
  }
  if (failure) {
    undoSubscribe(services, hub, connection, channel, member, added.status === 'fulfilled');
    throw unavailable(services, connection, channel, failure.error);
  }
  if (connection.closed || added.status !== 'fulfilled') return;
  const firstForUser = joined.status === 'fulfilled' && joined.value;
  const count = added.value;

  if (member && firstForUser) {
    services.broadcastFrame(app, channel, memberAdded(channel, member.userId, member.userInfo), connection.socketId);
    services.events.emit({ type: 'member_added', app, channel, userId: member.userId });
  }
  services.countChanged(app, channel, count, true);
  if (kind.cache) await replayCache(services, connection, channel);
}

/**
 * Undoes a subscription whose shared writes failed, so no local state leaks; the compensating
 * writes go out with the local change (a join that never landed makes `presenceLeave` a no-op).
 */
function undoSubscribe(services: RealtimeServices, hub: AppHub, connection: Connection, channel: string, member: Member | null, countAdded: boolean): void {
  const { adapter } = services;
  const appId = connection.app.id;
  connection.removeSubscription(channel);
  hub.removeSubscriber(channel, connection);
  if (member) void adapter.presenceLeave(appId, channel, connection.socketId, member.userId).catch(() => false);
  if (countAdded) void adapter.subscriptionRemoved(appId, channel).catch(() => 0);
}

/** The refusal of a subscription because the cluster's shared state cannot be reached; the client may retry. */
function unavailable(services: RealtimeServices, connection: Connection, channel: string, error: unknown): ClusterUnavailableError {
  services.logger.warn({ err: error, socketId: connection.socketId, channel }, 'subscription refused: cluster state unavailable');
  return Errors.clusterUnavailable(`Cannot subscribe to ${channel} right now: cluster state is unavailable; try again`, { cause: error });
}

async function sendSucceeded(services: RealtimeServices, connection: Connection, channel: string, presence: boolean): Promise<void> {
  let state: PresenceState | undefined;
  if (presence) {
    const members = await services.adapter.presenceMembers(connection.app.id, channel);
    // fromEntries defines own keys, so a user id such as "__proto__" is kept, not swallowed by the setter.
    const hash: Record<string, unknown> = Object.fromEntries(members.map((m) => [m.userId, m.userInfo]));
    state = { ids: members.map((m) => m.userId), hash, count: members.length };
  }
  connection.transport.send(outbound(subscriptionSucceeded(channel, state)));
}

async function replayCache(services: RealtimeServices, connection: Connection, channel: string): Promise<void> {
  // Unreadable cache degrades to a miss: the client then fetches the state from the app itself.
  const cached = await services.adapter.cacheGet(connection.app.id, channel).catch((error: unknown) => {
    services.logger.warn({ err: error, channel }, 'could not read cache channel event');
    return null;
  });
  if (connection.closed) return;
  connection.transport.send(outbound(cached ? encodeEvent(cached.event, cached.data, channel) : cacheMiss(channel)));
  if (!cached) services.events.emit({ type: 'cache_miss', app: connection.app, channel });
}

/** Handles `pusher:unsubscribe`; unknown channels are ignored, as on Pusher. */
export async function handleUnsubscribe(services: RealtimeServices, hub: AppHub, connection: Connection, channel: string): Promise<void> {
  const subscription = connection.removeSubscription(channel);
  if (!subscription) return;
  await leave(services, hub, connection, channel, subscription.presenceUserId);
}

/** Removes every subscription of a closed socket. */
export async function unsubscribeAll(services: RealtimeServices, hub: AppHub, connection: Connection): Promise<void> {
  const subscriptions = connection.removeAllSubscriptions();
  await Promise.all(subscriptions.map(([channel, subscription]) => leave(services, hub, connection, channel, subscription.presenceUserId)));
}

async function leave(services: RealtimeServices, hub: AppHub, connection: Connection, channel: string, presenceUserId: string | undefined): Promise<void> {
  const app = connection.app;
  hub.removeSubscriber(channel, connection);
  // Both writes go out in the same step as the local change. One that fails is only logged:
  // the adapter re-registers this node's share from its snapshot once the backend is back.
  const [left, removed] = await Promise.allSettled([
    presenceUserId === undefined ? Promise.resolve(false) : services.adapter.presenceLeave(app.id, channel, connection.socketId, presenceUserId),
    services.adapter.subscriptionRemoved(app.id, channel),
  ]);
  for (const result of [left, removed]) {
    if (result.status === 'rejected') services.logger.warn({ err: result.reason, socketId: connection.socketId, channel }, 'could not record leaving a channel in cluster state');
  }
  if (presenceUserId !== undefined && left.status === 'fulfilled' && left.value) {
    services.broadcastFrame(app, channel, memberRemoved(channel, presenceUserId), null);
    services.events.emit({ type: 'member_removed', app, channel, userId: presenceUserId });
  }
  if (removed.status === 'fulfilled') services.countChanged(app, channel, removed.value, false);
}
