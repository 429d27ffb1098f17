/** The single-node cluster adapter: shared state lives in this process's memory. */
import type { CachedEvent, ChannelStats, ClusterAdapter, ClusterHooks, ClusterMessage, ClusterTraffic, FreshCachedEvent, PresenceMember } from './adapter.js';

interface PresenceEntry {
  userInfo: unknown;
  sockets: Set<string>;
}

/** Map of maps keyed by app id, created on first use. */
class PerApp<T> {
  private readonly maps = new Map<string, Map<string, T>>();

  of(appId: string): Map<string, T> {
    let map = this.maps.get(appId);
    if (!map) {
      map = new Map();
      this.maps.set(appId, map);
    }
    return map;
  }

  all(): IterableIterator<Map<string, T>> {
    return this.maps.values();
  }
}

/**
 * In-memory adapter for one node; `send` has nobody to reach, and with no other node to die or
 * backend to lose, it never reports a `ClusterChange` nor reads the snapshot.
 */
export class LocalAdapter implements ClusterAdapter {
  private readonly subscriptions = new PerApp<number>();
  private readonly presence = new PerApp<Map<string, PresenceEntry>>();
  private readonly signedIn = new PerApp<Set<string>>();
  private readonly cache = new PerApp<{ event: CachedEvent; expiresAt: number }>();
  private cacheWrites = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async start(_hooks: ClusterHooks): Promise<void> {}

  async close(): Promise<void> {}

  isReady(): boolean {
    return true;
  }

  readonly traffic: ClusterTraffic = { published: 0, received: 0, echoes: 0, topics: 0 };

  send(_message: ClusterMessage): void {}

  async listenChannel(_appId: string, _channel: string): Promise<void> {}

  unlistenChannel(_appId: string, _channel: string): void {}

  async listenUser(_appId: string, _userId: string): Promise<void> {}

  unlistenUser(_appId: string, _userId: string): void {}

  async subscriptionAdded(appId: string, channel: string): Promise<number> {
    const counts = this.subscriptions.of(appId);
    const count = (counts.get(channel) ?? 0) + 1;
    counts.set(channel, count);
    return count;
  }

  async subscriptionRemoved(appId: string, channel: string): Promise<number> {
    const counts = this.subscriptions.of(appId);
    const count = Math.max(0, (counts.get(channel) ?? 0) - 1);
    if (count === 0) counts.delete(channel);
    else counts.set(channel, count);
    return count;
  }

  async channels(appId: string): Promise<Map<string, ChannelStats>> {
    const result = new Map<string, ChannelStats>();
    const members = this.presence.of(appId);
    for (const [channel, subscriptionCount] of this.subscriptions.of(appId)) {
      result.set(channel, { subscriptionCount, userCount: members.get(channel)?.size ?? 0 });
    }
    return result;
  }

  async channelStats(appId: string, channel: string): Promise<ChannelStats> {
    return {
      subscriptionCount: this.subscriptions.of(appId).get(channel) ?? 0,
      userCount: this.presence.of(appId).get(channel)?.size ?? 0,
    };
  }

  async presenceJoin(appId: string, channel: string, socketId: string, member: PresenceMember): Promise<boolean> {
    const channels = this.presence.of(appId);
    let members = channels.get(channel);
    if (!members) {
      members = new Map();
      channels.set(channel, members);
    }
    const entry = members.get(member.userId);
    if (entry) {
      entry.sockets.add(socketId);
      return false;
    }
    members.set(member.userId, { userInfo: member.userInfo, sockets: new Set([socketId]) });
    return true;
  }

  async presenceLeave(appId: string, channel: string, socketId: string, userId: string): Promise<boolean> {
    const channels = this.presence.of(appId);
    const members = channels.get(channel);
    const entry = members?.get(userId);
    if (!members || !entry || !entry.sockets.delete(socketId)) return false;
    if (entry.sockets.size > 0) return false;
    members.delete(userId);
    if (members.size === 0) channels.delete(channel);
    return true;
  }

  async presenceMembers(appId: string, channel: string): Promise<PresenceMember[]> {
    const members = this.presence.of(appId).get(channel);
    if (!members) return [];
    return [...members].map(([userId, entry]) => ({ userId, userInfo: entry.userInfo }));
  }

  async userSignedIn(appId: string, userId: string, socketId: string): Promise<boolean> {
    const users = this.signedIn.of(appId);
    const sockets = users.get(userId);
    if (sockets) {
      sockets.add(socketId);
      return false;
    }
    users.set(userId, new Set([socketId]));
    return true;
  }

  async userSignedOut(appId: string, userId: string, socketId: string): Promise<boolean> {
    const users = this.signedIn.of(appId);
    const sockets = users.get(userId);
    if (!sockets || !sockets.delete(socketId) || sockets.size > 0) return false;
    users.delete(userId);
    return true;
  }

  async onlineUsers(appId: string, userIds: readonly string[]): Promise<string[]> {
    const users = this.signedIn.of(appId);
    return userIds.filter((id) => users.has(id));
  }

  async cacheSet(appId: string, channel: string, event: CachedEvent, ttlMs: number): Promise<void> {
    const entries = this.cache.of(appId);
    entries.set(channel, { event, expiresAt: this.now() + ttlMs });
    // Expired entries of channels nobody reads again would otherwise stay forever.
    if (++this.cacheWrites % 1024 === 0) this.sweepCache();
  }

  private sweepCache(): void {
    const now = this.now();
    for (const entries of this.cache.all()) {
      for (const [channel, entry] of entries) if (entry.expiresAt <= now) entries.delete(channel);
    }
  }

  async cacheGet(appId: string, channel: string): Promise<FreshCachedEvent | null> {
    const entries = this.cache.of(appId);
    const entry = entries.get(channel);
    if (!entry) return null;
    const ttlMs = entry.expiresAt - this.now();
    if (ttlMs <= 0) {
      entries.delete(channel);
      return null;
    }
    return { ...entry.event, ttlMs };
  }
}
