/** Starts a node from a validated configuration, with signal handling for graceful shutdown. */
import type { ClusterAdapter } from './cluster/adapter.js';
import { RedisAdapter } from './cluster/redis-adapter.js';
import type { ServerConfig } from './config/server-config.js';
import { createLogger } from './logger.js';
import { IdleMemoryTrim, openLowMemoryCollector } from './ops/idle-memory-trim.js';
import { reloadAppsFile } from './ops/reload-apps.js';
import { createServer, type HeraldServer } from './server.js';
import { openStore } from './store/open-store.js';
import { isWorker, reportMetricsToPrimary } from './workers.js';

/**
 * Builds, starts and supervises a node until SIGTERM or SIGINT; SIGHUP reloads the apps file. In a
 * worker of `--workers` (src/workers.ts), the primary serves the metrics port for every worker.
 */
export async function startNode(config: ServerConfig): Promise<HeraldServer> {
  const worker = isWorker();
  const workerIndex = config.workerIndex;
  const logger = worker ? createLogger(config.logLevel).child({ worker: workerIndex }) : createLogger(config.logLevel);
  if (config.usingDefaultCredentials) {
    logger.warn('using the published default app credentials (app-id / app-key / app-secret): set HERALD_APP_ID, HERALD_APP_KEY and HERALD_APP_SECRET, or HERALD_APPS_FILE, before going to production');
  }
  const store = openStore(config.databaseUrl, config.databaseTimeouts);
  // The server closes the adapter as part of its own shutdown (after the sockets are gone).
  const adapter: ClusterAdapter | undefined = config.redisUrl
    ? new RedisAdapter({ url: config.redisUrl, cluster: config.redisCluster, logger, ...config.redis })
    : undefined;
  const server = createServer({
    apps: config.apps,
    store,
    adapter,
    logger,
    realtime: { activityTimeoutSeconds: config.activityTimeoutSeconds, maxConnections: config.maxConnections, maxBufferedBytes: config.maxBufferedBytes },
    metricsPort: worker && config.metricsPort !== null ? false : config.metricsPort,
    trustProxy: config.trustProxy,
    nodeName: worker ? `${config.nodeName}#${workerIndex}` : config.nodeName,
    dashboard: { adminToken: config.adminToken },
    demo: config.demo,
  });
  const address = await server.listen(config.port, config.host);
  if (worker) reportMetricsToPrimary(server);
  if (config.idleMemoryTrim) {
    const collect = await openLowMemoryCollector();
    if (collect) {
      new IdleMemoryTrim(
        collect,
        ({ freedBytes, pauseMs }) => logger.info({ freedMb: Math.round(freedBytes / 2 ** 20), pauseMs: Math.round(pauseMs) }, 'quiet after a burst: gave back the grown young generation'),
        (error) => logger.warn({ err: error }, 'idle memory trim failed'),
      );
    } else {
      logger.warn('idle memory trim is off: this Node has no inspector (built without it)');
    }
  }
  const metricsPort = server.metricsEndpoint.address()?.port ?? address.port;
  logger.info({ host: address.address, port: address.port, metricsPort, apps: config.apps.map((app) => app.id) }, 'herald is listening');
  logger.info({ dashboard: '/dashboard', adminToken: config.adminToken !== null, demo: config.demo ? '/demo' : null }, 'dashboard at /dashboard' + (config.demo ? ', demo inbox at /demo' : ''));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: closing sockets with 4200');
    const deadline = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    // A third of the budget for HTTP requests under way, at most another for close handshakes, the rest to flush.
    server
      .close(Math.floor(config.shutdownTimeoutMs / 3))
      .then(() => store.close())
      .then(
      () => {
        logger.info('shutdown complete');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    if (!config.appsFile) {
      logger.warn('SIGHUP: no apps file to reload (HERALD_APPS_FILE is not set); nothing changed');
      return;
    }
    server.metrics.recordReload(reloadAppsFile(server.apps, server.realtime, config.appsFile, logger));
  });
  return server;
}
