/** One app's live state on this node: its connections, channels and signed-in users. */
import type { ClusterAdapter } from '../cluster/adapter.js';
import type { App } from '../config/apps.js';
import type { Connection } from './connection.js';
import { LocalChannel } from './local-channel.js';
import { outbound, type OutboundMessage } from './transport.js';

/**
 * This node's sockets of one app, indexed for fan-out. Every socket added to or removed from a
 * channel, the sign-ins or the watchers is told to the cluster adapter, so this node hears the
 * other nodes' messages for exactly the channels and users its sockets need.
 */
export class AppHub {
  readonly connections = new Map<string, Connection>();
  readonly channels = new Map<string, LocalChannel>();
  /** Signed-in sockets by user id. */
  readonly users = new Map<string, Set<Connection>>();
  /** Sockets watching a user id (from `user_data.watchlist`). */
  readonly watchers = new Map<string, Set<Connection>>();

  constructor(
    public app: App,
    private readonly adapter: ClusterAdapter,
  ) {}

  /** The channel, created when first subscribed. */
  channel(name: string): LocalChannel {
    let channel = this.channels.get(name);
    if (!channel) {
      channel = new LocalChannel(name);
      this.channels.set(name, channel);
    }
    return channel;
  }

  /**
   * Adds a subscriber; null if it was already subscribed, otherwise a promise that resolves once
   * the other nodes' events of the channel reach this node (rejects when the cluster is unreachable).
   */
  addSubscriber(name: string, connection: Connection): Promise<void> | null {
    const channel = this.channel(name);
    if (channel.subscribers.has(connection)) return null;
    channel.subscribers.add(connection);
    return this.adapter.listenChannel(this.app.id, name);
  }

  /** Removes a subscriber; false if it was not subscribed. Drops empty channels. */
  removeSubscriber(name: string, connection: Connection): boolean {
    const channel = this.channels.get(name);
    if (!channel || !channel.subscribers.delete(connection)) return false;
    if (channel.subscribers.size === 0) this.channels.delete(name);
    this.adapter.unlistenChannel(this.app.id, name);
    return true;
  }

  /** Delivers a serialised event to this node's subscribers of a channel. */
  deliver(channelName: string, frame: string | OutboundMessage, exceptSocketId: string | null): number {
    const channel = this.channels.get(channelName);
    if (!channel) return 0;
    return channel.deliver(typeof frame === 'string' ? outbound(frame) : frame, exceptSocketId);
  }

  addUserSocket(userId: string, connection: Connection): void {
    if (addTo(this.users, userId, connection)) this.listenUser(userId);
  }

  removeUserSocket(userId: string, connection: Connection): void {
    if (removeFrom(this.users, userId, connection)) this.adapter.unlistenUser(this.app.id, userId);
  }

  addWatcher(userId: string, connection: Connection): void {
    if (addTo(this.watchers, userId, connection)) this.listenUser(userId);
  }

  removeWatcher(userId: string, connection: Connection): void {
    if (removeFrom(this.watchers, userId, connection)) this.adapter.unlistenUser(this.app.id, userId);
  }

  /** A user's messages (terminate, watchlist) are best effort: the adapter listens again once the cluster is back. */
  private listenUser(userId: string): void {
    this.adapter.listenUser(this.app.id, userId).catch(() => undefined);
  }
}

/** Adds to a set of the index; true when it was not there. */
function addTo<K, V>(index: Map<K, Set<V>>, key: K, value: V): boolean {
  let set = index.get(key);
  if (!set) {
    set = new Set();
    index.set(key, set);
  }
  if (set.has(value)) return false;
  set.add(value);
  return true;
}

/** Removes from a set of the index; true when it was there. */
function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): boolean {
  const set = index.get(key);
  if (!set || !set.delete(value)) return false;
  if (set.size === 0) index.delete(key);
  return true;
}
