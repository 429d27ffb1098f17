/**
 * The Redis cluster adapter: fan-out over Redis pub/sub, shared state in Redis hashes kept by
 * atomic Lua scripts (see redis-scripts.ts), node liveness by heartbeats. The only module that
 * imports ioredis.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
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
  type FreshCachedEvent,
  type NodeSnapshot,
  type PresenceMember,
} from './adapter.js';
import { redactUrl, resolveSettings, type RedisAdapterOptions, type RedisSettings } from './redis-options.js';
import { defineScripts, RedisKeys, runScript, shareField, type ScriptName } from './redis-scripts.js';
import { decodeScriptResult, encodeShare, parseJson, toClusterChange, type RawChange } from './redis-share.js';

export type { RedisAdapterOptions } from './redis-options.js';

/** A cluster message on the bus, with the node that sent it. */
interface Envelope {
  readonly node: string;
  readonly message: ClusterMessage;
}

/**
 * Shares a node's live state through Redis.
 *
 * Fan-out is at-most-once: messages go out on one pub/sub channel with no acknowledgement, so a
 * node that is disconnected, or that misses its resubscription window, never sees them.
 * Shared state is crash-safe: each node's share is recorded apart from the cluster-wide totals,
 * so a survivor removes exactly what a dead node added, and a node re-registers its share from
 * the realtime core's snapshot whenever Redis comes back (or was found to have lost it).
 */
export class RedisAdapter implements ClusterAdapter {
  readonly nodeId: string;
  private readonly keys: RedisKeys;
  private readonly settings: RedisSettings;
  private readonly logger: Logger;
  private readonly url: string;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private hooks: ClusterHooks | null = null;
  /** The epoch of Redis's state seen at the last registration. */
  private epoch: string | null = null;
  private registered = false;
  /** The registration in flight, if any; another one asked meanwhile runs after it. */
  private registration: Promise<void> | null = null;
  private registerAgain = false;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private reaping = false;
  private down = false;
  private closing = false;
  private closed = false;

