/**
 * The cluster adapter: how one Herald node shares live state with the others.
 *
 * Live fan-out through the adapter is at-most-once: a node that is down or cut off misses
 * messages published meanwhile. Durable delivery is the inbox's job, not the adapter's.
 * Every method resolves once the shared state reflects the change on this node's view.
 *
 * The writes (`subscriptionAdded/Removed`, `presenceJoin/Leave`, `userSignedIn/Out`) report a
 * change of the node's local state, and must be called in the same synchronous step as that
 * change: the adapter may re-register the node's whole share from `ClusterHooks.snapshot()` at
 * any moment, and a write sent later than its local change would then be counted twice.
 *
 * When the shared backend cannot be reached, calls reject with `ClusterUnavailableError` within
 * a bounded time instead of hanging. A rejected write may or may not have landed; the adapter
 * re-registers the node's share from `snapshot()` once the backend answers again, so the caller
 * only keeps its own local state right (undo a refused subscription, keep a sign-in).
 */

/**
 * A message one node sends to the others. Versioned and discriminated; a node ignores its own.
 * A `publish` reaches the nodes listening to its channel, the others the nodes listening to the user.
 */
export type ClusterMessage =
  | { readonly v: 1; readonly type: 'publish'; readonly appId: string; readonly channel: string; readonly frame: string; readonly exceptSocketId: string | null }
  | { readonly v: 1; readonly type: 'terminate-user'; readonly appId: string; readonly userId: string }
  | { readonly v: 1; readonly type: 'watchlist'; readonly appId: string; readonly userId: string; readonly online: boolean };

/** Cluster messages this node sent and received, for the metrics. */
export interface ClusterTraffic {
  /** Messages this node sent to the others. */
  published: number;
  /** Messages of other nodes this node received (each for a channel or user it listens to). */
  received: number;
  /** This node's own messages handed back by the backend (dropped unread). */
  echoes: number;
  /** Channels and users this node listens to right now. */
  topics: number;
}

/** Cluster-wide figures for one occupied channel. */
export interface ChannelStats {
  readonly subscriptionCount: number;
  /** Distinct presence members; 0 for channels that are not presence channels. */
  readonly userCount: number;
}

/** A presence member. */
export interface PresenceMember {
  readonly userId: string;
  readonly userInfo: unknown;
}

/** The last event of a cache channel. */
export interface CachedEvent {
  readonly event: string;
  readonly data: unknown;
}

/** A cached event with the milliseconds it has left. */
export interface FreshCachedEvent extends CachedEvent {
  readonly ttlMs: number;
}

/**
 * A change of shared state the adapter made on its own rather than for a call of this node: a dead
 * node's share removed, or this node's share re-registered after the backend lost or dropped it.
 * Each change is reported to exactly one node, which tells the clients of every node.
 */
export type ClusterChange =
  | { readonly type: 'member'; readonly appId: string; readonly channel: string; readonly userId: string; readonly userInfo: unknown; readonly present: boolean }
  | { readonly type: 'user'; readonly appId: string; readonly userId: string; readonly online: boolean }
  | { readonly type: 'count'; readonly appId: string; readonly channel: string; readonly count: number };

/** This node's local share of the shared state, as the realtime core knows it right now. */
export interface NodeSnapshot {
  /** Subscriptions per channel on this node. */
  readonly subscriptions: readonly { readonly appId: string; readonly channel: string; readonly count: number }[];
  /** One entry per presence subscription (socket) on this node. */
  readonly presence: readonly { readonly appId: string; readonly channel: string; readonly socketId: string; readonly member: PresenceMember }[];
  /** One entry per signed-in socket on this node. */
  readonly signIns: readonly { readonly appId: string; readonly userId: string; readonly socketId: string }[];
}

/** What the realtime core hands the adapter at start. */
export interface ClusterHooks {
  /** A message from another node. */
  onMessage(message: ClusterMessage): void;
  /** A change the adapter made on its own (see `ClusterChange`). */
  onChange(change: ClusterChange): void;
  /** This node's share, read whenever the adapter (re-)registers it. */
  snapshot(): NodeSnapshot;
}

/** The shared backend could not be reached: defined in the error registry (HTTP 503, a 503 subscription_error). */
export { ClusterUnavailableError } from '../protocol/errors.js';

/** Shared state and fan-out between the nodes of a cluster. */
export interface ClusterAdapter {
  /** Starts receiving messages and changes from the cluster; `onMessage` never gets this node's own. */
  start(hooks: ClusterHooks): Promise<void>;
  /** Stops, and removes this node's share of presence and counts. */
  close(): Promise<void>;
  /** Whether the shared backend is reachable (for `/ready`). */
  isReady(): boolean;

  /**
   * Sends a message to the other nodes that listen to its channel (a `publish`) or user (the
   * others); the caller handles its own node. At-most-once.
   */
  send(message: ClusterMessage): void;
  /** Messages sent and received so far. */
  readonly traffic: ClusterTraffic;

  /**
   * Starts receiving other nodes' `publish` messages of a channel: called once per local
   * subscription (the adapter counts them), resolving once those messages reach this node.
   */
  listenChannel(appId: string, channel: string): Promise<void>;
  /** A local subscription of the channel ended; at the last one, the node stops receiving its messages. */
  unlistenChannel(appId: string, channel: string): void;
  /** Starts receiving the messages for a user (a signed-in socket or a watcher here); counted like channels. */
  listenUser(appId: string, userId: string): Promise<void>;
  /** A signed-in socket or watcher of the user went away. */
  unlistenUser(appId: string, userId: string): void;

  /** Records one more subscription; resolves to the cluster-wide count after it (1 means just occupied). */
  subscriptionAdded(appId: string, channel: string): Promise<number>;
  /** Records one subscription less; resolves to the cluster-wide count after it (0 means just vacated). */
  subscriptionRemoved(appId: string, channel: string): Promise<number>;
  /** All occupied channels of an app with cluster-wide stats. */
  channels(appId: string): Promise<Map<string, ChannelStats>>;
  /** Stats of one channel (zero counts when unoccupied). */
  channelStats(appId: string, channel: string): Promise<ChannelStats>;

  /** Adds a socket's membership; resolves true when it is the user's first socket in the channel. */
  presenceJoin(appId: string, channel: string, socketId: string, member: PresenceMember): Promise<boolean>;
  /** Removes a socket's membership; resolves true when it was the user's last socket in the channel. */
  presenceLeave(appId: string, channel: string, socketId: string, userId: string): Promise<boolean>;
  /** The members of a presence channel, one entry per user. */
  presenceMembers(appId: string, channel: string): Promise<PresenceMember[]>;

  /** Records a signed-in socket; resolves true when it is the user's first in the app. */
  userSignedIn(appId: string, userId: string, socketId: string): Promise<boolean>;
  /** Removes a signed-in socket; resolves true when it was the user's last in the app. */
  userSignedOut(appId: string, userId: string, socketId: string): Promise<boolean>;
  /** Which of these users have at least one signed-in socket. */
  onlineUsers(appId: string, userIds: readonly string[]): Promise<string[]>;

  /** Keeps the last event of a cache channel for `ttlMs`. */
  cacheSet(appId: string, channel: string, event: CachedEvent, ttlMs: number): Promise<void>;
  /** The last event of a cache channel and the milliseconds it has left, if still fresh. */
  cacheGet(appId: string, channel: string): Promise<FreshCachedEvent | null>;
}
