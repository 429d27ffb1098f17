/** One app's live state on this node: its connections, channels and signed-in users. */
import type { App } from '../config/apps.js';
import type { Connection } from './connection.js';
import { LocalChannel } from './local-channel.js';
import { outbound, type OutboundMessage } from './transport.js';

/** This node's sockets of one app, indexed for fan-out. */
export class AppHub {
  readonly connections = new Map<string, Connection>();
  readonly channels = new Map<string, LocalChannel>();
  /** Signed-in sockets by user id. */
  readonly users = new Map<string, Set<Connection>>();
  /** Sockets watching a user id (from `user_data.watchlist`). */
  readonly watchers = new Map<string, Set<Connection>>();

  constructor(public app: App) {}

  /** The channel, created when first subscribed. */
  channel(name: string): LocalChannel {
    let channel = this.channels.get(name);
    if (!channel) {
      channel = new LocalChannel(name);
      this.channels.set(name, channel);
    }
    return channel;
  }

  /** Adds a subscriber; false if it was already subscribed. */
  addSubscriber(name: string, connection: Connection): boolean {
    const channel = this.channel(name);
    if (channel.subscribers.has(connection)) return false;
    channel.subscribers.add(connection);
    return true;
  }

  /** Removes a subscriber; false if it was not subscribed. Drops empty channels. */
  removeSubscriber(name: string, connection: Connection): boolean {
    const channel = this.channels.get(name);
    if (!channel || !channel.subscribers.delete(connection)) return false;
    if (channel.subscribers.size === 0) this.channels.delete(name);
    return true;
  }

  /** Delivers a serialised event to this node's subscribers of a channel. */
  deliver(channelName: string, frame: string | OutboundMessage, exceptSocketId: string | null): number {
    const channel = this.channels.get(channelName);
    if (!channel) return 0;
    return channel.deliver(typeof frame === 'string' ? outbound(frame) : frame, exceptSocketId);
  }

  addUserSocket(userId: string, connection: Connection): void {
    addTo(this.users, userId, connection);
  }

  removeUserSocket(userId: string, connection: Connection): void {
    removeFrom(this.users, userId, connection);
  }

  addWatcher(userId: string, connection: Connection): void {
    addTo(this.watchers, userId, connection);
  }

  removeWatcher(userId: string, connection: Connection): void {
    removeFrom(this.watchers, userId, connection);
  }
}

function addTo<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  let set = index.get(key);
  if (!set) {
    set = new Set();
    index.set(key, set);
  }
  set.add(value);
}

function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}