  constructor(options: RedisAdapterOptions) {
    this.settings = resolveSettings(options);
    this.nodeId = options.nodeId ?? uniqueProcessName();
    this.keys = new RedisKeys(this.settings.prefix);
    this.url = options.url;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'redis-adapter', node: this.nodeId });
    const connection: RedisOptions = {
      lazyConnect: true,
      // Fail fast while disconnected, and never replay a write after a reconnect: the node
      // re-registers its whole share instead (see register()).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.settings.commandTimeoutMs,
      connectTimeout: Math.max(this.settings.commandTimeoutMs, 1_000),
      // How long a closing socket may linger before it is destroyed (ioredis: 2 s).
      disconnectTimeout: 500,
      retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), this.settings.reconnectMaxDelayMs),
    };
    this.pub = new Redis(this.url, { ...connection, connectionName: `herald-pub-${this.nodeId}` });
    this.sub = new Redis(this.url, { ...connection, connectionName: `herald-sub-${this.nodeId}` });
    defineScripts(this.pub);
    for (const [role, redis] of [['publisher', this.pub], ['subscriber', this.sub]] as const) {
      redis.on('error', (error: Error) => this.logger.debug({ err: error, role }, 'redis connection error'));
      redis.on('close', () => this.onDisconnected(role));
      redis.on('ready', () => this.onReady(role));
    }
    this.sub.on('message', (_channel: string, text: string) => this.onBusMessage(text));
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
      await this.sub.subscribe(this.keys.bus);
      // The first registration starts on 'ready'; wait for it (or retry it) before serving.
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
    this.logger.info({ url: redactUrl(this.url), prefix: this.settings.prefix }, 'joined the cluster through redis');
  }

  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
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

  isReady(): boolean {
    return !this.closed && this.registered && this.pub.status === 'ready' && this.sub.status === 'ready';
  }

  send(message: ClusterMessage): void {
    if (this.closed) return;
    const envelope: Envelope = { node: this.nodeId, message };
    // At-most-once: while Redis is unreachable the message is dropped, not queued.
    this.pub.publish(this.keys.bus, JSON.stringify(envelope)).catch((error: unknown) => {
      this.logger.debug({ err: error, type: message.type }, 'cluster message dropped: redis unavailable');
    });
  }

  async subscriptionAdded(appId: string, channel: string): Promise<number> {
    return this.subscriptions(appId, channel, 1);
  }

  async subscriptionRemoved(appId: string, channel: string): Promise<number> {
    return this.subscriptions(appId, channel, -1);
  }

  private async subscriptions(appId: string, channel: string, delta: number): Promise<number> {
    const tag = RedisKeys.tag(appId);
    return Number(await this.run('heraldSubscriptions', this.nodeId, tag, channel, shareField.subs(tag, channel), delta));
  }

  async channels(appId: string): Promise<Map<string, ChannelStats>> {
    const flat = (await this.run('heraldChannels', RedisKeys.tag(appId))) as (string | number)[];
    const result = new Map<string, ChannelStats>();
    for (let i = 0; i + 2 < flat.length; i += 3) {
      result.set(String(flat[i]), { subscriptionCount: Number(flat[i + 1]), userCount: Number(flat[i + 2]) });
    }
    return result;
  }

  async channelStats(appId: string, channel: string): Promise<ChannelStats> {
    const [subscriptionCount, userCount] = (await this.run('heraldChannelStats', RedisKeys.tag(appId), channel)) as [number, number];
    return { subscriptionCount: Number(subscriptionCount), userCount: Number(userCount) };
  }

  async presenceJoin(appId: string, channel: string, socketId: string, member: PresenceMember): Promise<boolean> {
    const tag = RedisKeys.tag(appId);
    const info = JSON.stringify(member.userInfo ?? null);
    return (await this.run('heraldPresenceJoin', this.nodeId, tag, channel, shareField.presence(tag, channel, socketId), member.userId, info)) === 1;
  }

  async presenceLeave(appId: string, channel: string, socketId: string, userId: string): Promise<boolean> {
    const tag = RedisKeys.tag(appId);
    return (await this.run('heraldPresenceLeave', this.nodeId, tag, channel, shareField.presence(tag, channel, socketId), userId)) === 1;
  }

  async presenceMembers(appId: string, channel: string): Promise<PresenceMember[]> {
    const hash = await this.call(() => this.pub.hgetall(this.keys.info(RedisKeys.tag(appId), channel)));
    return Object.entries(hash).map(([userId, info]) => ({ userId, userInfo: parseJson(info) }));
  }

  async userSignedIn(appId: string, userId: string, socketId: string): Promise<boolean> {
    const tag = RedisKeys.tag(appId);
    return (await this.run('heraldSignIn', this.nodeId, tag, shareField.signin(tag, userId, socketId), userId)) === 1;
  }

  async userSignedOut(appId: string, userId: string, socketId: string): Promise<boolean> {
    const tag = RedisKeys.tag(appId);
    return (await this.run('heraldSignOut', this.nodeId, tag, shareField.signin(tag, userId, socketId), userId)) === 1;
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
    const result = (await this.run('heraldCacheGet', this.keys.cache(RedisKeys.tag(appId), channel))) as [string, number] | null;
    if (!result) return null;
    const ttlMs = Number(result[1]);
    if (ttlMs <= 0) return null;
    const event = JSON.parse(result[0]) as CachedEvent;
    return { event: event.event, data: event.data, ttlMs };
  }

  /** Runs a script on the publisher connection, failing with ClusterUnavailableError. */
  private run(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    return this.call(() => runScript(this.pub, this.settings.prefix, name, ...args));
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
   */
  private recycle(redis: Redis, error: Error): void {
    if (redis.status !== 'ready' || this.closed) return;
    this.logger.warn({ err: error }, 'redis command timed out; reconnecting');
    redis.disconnect(true);
  }

  private untilReady(redis: Redis): Promise<void> {
    if (redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => redis.once('ready', () => resolve()));
  }

  private onReady(role: 'publisher' | 'subscriber'): void {
    if (this.closed || this.closing) return;
    if (role === 'publisher') {
      // In this very step, before any other command can use the new connection.
      void this.register(this.epoch === null ? 'start' : 'reconnect');
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
    if (this.epoch === null) this.logger.warn({ url: redactUrl(this.url) }, 'cannot reach redis yet; retrying');
    else this.logger.warn({ role }, 'redis connection lost: cross-node fan-out and shared state unavailable until it returns; local sockets stay open');
  }

  /**
   * Makes Redis hold exactly this node's share, as the core's snapshot says now. The snapshot is
   * read and the script issued in one synchronous step, so every write the core issued before is
   * ahead of it on the connection and every later write comes after: the result is exact.
   * Changes it causes (members who left during an outage, or who come back after this node was
   * taken for dead) are announced, unless Redis lost its whole state, when there is nothing to
   * correct: the clients' views are older than Redis's.
   */
  private register(reason: 'start' | 'reconnect' | 'heartbeat'): Promise<void> {
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
    const share = encodeShare(snapshot);
    const candidate = randomBytes(8).toString('hex');
    const run = runScript(this.pub, this.settings.prefix, 'heraldRegister', this.nodeId, candidate, share.json)
      .then((raw) => {
        const { state: epoch, changes } = decodeScriptResult(raw);
        const lost = this.epoch !== null && epoch !== this.epoch;
        this.epoch = epoch;
        this.registered = true;
        const sizes = share.sizes;
        if (lost) this.logger.warn(sizes, "redis lost the cluster state (restarted?): re-registered this node's share");
        else if (reason !== 'start') this.logger.info({ ...sizes, reason, changes: changes.length }, "re-registered this node's share in redis");
        if (!lost) this.report(changes);
      })
      .catch((error: unknown) => {
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
      if (this.sub.status === 'ready') {
        // A subscriber connection carries no commands of its own: ping it so a dead one is noticed.
        this.sub.ping().catch((error: Error) => {
          if (error.message === 'Command timed out') this.recycle(this.sub, error);
        });
      }
      if (this.pub.status !== 'ready') return;
      if (!this.registered) {
        await this.register('heartbeat');
        return;
      }
      const stale = await this.run('heraldHeartbeat', this.nodeId, this.settings.nodeExpiryMs);
      if (Number(stale) === 1) {
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
      const dead = ((await this.run('heraldDeadNodes', this.settings.nodeExpiryMs)) as string[]).filter((id) => id !== this.nodeId);
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
      await this.run('heraldUnlock', lock, this.nodeId).catch(() => undefined);
    }
  }

  /** Removes a node's share batch by batch, announcing what it changes; `force` for this node's own. */
  private async removeShare(node: string, force: boolean): Promise<{ members: number; users: number }> {
    const totals = { members: 0, users: 0 };
    for (;;) {
      const raw = await this.run('heraldReap', node, this.settings.nodeExpiryMs, this.settings.reapBatch, force ? '1' : '0');
      const { state, changes } = decodeScriptResult(raw);
      for (const change of changes) {
        if (change[0] === 'member') totals.members++;
        else if (change[0] === 'user') totals.users++;
      }
      this.report(changes);
      if (state !== 'more') return totals;
    }
  }

  /** Hands the changes a script made on its own to the realtime core. */
  private report(changes: readonly RawChange[]): void {
    for (const change of changes) {
      try {
        this.hooks?.onChange(toClusterChange(change));
      } catch (error) {
        this.logger.error({ err: error }, 'could not apply a cluster state change');
      }
    }
  }

  private onBusMessage(text: string): void {
    let envelope: Envelope | null;
    try {
      envelope = JSON.parse(text) as Envelope | null;
    } catch {
      envelope = null;
    }
    if (typeof envelope !== 'object' || envelope === null) {
      this.logger.debug('ignored a malformed cluster message');
      return;
    }
    if (envelope.node === this.nodeId || !this.hooks) return;
    const message = envelope.message;
    if (typeof message !== 'object' || message === null || message.v !== 1) {
      this.logger.debug({ from: envelope.node }, 'ignored a cluster message of an unknown version');
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
async function quit(redis: Redis): Promise<void> {
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
