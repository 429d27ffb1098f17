/** Settings of the Redis adapter: options and defaults (the `HERALD_REDIS_*` tuning is read in config/server-config.ts). */
import type { Logger } from 'pino';
import { ConfigError } from '../config/apps.js';

/** Settings of the Redis adapter; only `url` is required. */
export interface RedisAdapterOptions {
  /**
   * `redis://[user:password@]host:port[/db]` or `rediss://…`; for a Redis Cluster (`cluster`), one
   * or more of its nodes, comma-separated (the client finds the others).
   */
  readonly url: string;
  /** Connect to a Redis Cluster (ioredis `Cluster`) rather than one Redis. */
  readonly cluster?: boolean;
  readonly logger?: Logger;
  /** Prefix of every key and of the pub/sub channel (default `herald:`); one per cluster. */
  readonly prefix?: string;
  /** This node's id (default: hostname, pid and a random suffix). */
  readonly nodeId?: string;
  /** How often the node heartbeats and looks for dead nodes (default 5 s). */
  readonly heartbeatMs?: number;
  /** Silence after which a node is dead and its share is removed (default 15 s). */
  readonly nodeExpiryMs?: number;
  /** Longest a Redis command may take before it is failed (default 2 s). */
  readonly commandTimeoutMs?: number;
  /** Longest wait between reconnection attempts (default 2 s). */
  readonly reconnectMaxDelayMs?: number;
  /** How long `start()` waits for Redis before failing (default 10 s). */
  readonly startTimeoutMs?: number;
  /** Entries of a dead node's share removed per script call (default 500). */
  readonly reapBatch?: number;
}

/** Defaults of the optional settings. */
export const REDIS_DEFAULTS = {
  prefix: 'herald:',
  heartbeatMs: 5_000,
  nodeExpiryMs: 15_000,
  commandTimeoutMs: 2_000,
  reconnectMaxDelayMs: 2_000,
  startTimeoutMs: 10_000,
  reapBatch: 500,
};

/** Every setting resolved. */
export type RedisSettings = typeof REDIS_DEFAULTS;

/** The options with defaults filled in; refuses a node expiry under two heartbeats. */
export function resolveSettings(options: RedisAdapterOptions): RedisSettings {
  const settings: RedisSettings = {
    prefix: options.prefix ?? REDIS_DEFAULTS.prefix,
    heartbeatMs: options.heartbeatMs ?? REDIS_DEFAULTS.heartbeatMs,
    nodeExpiryMs: options.nodeExpiryMs ?? REDIS_DEFAULTS.nodeExpiryMs,
    commandTimeoutMs: options.commandTimeoutMs ?? REDIS_DEFAULTS.commandTimeoutMs,
    reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? REDIS_DEFAULTS.reconnectMaxDelayMs,
    startTimeoutMs: options.startTimeoutMs ?? REDIS_DEFAULTS.startTimeoutMs,
    reapBatch: options.reapBatch ?? REDIS_DEFAULTS.reapBatch,
  };
  if (/[{}]/.test(settings.prefix)) {
    throw new ConfigError(`Redis key prefix "${settings.prefix}" must not contain { or }: Herald puts Redis Cluster hash tags after it`);
  }
  if (settings.nodeExpiryMs < 2 * settings.heartbeatMs) {
    throw new ConfigError(`Redis node expiry (${settings.nodeExpiryMs} ms) must be at least twice the heartbeat interval (${settings.heartbeatMs} ms)`);
  }
  return settings;
}

/**
 * How long after its previous heartbeat a node's next one is late: its commands were held (a
 * Redis Cluster failover, a paused Redis), so other nodes' heartbeats may have been held as long.
 * A shorter hold cannot make a live node look expired (it was silent for at most the hold plus one
 * heartbeat). Never under one and a half heartbeats: with an expiry of just two, ordinary jitter
 * would count as a hold and keep every node from reaping.
 */
export function lateHeartbeatMs(settings: RedisSettings): number {
  return Math.max(settings.nodeExpiryMs - settings.heartbeatMs, 1.5 * settings.heartbeatMs);
}

/** The URL (or comma-separated URLs) with passwords hidden, for logs. */
export function redactUrl(url: string): string {
  if (url.includes(',')) return url.split(',').map((one) => redactUrl(one.trim())).join(',');
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable url)';
  }
}

/** A Redis Cluster's seed nodes and the connection options they share, from comma-separated URLs. */
export function clusterSeeds(urls: string): { seeds: { host: string; port: number }[]; username?: string; password?: string; tls: boolean } {
  const parsed = urls
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url.length > 0)
    .map((url) => {
      let one: URL;
      try {
        one = new URL(url);
      } catch {
        throw new ConfigError(`Redis Cluster node "${redactUrl(url)}" is not a redis:// URL`);
      }
      if (one.protocol !== 'redis:' && one.protocol !== 'rediss:') throw new ConfigError(`Redis Cluster node "${redactUrl(url)}" is not a redis:// URL`);
      return one;
    });
  if (parsed.length === 0) throw new ConfigError('a Redis Cluster needs the URL of at least one of its nodes');
  const first = parsed[0];
  return {
    seeds: parsed.map((url) => ({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 6379) })),
    ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
    ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
    tls: first.protocol === 'rediss:',
  };
}
