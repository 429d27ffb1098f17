/** Settings of the Redis adapter: options and defaults (the `HERALD_REDIS_*` tuning is read in config/server-config.ts). */
import type { Logger } from 'pino';
import { ConfigError } from '../config/apps.js';

/** Settings of the Redis adapter; only `url` is required. */
export interface RedisAdapterOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`. */
  readonly url: string;
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
  if (settings.nodeExpiryMs < 2 * settings.heartbeatMs) {
    throw new ConfigError(`Redis node expiry (${settings.nodeExpiryMs} ms) must be at least twice the heartbeat interval (${settings.heartbeatMs} ms)`);
  }
  return settings;
}

/** The URL with its password hidden, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable url)';
  }
}
