/** The server's configuration: flags override `HERALD_*` environment variables, validated into one typed object. */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { REDIS_DEFAULTS, type RedisAdapterOptions } from '../cluster/redis-options.js';
import { DEFAULT_ACTIVITY_TIMEOUT_SECONDS, DEFAULT_MAX_BUFFERED_BYTES } from '../protocol/limits.js';
import { defaultDatabaseTimeouts, type DatabaseTimeouts } from '../store/store.js';
import { ConfigError, defineApp, describeIssues, parseAppsFile, type App } from './apps.js';

/** One setting: its flag, environment variable and help text. */
export interface SettingSpec {
  readonly flag: string;
  readonly env: string;
  readonly type: 'string' | 'boolean';
  readonly help: string;
}

/** Every setting, in the order `--help` lists them. */
export const SETTINGS = {
  host: { flag: 'host', env: 'HERALD_HOST', type: 'string', help: 'Listen address (default 0.0.0.0)' },
  port: { flag: 'port', env: 'HERALD_PORT', type: 'string', help: 'Listen port for WebSocket and HTTP (default 6001)' },
  appId: { flag: 'app-id', env: 'HERALD_APP_ID', type: 'string', help: 'Default app id (default app-id)' },
  appKey: { flag: 'app-key', env: 'HERALD_APP_KEY', type: 'string', help: 'Default app key (default app-key)' },
  appSecret: { flag: 'app-secret', env: 'HERALD_APP_SECRET', type: 'string', help: 'Default app secret (default app-secret)' },
  clientEvents: { flag: 'client-events', env: 'HERALD_APP_CLIENT_EVENTS', type: 'boolean', help: "Allow client events on the default app (default off)" },
  appsFile: { flag: 'apps-file', env: 'HERALD_APPS_FILE', type: 'string', help: 'JSON file with several apps and their options (replaces the default app)' },
  databaseUrl: { flag: 'database-url', env: 'HERALD_DATABASE_URL', type: 'string', help: 'Inbox storage, sqlite:PATH or postgres://USER@HOST:PORT/DB (default sqlite:./data/herald.db)' },
  databaseConnectTimeout: { flag: 'database-connect-timeout-ms', env: 'HERALD_DATABASE_CONNECT_TIMEOUT_MS', type: 'string', help: 'PostgreSQL: longest wait for a connection, pooled or new, in ms; then the request fails with 503 (default 5000)' },
  databaseStatementTimeout: { flag: 'database-statement-timeout-ms', env: 'HERALD_DATABASE_STATEMENT_TIMEOUT_MS', type: 'string', help: 'PostgreSQL: longest one statement may run, lock waits included, in ms; then 503 (default 10000)' },
  redisUrl: { flag: 'redis-url', env: 'HERALD_REDIS_URL', type: 'string', help: 'Redis shared by the nodes of a cluster, redis://[:PASSWORD@]HOST:PORT[/DB] (default: none, single node)' },
  redisCluster: { flag: 'redis-cluster', env: 'HERALD_REDIS_CLUSTER', type: 'boolean', help: 'The Redis is a Redis Cluster (7+); --redis-url then lists one or more of its nodes, comma-separated (default off)' },
  redisPrefix: { flag: 'redis-prefix', env: 'HERALD_REDIS_PREFIX', type: 'string', help: `Prefix of every Redis key and of the pub/sub channel, one per cluster (default ${REDIS_DEFAULTS.prefix})` },
  redisHeartbeatMs: { flag: 'redis-heartbeat-ms', env: 'HERALD_REDIS_HEARTBEAT_MS', type: 'string', help: `Milliseconds between a node's heartbeats and its checks for dead nodes (default ${REDIS_DEFAULTS.heartbeatMs})` },
  redisNodeExpiryMs: { flag: 'redis-node-expiry-ms', env: 'HERALD_REDIS_NODE_EXPIRY_MS', type: 'string', help: `Milliseconds of silence after which a node is dead and its share removed, at least two heartbeats (default ${REDIS_DEFAULTS.nodeExpiryMs})` },
  redisCommandTimeoutMs: { flag: 'redis-command-timeout-ms', env: 'HERALD_REDIS_COMMAND_TIMEOUT_MS', type: 'string', help: `Longest a Redis command may take before it fails (default ${REDIS_DEFAULTS.commandTimeoutMs})` },
  redisReconnectMaxMs: { flag: 'redis-reconnect-max-ms', env: 'HERALD_REDIS_RECONNECT_MAX_MS', type: 'string', help: `Longest wait between reconnections to Redis (default ${REDIS_DEFAULTS.reconnectMaxDelayMs})` },
  logLevel: { flag: 'log-level', env: 'HERALD_LOG_LEVEL', type: 'string', help: 'fatal, error, warn, info, debug, trace or silent (default info)' },
  activityTimeout: { flag: 'activity-timeout', env: 'HERALD_ACTIVITY_TIMEOUT', type: 'string', help: `Seconds of client silence before a ping (default ${DEFAULT_ACTIVITY_TIMEOUT_SECONDS})` },
  maxConnections: { flag: 'max-connections', env: 'HERALD_MAX_CONNECTIONS', type: 'string', help: 'Connections this node accepts before refusing with 4100 (default unlimited)' },
  shutdownTimeout: { flag: 'shutdown-timeout', env: 'HERALD_SHUTDOWN_TIMEOUT', type: 'string', help: 'Seconds a graceful shutdown may take (default 10)' },
  adminToken: { flag: 'admin-token', env: 'HERALD_ADMIN_TOKEN', type: 'string', help: 'Token (16+ characters) that signs in to /dashboard and the admin API for every app (default: none; app id + secret still work)' },
  demo: { flag: 'demo', env: 'HERALD_DEMO', type: 'boolean', help: 'Serve the demo inbox at /demo (default: on while the default app credentials are in use)' },
  metricsPort: { flag: 'metrics-port', env: 'HERALD_METRICS_PORT', type: 'string', help: 'Serve GET /metrics on this port only, same host (default: on the main port)' },
  maxBufferedBytes: { flag: 'max-buffered-bytes', env: 'HERALD_MAX_BUFFERED_BYTES', type: 'string', help: `Unsent bytes after which a socket that does not read is closed with 4100 (default ${DEFAULT_MAX_BUFFERED_BYTES}, 4 MB)` },
  workers: { flag: 'workers', env: 'HERALD_WORKERS', type: 'string', help: 'Worker processes sharing the port (Node cluster), at most one per core; more than 1 needs --redis-url (default 1)' },
  workerIndex: { flag: 'worker-index', env: 'HERALD_WORKER_INDEX', type: 'string', help: 'Index of this worker, set by the primary of --workers for each worker it starts; not for manual use (default 0)' },
  trustProxy: { flag: 'trust-proxy', env: 'HERALD_TRUST_PROXY', type: 'boolean', help: 'A reverse proxy in front appends the client address to X-Forwarded-For: use it for max_connections_per_ip (default off)' },
  idleMemoryTrim: { flag: 'idle-memory-trim', env: 'HERALD_IDLE_MEMORY_TRIM', type: 'string', help: 'true or false: once the process is quiet after a burst (of connections, say), give back the young generation V8 grew for it, at the cost of one pause of the event loop (default true)' },
  nodeName: { flag: 'node-name', env: 'HERALD_NODE_NAME', type: 'string', help: 'Name of this node that stays the same across its restarts and no other running node shares; webhook batches it was sending when it died go out at once when it starts again (default HOSTNAME:PORT)' },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;

/** Raw values by setting name, as strings or booleans from flags or the environment. */
export type RawSettings = Partial<Record<SettingName, string | boolean>>;

/** The default app's credentials; a warning is logged while they are in use. */
export const DEFAULT_APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' } as const;

/** The `HERALD_REDIS_*` tuning of the Redis adapter. */
export type RedisTuning = Pick<RedisAdapterOptions, 'prefix' | 'heartbeatMs' | 'nodeExpiryMs' | 'commandTimeoutMs' | 'reconnectMaxDelayMs'>;

/** The validated configuration of a node. */
export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly apps: App[];
  /** True while the published default credentials are in use. */
  readonly usingDefaultCredentials: boolean;
  readonly appsFile: string | null;
  readonly databaseUrl: string;
  /** Bounds on the waits for PostgreSQL. */
  readonly databaseTimeouts: DatabaseTimeouts;
  /** Redis of the cluster; null runs a single node with in-process fan-out. */
  readonly redisUrl: string | null;
  /** `redisUrl` lists nodes of a Redis Cluster. */
  readonly redisCluster: boolean;
  /** Advanced tuning of the Redis adapter (`HERALD_REDIS_*`); unset ones take the adapter's defaults. */
  readonly redis: RedisTuning;
  readonly logLevel: string;
  readonly activityTimeoutSeconds: number;
  readonly maxConnections: number | null;
  readonly shutdownTimeoutMs: number;
  /** Admin token of the dashboard (all apps); null: only app id + secret sign in. */
  readonly adminToken: string | null;
  /** Serve the demo inbox at /demo. */
  readonly demo: boolean;
  /** Port serving `/metrics` alone; null serves it on the main port. */
  readonly metricsPort: number | null;
  /** Unsent bytes per socket after which it is closed with 4100. */
  readonly maxBufferedBytes: number;
  /** Worker processes (Node's cluster module) sharing the port; 1 runs the node in this process. */
  readonly workers: number;
  /** Index of this worker among `workers` (0 outside a worker). */
  readonly workerIndex: number;
  /** Take client addresses from the last `X-Forwarded-For` entry. */
  readonly trustProxy: boolean;
  /** Give back the young generation V8 grew during a burst once the process is quiet (src/ops/idle-memory-trim.ts). */
  readonly idleMemoryTrim: boolean;
  /** This node's name across restarts; a worker of `--workers` appends `#<index>`. */
  readonly nodeName: string;
}

