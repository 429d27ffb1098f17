/**
 * The Redis cluster adapter: fan-out over sharded pub/sub, one topic per channel and per user,
 * subscribed only while a local socket needs it; shared state in Redis hashes kept by atomic Lua
 * scripts, one hash slot per app (see redis-scripts.ts); node liveness by heartbeats. Runs on one
 * Redis or on a Redis Cluster. The only module that imports ioredis.
 */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { silentLogger } from '../logger.js';
import { uniqueProcessName } from '../ops/process-name.js';
import {
  ClusterUnavailableError,
  type CachedEvent,
  type ChannelStats,
  type ClusterAdapter,
  type ClusterHooks,
  type ClusterMessage,
  type ClusterTraffic,
  type FreshCachedEvent,
  type NodeSnapshot,
  type PresenceMember,
} from './adapter.js';
import { clusterSeeds, lateHeartbeatMs, redactUrl, resolveSettings, type RedisAdapterOptions, type RedisSettings } from './redis-options.js';
import { defineScripts, RedisKeys, runScript, shareField, type AppScript, type ClusterScript, type RedisClient } from './redis-scripts.js';
import { decodeScriptResult, encodeShares, parseJson, shareJson, toClusterChange, type RawChange } from './redis-share.js';
import { TopicSubscriptions } from './redis-topics.js';

export type { RedisAdapterOptions } from './redis-options.js';

/** Waits this long after a Redis Cluster topology change before re-registering (failovers come in bursts). */
const TOPOLOGY_SETTLE_MS = 500;

/**
 * Shares a node's live state through Redis.
 *
 * Fan-out is at-most-once: messages go out on pub/sub with no acknowledgement, so a node that is
 * disconnected, or that misses its resubscription window, never sees them. A message travels as
 * `<node id>\n<JSON>`, so a node drops its own echo without parsing it.
 * Shared state is crash-safe: each node's share is recorded apart from the cluster-wide totals,
 * so a survivor removes exactly what a dead node added, and a node re-registers its share from
 * the realtime core's snapshot whenever Redis comes back (or was found to have lost it).
 */
/**
 * How often a Redis Cluster's slots are read again. ioredis's own `slotsRefreshInterval` can
 * outlive `quit()` (a refresh under way when it is called schedules the next one), which keeps a
 * closed node's process alive; this timer is unref'd and stopped on close.
 */
const SLOTS_REFRESH_MS = 2_000;

export class RedisAdapter implements ClusterAdapter {
  readonly nodeId: string;
  private readonly keys: RedisKeys;
  private readonly settings: RedisSettings;
  private readonly logger: Logger;
  private readonly url: string;
  private readonly isCluster: boolean;
  private readonly pub: RedisClient;
  private readonly sub: RedisClient;
  private readonly topics: TopicSubscriptions;
  /** `<node id>\n`: the head of this node's messages. */
  private readonly ownHead: string;
  /** Redis 7 or later: sharded pub/sub. A Redis Cluster needs it; one older Redis gets classic pub/sub. */
  private sharded = true;
  private hooks: ClusterHooks | null = null;
  /** App id by tag, for every app this node has written a share to. */
  private readonly apps = new Map<string, string>();
  /** Each app's epoch seen at the last registration. */
  private readonly epochs = new Map<string, string>();
  private started = false;
  private registered = false;
  /** The registration in flight, if any; another one asked meanwhile runs after it. */
  private registration: Promise<void> | null = null;
  private registerAgain = false;
  private timer: NodeJS.Timeout | null = null;
  private slotsTimer: NodeJS.Timeout | null = null;
  private topologyTimer: NodeJS.Timeout | null = null;
  private ticking = false;
  private reaping = false;
  private down = false;
  private closing = false;
  private closed = false;

  constructor(options: RedisAdapterOptions) {
    this.settings = resolveSettings(options);
    this.nodeId = options.nodeId ?? uniqueProcessName();
    this.ownHead = `${this.nodeId}\n`;
    this.keys = new RedisKeys(this.settings.prefix);
    this.url = options.url;
    this.isCluster = options.cluster ?? false;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'redis-adapter', node: this.nodeId });
    const connection: RedisOptions = {
      // Fail fast while disconnected, and never replay a write after a reconnect: the node
      // re-registers its whole share instead (see register()).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.settings.commandTimeoutMs,
      connectTimeout: Math.max(this.settings.commandTimeoutMs, 1_000),
      // How long a closing socket may linger before it is destroyed (ioredis: 2 s).
      disconnectTimeout: 500,
    };
    const retry = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 10), this.settings.reconnectMaxDelayMs);
    if (this.isCluster) {
      const { seeds, username, password, tls } = clusterSeeds(this.url);
      const redisOptions: RedisOptions = { ...connection, ...(username ? { username } : {}), ...(password ? { password } : {}), ...(tls ? { tls: {} } : {}) };
      const cluster = (role: 'pub' | 'sub'): Cluster => {
        const clusterOptions: ClusterOptions = {
          lazyConnect: true,
          enableOfflineQueue: false,
          clusterRetryStrategy: retry,
          // A primary that fails over answers nothing for a moment: retry its slots' commands briefly.
          retryDelayOnFailover: 100,
          retryDelayOnClusterDown: 100,
          // Slots are refreshed by this adapter's own timer (see SLOTS_REFRESH_MS), not ioredis's.
          slotsRefreshInterval: 0,
          redisOptions: { ...redisOptions, connectionName: `herald-${role}-${this.nodeId}` },
          ...(role === 'sub' ? { shardedSubscribers: true } : { enableAutoPipelining: true }),
        };
        return new Cluster(seeds, clusterOptions);
      };
      this.pub = cluster('pub');
      this.sub = cluster('sub');
      for (const client of [this.pub, this.sub]) {
        client.on('-node', () => this.onTopologyChange());
        client.on('+node', () => this.onTopologyChange());
      }
    } else {
      const single = (role: 'pub' | 'sub'): Redis =>
        new Redis(this.url, {
          ...connection,
          lazyConnect: true,
          retryStrategy: retry,
          connectionName: `herald-${role}-${this.nodeId}`,
          // Every command issued in one tick (a push to thousands of users) goes out in one write.
          ...(role === 'pub' ? { enableAutoPipelining: true } : { autoResubscribe: false }),
        });
      this.pub = single('pub');
      this.sub = single('sub');
    }
    defineScripts(this.pub);
    this.topics = new TopicSubscriptions(this.sub, () => this.sharded);
    for (const [role, redis] of [['publisher', this.pub], ['subscriber', this.sub]] as const) {
      redis.on('error', (error: Error) => this.logger.debug({ err: error, role }, 'redis connection error'));
      redis.on('close', () => this.onDisconnected(role));
      redis.on('ready', () => this.onReady(role));
    }
    this.sub.on('smessage', (_topic: string, text: string) => this.onBusMessage(text));
    this.sub.on('message', (_topic: string, text: string) => this.onBusMessage(text));
  }

  get traffic(): ClusterTraffic {
    return this.topics.traffic;
  }

  async start(hooks: ClusterHooks): Promise<void> {
    this.hooks = hooks;
    const ready = Promise.all([this.untilReady(this.pub), this.untilReady(this.sub)]);
    this.pub.connect().catch(() => undefined);
    this.sub.connect().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`could not reach Redis at ${redactUrl(this.url)} within ${this.settings.startTimeoutMs} ms`)),
        this.settings.startTimeoutMs,
      );
    });
    try {
      await Promise.race([ready, timeout]);
      if (!this.isCluster) this.sharded = await this.supportsShardedPubSub(this.pub as Redis);
      this.started = true;
      await this.register('start');
      if (!this.registered) throw new Error(`could not register node ${this.nodeId} in Redis`);
    } catch (error) {
      this.closed = true;
      this.pub.disconnect();
      this.sub.disconnect();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    this.timer = setInterval(() => void this.tick(), this.settings.heartbeatMs);
    this.timer.unref();
    if (this.isCluster) {
      this.slotsTimer = setInterval(() => this.refreshSlots(), SLOTS_REFRESH_MS);
      this.slotsTimer.unref();
    }
    this.logger.info(
      { url: redactUrl(this.url), prefix: this.settings.prefix, redisCluster: this.isCluster, pubsub: this.sharded ? 'sharded' : 'classic' },
      'joined the cluster through redis',
    );
  }

  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    if (this.slotsTimer) clearInterval(this.slotsTimer);
    if (this.topologyTimer) clearTimeout(this.topologyTimer);
    this.timer = null;
    this.slotsTimer = null;
    if (this.pub.status === 'ready' && this.hooks) {
      // Whatever the core did not remove itself (writes that failed) goes now, not at expiry.
      try {
        await this.removeShare(this.nodeId, true);
      } catch (error) {
        this.logger.warn({ err: error }, "could not remove this node's share from redis; the other nodes will after expiry");
      }
    }
    this.closed = true;
    await Promise.all([quit(this.sub), quit(this.pub)]);
  }

  /** Learns the cluster's slots again, so a failover is noticed before a command meets it. */
  private refreshSlots(): void {
    for (const client of [this.pub, this.sub]) {
      if (client.status === 'ready') (client as Cluster).refreshSlotsCache();
    }
  }

  isReady(): boolean {
    return !this.closed && this.registered && this.pub.status === 'ready' && this.sub.status === 'ready';
  }

  send(message: ClusterMessage): void {
    if (this.closed) return;
    const tag = RedisKeys.tag(message.appId);
    const topic = message.type === 'publish' ? this.keys.channelTopic(tag, message.channel) : this.keys.userTopic(tag, message.userId);
    const text = this.ownHead + JSON.stringify(message);
    this.topics.traffic.published++;
    // At-most-once: while Redis is unreachable the message is dropped, not queued.
    (this.sharded ? this.pub.spublish(topic, text) : this.pub.publish(topic, text)).catch((error: unknown) => {
      this.logger.debug({ err: error, type: message.type }, 'cluster message dropped: redis unavailable');
    });
  }

  listenChannel(appId: string, channel: string): Promise<void> {
    return this.listen(this.keys.channelTopic(RedisKeys.tag(appId), channel));
  }

  unlistenChannel(appId: string, channel: string): void {
    this.topics.unlisten(this.keys.channelTopic(RedisKeys.tag(appId), channel));
  }

  listenUser(appId: string, userId: string): Promise<void> {
    return this.listen(this.keys.userTopic(RedisKeys.tag(appId), userId));
  }

  unlistenUser(appId: string, userId: string): void {
    this.topics.unlisten(this.keys.userTopic(RedisKeys.tag(appId), userId));
  }

  private listen(topic: string): Promise<void> {
    if (this.closed) return Promise.reject(new ClusterUnavailableError('the cluster adapter is closed'));
    return this.topics.listen(topic).catch((error: unknown) => {
      throw new ClusterUnavailableError('Redis is unavailable', { cause: error });
    });
  }

  async subscriptionAdded(appId: string, channel: string): Promise<number> {
    return this.subscriptions(appId, channel, 1);
  }

  async subscriptionRemoved(appId: string, channel: string): Promise<number> {
    return this.subscriptions(appId, channel, -1);
  }

  private async subscriptions(appId: string, channel: string, delta: number): Promise<number> {
    return Number(await this.write(appId, 'heraldSubscriptions', this.nodeId, channel, delta));
  }

  async channels(appId: string): Promise<Map<string, ChannelStats>> {
    const flat = (await this.runApp(RedisKeys.tag(appId), 'heraldChannels')) as (string | number)[];
    const result = new Map<string, ChannelStats>();
    for (let i = 0; i + 2 < flat.length; i += 3) {
      result.set(String(flat[i]), { subscriptionCount: Number(flat[i + 1]), userCount: Number(flat[i + 2]) });
    }
    return result;
  }

  async channelStats(appId: string, channel: string): Promise<ChannelStats> {
    const [subscriptionCount, userCount] = (await this.runApp(RedisKeys.tag(appId), 'heraldChannelStats', channel)) as [number, number];
    return { subscriptionCount: Number(subscriptionCount), userCount: Number(userCount) };
  }

  async presenceJoin(appId: string, channel: string, socketId: string, member: PresenceMember): Promise<boolean> {
    const info = JSON.stringify(member.userInfo ?? null);
    return (await this.write(appId, 'heraldPresenceJoin', this.nodeId, channel, shareField.presence(channel, socketId), member.userId, info)) === 1;
  }

  async presenceLeave(appId: string, channel: string, socketId: string, userId: string): Promise<boolean> {
    return (await this.write(appId, 'heraldPresenceLeave', this.nodeId, channel, shareField.presence(channel, socketId), userId)) === 1;
  }

  async presenceMembers(appId: string, channel: string): Promise<PresenceMember[]> {
    const hash = await this.call(() => this.pub.hgetall(this.keys.info(RedisKeys.tag(appId), channel)));
    return Object.entries(hash).map(([userId, info]) => ({ userId, userInfo: parseJson(info) }));
  }

  async userSignedIn(appId: string, userId: string, socketId: string): Promise<boolean> {
    return (await this.write(appId, 'heraldSignIn', this.nodeId, shareField.signin(userId, socketId), userId)) === 1;
  }

  async userSignedOut(appId: string, userId: string, socketId: string): Promise<boolean> {
    return (await this.write(appId, 'heraldSignOut', this.nodeId, shareField.signin(userId, socketId), userId)) === 1;
  }

  async onlineUsers(appId: string, userIds: readonly string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    const counts = await this.call(() => this.pub.hmget(this.keys.online(RedisKeys.tag(appId)), ...userIds));
    return userIds.filter((_id, index) => Number(counts[index] ?? 0) > 0);
  }

  async cacheSet(appId: string, channel: string, event: CachedEvent, ttlMs: number): Promise<void> {
    const key = this.keys.cache(RedisKeys.tag(appId), channel);
    await this.call(() => this.pub.set(key, JSON.stringify(event), 'PX', Math.max(1, Math.round(ttlMs))));
  }

  async cacheGet(appId: string, channel: string): Promise<FreshCachedEvent | null> {
    const result = (await this.runApp(RedisKeys.tag(appId), 'heraldCacheGet', channel)) as [string, number] | null;
    if (!result) return null;
    const ttlMs = Number(result[1]);
    if (ttlMs <= 0) return null;
    const event = JSON.parse(result[0]) as CachedEvent;
    return { event: event.event, data: event.data, ttlMs };
  }

  /**
   * A write to this node's share of an app. The first one records the app in the node registry,
   * where a reaper looks for the shares of a dead node.
   */
  private write(appId: string, name: AppScript, ...args: (string | number)[]): Promise<unknown> {
    const tag = RedisKeys.tag(appId);
    if (!this.apps.has(tag) && !this.closed) {
      this.apps.set(tag, appId);
      const failed = () => {
        // Recorded with the node's share at the next registration.
        this.registered = false;
      };
      this.runCluster('heraldApp', tag).catch(failed);
      this.runApp(tag, 'heraldEpoch', randomBytes(8).toString('hex')).then((epoch) => {
        if (!this.epochs.has(tag)) this.epochs.set(tag, String(epoch));
      }, failed);
    }
    return this.runApp(tag, name, ...args);
  }

  /** Runs a script on an app's slot, failing with ClusterUnavailableError. */
  private runApp(tag: string, name: AppScript, ...args: (string | number)[]): Promise<unknown> {
    return this.call(() => runScript(this.pub, name, this.keys.app(tag), ...args));
  }

  /** Runs a script on the node registry's slot, failing with ClusterUnavailableError. */
  private runCluster(name: ClusterScript, ...args: (string | number)[]): Promise<unknown> {
    return this.call(() => runScript(this.pub, name, this.keys.cluster, ...args));
  }

  /** Issues a command now (synchronously, as the adapter contract needs) and maps its failure. */
  private call<T>(command: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ClusterUnavailableError('the cluster adapter is closed'));
    return command().catch((error: unknown) => {
      if (error instanceof Error && error.message === 'Command timed out') this.recycle(this.pub, error);
      throw new ClusterUnavailableError('Redis is unavailable', { cause: error });
    });
  }

  /**
   * A command timed out: the connection or Redis is stuck. Reconnecting fails every command in
   * flight at once (so callers settle and undo), and the reconnect re-registers this node's share.
   * A Redis Cluster client finds a stuck node itself (slot refreshes, failover).
   */
  private recycle(redis: RedisClient, error: Error): void {
    if (this.isCluster || redis.status !== 'ready' || this.closed) return;
    this.logger.warn({ err: error }, 'redis command timed out; reconnecting');
    (redis as Redis).disconnect(true);
  }

  private untilReady(redis: RedisClient): Promise<void> {
    if (redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => redis.once('ready', () => resolve()));
  }

  /** `SSUBSCRIBE` needs Redis 7; an older single Redis gets classic pub/sub, said in the log. */
  private async supportsShardedPubSub(redis: Redis): Promise<boolean> {
    const info = await redis.info('server');
    const major = Number(/redis_version:(\d+)/.exec(info)?.[1] ?? '0');
    return major >= 7;
  }

  private onReady(role: 'publisher' | 'subscriber'): void {
    if (this.closed || this.closing) return;
    if (role === 'publisher') {
      // In this very step, before any other command can use the new connection.
      void this.register(this.started ? 'reconnect' : 'start');
    } else if (!this.isCluster) {
      this.topics.resubscribeAll((error) => this.logger.debug({ err: error }, 'resubscribing after a reconnect failed'));
    }
    if (this.down && this.pub.status === 'ready' && this.sub.status === 'ready') {
      this.down = false;
      this.logger.info('redis connection restored');
    }
  }

  private onDisconnected(role: 'publisher' | 'subscriber'): void {
    if (role === 'publisher') this.registered = false;
    if (this.closed || this.closing || this.down || this.hooks === null) return;
    this.down = true;
    if (!this.started) this.logger.warn({ url: redactUrl(this.url) }, 'cannot reach redis yet; retrying');
    else this.logger.warn({ role }, 'redis connection lost: cross-node fan-out and shared state unavailable until it returns; local sockets stay open');
  }

  /** A Redis Cluster node came or went (a failover): a promoted replica may lack the last writes, so register again. */
  private onTopologyChange(): void {
    if (!this.started || this.closed || this.closing || this.topologyTimer) return;
    this.topologyTimer = setTimeout(() => {
      this.topologyTimer = null;
      if (this.pub.status === 'ready') void this.register('topology');
    }, TOPOLOGY_SETTLE_MS);
    this.topologyTimer.unref();
  }

  /**
   * Makes Redis hold exactly this node's share, as the core's snapshot says now. The snapshot is
   * read and the scripts issued in one synchronous step, so every write the core issued before is
   * ahead of them on each app's connection and every later write comes after: the result is exact.
   * Changes it causes (members who left during an outage, or who come back after this node was
   * taken for dead) are announced, unless Redis lost the app's whole state, when there is nothing
   * to correct: the clients' views are older than Redis's.
   */
  private register(reason: 'start' | 'reconnect' | 'heartbeat' | 'topology'): Promise<void> {
    if (this.registration) {
      this.registerAgain = true;
      return this.registration;
    }
    if (!this.hooks || this.closed) return Promise.resolve();
    let snapshot: NodeSnapshot;
    try {
      snapshot = this.hooks.snapshot();
    } catch (error) {
      this.logger.error({ err: error }, "could not read this node's snapshot");
      return Promise.resolve();
    }
    const shares = encodeShares(snapshot);
    for (const [tag, share] of shares) this.apps.set(tag, share.appId);
    const tags = [...this.apps.keys()];
    const candidate = randomBytes(8).toString('hex');
    const joined = runScript(this.pub, 'heraldJoin', this.keys.cluster, this.nodeId, ...tags);
    const perApp = tags.map((tag) =>
      runScript(this.pub, 'heraldRegister', this.keys.app(tag), this.nodeId, candidate, shareJson(shares.get(tag))).then((raw) => ({ tag, ...decodeScriptResult(raw) })),
    );
    const run = Promise.all([joined, Promise.all(perApp)])
      .then(([, results]) => {
        const lost: string[] = [];
        let changes = 0;
        for (const { tag, state: epoch, changes: appChanges } of results) {
          const previous = this.epochs.get(tag);
          this.epochs.set(tag, epoch);
          if (previous !== undefined && previous !== epoch) {
            lost.push(this.apps.get(tag) ?? tag);
            continue;
          }
          changes += appChanges.length;
          this.report(this.apps.get(tag) ?? decodeURIComponent(tag), appChanges);
        }
        this.registered = true;
        const sizes = { subscriptions: snapshot.subscriptions.length, presence: snapshot.presence.length, signIns: snapshot.signIns.length };
        if (lost.length > 0) this.logger.warn({ ...sizes, apps: lost }, "redis lost the cluster state (restarted?): re-registered this node's share");
        else if (reason !== 'start') this.logger.info({ ...sizes, reason, changes }, "re-registered this node's share in redis");
      })
      .catch((error: unknown) => {
        this.registered = false;
        this.logger.debug({ err: error, reason }, "could not register this node's share; retrying at the next heartbeat");
      });
    this.registration = run.then(() => {
      this.registration = null;
      if (!this.registerAgain) return undefined;
      this.registerAgain = false;
      return this.pub.status === 'ready' ? this.register(reason) : undefined;
    });
    return this.registration;
  }

  /** Heartbeat, then removal of dead nodes' shares; runs every `heartbeatMs`. */
  private async tick(): Promise<void> {
    if (this.ticking || this.closed || this.closing) return;
    this.ticking = true;
    try {
      if (!this.isCluster && this.sub.status === 'ready') {
        // A subscriber connection carries no commands of its own: ping it so a dead one is noticed.
        (this.sub as Redis).ping().catch((error: Error) => {
          if (error.message === 'Command timed out') this.recycle(this.sub, error);
        });
      }
      if (this.pub.status !== 'ready') return;
      if (!this.registered) {
        await this.register('heartbeat');
        return;
      }
      const [stale, ...changed] = await Promise.all([
        this.runCluster('heraldHeartbeat', this.nodeId, this.settings.nodeExpiryMs, lateHeartbeatMs(this.settings)),
        ...[...this.epochs].map(([tag, epoch]) => this.runApp(tag, 'heraldEpochChanged', epoch)),
      ]);
      if (Number(stale) === 1 || changed.some((one) => Number(one) === 1)) {
        this.logger.warn('this node was missing from redis (taken for dead, or redis lost its state): re-registering');
        await this.register('heartbeat');
      }
      // Reaping runs beside the heartbeats, so a long one never makes this node look dead.
      if (!this.reaping) {
        this.reaping = true;
        void this.reapDeadNodes().finally(() => (this.reaping = false));
      }
    } catch (error) {
      this.logger.debug({ err: error }, 'heartbeat failed');
    } finally {
      this.ticking = false;
    }
  }

  private async reapDeadNodes(): Promise<void> {
    try {
      // Judged against this node's own heartbeats (see heraldDeadNodes): a stalled node is not a dead one.
      const found = await this.runCluster('heraldDeadNodes', this.nodeId, this.settings.nodeExpiryMs, lateHeartbeatMs(this.settings));
      const dead = (found as string[]).filter((id) => id !== this.nodeId);
      for (const node of dead) await this.reapIfFirst(node);
    } catch (error) {
      this.logger.debug({ err: error }, 'looking for dead nodes failed');
    }
  }

  /** Removes a dead node's share unless another survivor holds the lock for it. */
  private async reapIfFirst(node: string): Promise<void> {
    const lock = this.keys.reaper(node);
    const acquired = await this.call(() => this.pub.set(lock, this.nodeId, 'PX', this.settings.nodeExpiryMs, 'NX'));
    if (acquired !== 'OK') return;
    try {
      const removed = await this.removeShare(node, false);
      this.logger.info({ deadNode: node, ...removed }, "removed a dead node's share of the cluster state");
    } finally {
      await this.call(() => runScript(this.pub, 'heraldUnlock', lock, this.nodeId)).catch(() => undefined);
    }
  }

  /**
   * Removes a node's share app by app, batch by batch, announcing what it changes; `force` for
   * this node's own. A dead node that comes back meanwhile is left alone and told to re-register.
   */
  private async removeShare(node: string, force: boolean): Promise<{ members: number; users: number }> {
    const totals = { members: 0, users: 0 };
    const tags = force ? [...this.apps.keys()] : ((await this.runCluster('heraldApps')) as string[]);
    apps: for (const tag of tags) {
      const appId = this.apps.get(tag) ?? decodeURIComponent(tag);
      for (;;) {
        if (!force && Number(await this.runCluster('heraldAlive', node, this.settings.nodeExpiryMs)) === 1) break apps;
        const { state, changes } = decodeScriptResult(await this.runApp(tag, 'heraldReap', node, this.settings.reapBatch));
        for (const change of changes) {
          if (change[0] === 'member') totals.members++;
          else if (change[0] === 'user') totals.users++;
        }
        this.report(appId, changes);
        if (state !== 'more') break;
      }
    }
    await this.runCluster('heraldForget', node, this.settings.nodeExpiryMs, force ? '1' : '0');
    return totals;
  }

  /** Hands the changes a script made on its own to the realtime core. */
  private report(appId: string, changes: readonly RawChange[]): void {
    for (const change of changes) {
      try {
        this.hooks?.onChange(toClusterChange(appId, change));
      } catch (error) {
        this.logger.error({ err: error }, 'could not apply a cluster state change');
      }
    }
  }

  private onBusMessage(text: string): void {
    const traffic = this.topics.traffic;
    if (text.startsWith(this.ownHead)) {
      traffic.echoes++;
      return;
    }
    traffic.received++;
    if (!this.hooks || this.closed) return;
    let message: ClusterMessage | null;
    try {
      message = JSON.parse(text.slice(text.indexOf('\n') + 1)) as ClusterMessage | null;
    } catch {
      message = null;
    }
    if (typeof message !== 'object' || message === null) {
      this.logger.debug('ignored a malformed cluster message');
      return;
    }
    if (message.v !== 1) {
      this.logger.debug('ignored a cluster message of an unknown version');
      return;
    }
    try {
      this.hooks.onMessage(message);
    } catch (error) {
      this.logger.error({ err: error, type: message.type }, 'handling a cluster message failed');
    }
  }
}

/** QUIT, bounded: a connection that does not answer is dropped. */
async function quit(redis: RedisClient): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1_000)));
  await Promise.race([redis.quit().catch(() => undefined), timeout]);
  clearTimeout(timer);
  redis.disconnect();
}