const booleanText = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v))]);
// Only decimal digits: z.coerce.number() would turn "" and " " into 0, a bare boolean flag into 1, and accept "0x10" or "1e3".
const integerText = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const milliseconds = integerText(1, 2 ** 31);

const schema = z.object({
  host: z.string().min(1).default('0.0.0.0'),
  port: integerText(0, 65535).default(6001),
  appId: z.string().min(1).default(DEFAULT_APP.id),
  appKey: z.string().min(1).default(DEFAULT_APP.key),
  appSecret: z.string().min(1).default(DEFAULT_APP.secret),
  clientEvents: booleanText.default(false),
  appsFile: z.string().min(1).optional(),
  databaseUrl: z
    .string()
    .refine((url) => url.startsWith('sqlite:') || /^postgres(ql)?:\/\//i.test(url) || !url.includes('://'), 'must be sqlite:PATH (or a file path) or postgres://USER@HOST:PORT/DB')
    // An empty path would open a temporary SQLite database, silently losing the inbox on exit.
    .refine((url) => url.replace(/^sqlite:/, '').trim().length > 0, 'needs a path: sqlite:PATH (or sqlite::memory:)')
    .default('sqlite:./data/herald.db'),
  databaseConnectTimeout: integerText(100, 600_000).default(defaultDatabaseTimeouts.connectTimeoutMs),
  databaseStatementTimeout: integerText(100, 3_600_000).default(defaultDatabaseTimeouts.statementTimeoutMs),
  redisUrl: z
    .string()
    .trim()
    .refine((url) => url.split(',').every((one) => /^rediss?:\/\/[^/]/.test(one.trim())), 'must be redis://HOST:PORT or rediss://HOST:PORT (with --redis-cluster, several, comma-separated)')
    .optional(),
  redisCluster: booleanText.default(false),
  redisPrefix: z.string().min(1).optional(),
  redisHeartbeatMs: milliseconds.optional(),
  redisNodeExpiryMs: milliseconds.optional(),
  redisCommandTimeoutMs: milliseconds.optional(),
  redisReconnectMaxMs: milliseconds.optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  activityTimeout: integerText(1, 3600).default(DEFAULT_ACTIVITY_TIMEOUT_SECONDS),
  maxConnections: integerText(1, 10_000_000).optional(),
  shutdownTimeout: integerText(1, 3600).default(10),
  adminToken: z.string().trim().min(16, 'must be at least 16 characters').optional(),
  demo: booleanText.optional(),
  metricsPort: integerText(0, 65535).optional(),
  maxBufferedBytes: integerText(65_536, 2 ** 31).default(DEFAULT_MAX_BUFFERED_BYTES),
  workers: integerText(1, 256).default(1),
  workerIndex: integerText(0, 255).default(0),
  trustProxy: booleanText.default(false),
  idleMemoryTrim: booleanText.default(true),
  nodeName: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters').optional(),
}).refine((settings) => settings.metricsPort === undefined || settings.metricsPort === 0 || settings.metricsPort !== settings.port, {
  path: ['metricsPort'],
  message: 'must differ from the main port (HERALD_PORT / --port)',
}).refine((settings) => settings.redisCluster || !settings.redisUrl?.includes(','), {
  path: ['redisUrl'],
  message: 'several URLs are the nodes of a Redis Cluster: add HERALD_REDIS_CLUSTER=true / --redis-cluster',
}).refine((settings) => !settings.redisCluster || settings.redisUrl !== undefined, {
  path: ['redisCluster'],
  message: 'needs HERALD_REDIS_URL / --redis-url: one or more nodes of the Redis Cluster',
}).refine((settings) => settings.workers === 1 || settings.redisUrl !== undefined, {
  path: ['workers'],
  message: "more than 1 needs HERALD_REDIS_URL / --redis-url: each worker is a node, and only the Redis adapter lets nodes see each other's sockets",
});

/** Reads the settings present in an environment. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): RawSettings {
  const raw: RawSettings = {};
  for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingSpec][]) {
    const value = env[spec.env];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  return raw;
}

/** Validates settings (flags already merged over the environment) into a ServerConfig. */
export function loadConfig(raw: RawSettings, readFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): ServerConfig {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const names = Object.fromEntries(Object.entries(SETTINGS).map(([name, spec]) => [name, `${spec.env} / --${spec.flag}`]));
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${names[String(issue.path[0])] ?? String(issue.path[0])}: ${issue.message}`).join('; '),
    );
  }
  const settings = parsed.data;
  let apps: App[];
  if (settings.appsFile) {
    let text: string;
    try {
      text = readFile(settings.appsFile);
    } catch (error) {
      throw new ConfigError(`HERALD_APPS_FILE: cannot read ${settings.appsFile} (${(error as Error).message})`);
    }
    apps = parseAppsFile(text, settings.appsFile);
  } else {
    apps = [defineApp({ id: settings.appId, key: settings.appKey, secret: settings.appSecret, client_events: settings.clientEvents })];
  }
  return {
    host: settings.host,
    port: settings.port,
    apps,
    usingDefaultCredentials: apps.some((app) => app.secret === DEFAULT_APP.secret),
    appsFile: settings.appsFile ?? null,
    databaseUrl: settings.databaseUrl,
    databaseTimeouts: { connectTimeoutMs: settings.databaseConnectTimeout, statementTimeoutMs: settings.databaseStatementTimeout },
    redisUrl: settings.redisUrl ?? null,
    redisCluster: settings.redisCluster,
    redis: {
      ...(settings.redisPrefix !== undefined ? { prefix: settings.redisPrefix } : {}),
      ...(settings.redisHeartbeatMs !== undefined ? { heartbeatMs: settings.redisHeartbeatMs } : {}),
      ...(settings.redisNodeExpiryMs !== undefined ? { nodeExpiryMs: settings.redisNodeExpiryMs } : {}),
      ...(settings.redisCommandTimeoutMs !== undefined ? { commandTimeoutMs: settings.redisCommandTimeoutMs } : {}),
      ...(settings.redisReconnectMaxMs !== undefined ? { reconnectMaxDelayMs: settings.redisReconnectMaxMs } : {}),
    },
    logLevel: settings.logLevel,
    activityTimeoutSeconds: settings.activityTimeout,
    maxConnections: settings.maxConnections ?? null,
    shutdownTimeoutMs: settings.shutdownTimeout * 1000,
    adminToken: settings.adminToken ?? null,
    demo: settings.demo ?? apps.some((app) => app.secret === DEFAULT_APP.secret),
    metricsPort: settings.metricsPort ?? null,
    maxBufferedBytes: settings.maxBufferedBytes,
    workers: settings.workers,
    workerIndex: settings.workerIndex,
    trustProxy: settings.trustProxy,
    idleMemoryTrim: settings.idleMemoryTrim,
    nodeName: settings.nodeName ?? `${hostname()}:${settings.port}`,
  };
}

export { ConfigError, describeIssues };
