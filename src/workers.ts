/**
 * `herald start --workers N`: a primary process forks N workers with Node's `cluster` module. Each
 * worker is a full Herald node (its own sockets, HTTP API and Redis adapter) and they share the
 * port: the primary accepts connections and hands them to the workers in turn. Events cross
 * workers through Redis as they cross machines, which is why more than one worker needs
 * `--redis-url` (see docs/scaling.md). With `--metrics-port`, the primary serves there the sum of
 * every worker's metrics. SIGTERM or SIGINT to the primary drains every worker (4200 to their
 * sockets) and exits once they are all gone; SIGHUP is passed on (each worker reloads the apps file).
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, type PrometheusContentType } from 'prom-client';
import type { ServerConfig } from './config/server-config.js';
import { createLogger, type Logger } from './logger.js';
import type { HeraldServer } from './server.js';

/** Exit code of a worker whose configuration was refused: the primary stops instead of restarting it. */
const CONFIG_EXIT = 78;
/** Workers that crash this many times within RESTART_WINDOW_MS are not restarted again: the primary exits. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const RESTART_DELAY_MS = 1_000;

/** The primary: forks the workers, restarts one that crashes, serves aggregated metrics, and drains all on SIGTERM. */
export async function startPrimary(config: ServerConfig): Promise<void> {
  const logger = createLogger(config.logLevel).child({ role: 'primary' });
  const aggregator = new AggregatorRegistry<PrometheusContentType>();
  const listening = new Set<number>();
  const restarts: number[] = [];
  let stopping = false;
  let started = false;

  const fork = (index: number): Worker => {
    const worker = cluster.fork({ HERALD_WORKER_INDEX: String(index) });
    worker.on('listening', () => {
      listening.add(worker.id);
      if (!started && listening.size === config.workers) {
        started = true;
        logger.info({ workers: config.workers, port: config.port, pid: process.pid }, 'herald is listening with every worker');
      }
    });
    worker.on('exit', (code, signal) => {
      listening.delete(worker.id);
      if (stopping) return;
      if (!started || code === CONFIG_EXIT) {
        logger.error({ worker: index, code, signal }, 'a worker exited while starting; stopping');
        stopAll('worker failed to start', code === CONFIG_EXIT ? CONFIG_EXIT : 1);
        return;
      }
      const now = Date.now();
      restarts.push(now);
      while (restarts.length > 0 && restarts[0] < now - RESTART_WINDOW_MS) restarts.shift();
      if (restarts.length > MAX_RESTARTS) {
        logger.error({ worker: index, code, signal, restarts: restarts.length }, 'workers keep crashing; stopping');
        stopAll('workers keep crashing', 1);
        return;
      }
      logger.error({ worker: index, code, signal }, 'a worker died; starting another in its place');
      setTimeout(() => {
        if (!stopping) fork(index);
      }, RESTART_DELAY_MS).unref();
    });
    return worker;
  };

  let metricsServer: Server | null = null;
  const stopAll = (reason: string, exitCode: number): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping every worker (they close their sockets with 4200)');
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    const deadline = setTimeout(() => {
      logger.error('workers took too long to stop; killing them');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }, config.shutdownTimeoutMs + 2_000);
    deadline.unref();
    let failed = exitCode !== 0;
    const alive = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && !worker.isDead());
    if (alive.length === 0) process.exit(exitCode);
    let left = alive.length;
    for (const worker of alive) {
      worker.once('exit', (code) => {
        if (code !== 0) failed = true;
        if (--left === 0) {
          logger.info('every worker stopped');
          process.exit(failed ? Math.max(exitCode, 1) : 0);
        }
      });
      worker.process.kill('SIGTERM');
    }
  };

  process.on('SIGTERM', () => stopAll('SIGTERM', 0));
  process.on('SIGINT', () => stopAll('SIGINT', 0));
  process.on('SIGHUP', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
  });

  if (config.metricsPort !== null) metricsServer = await serveClusterMetrics(aggregator, config, logger);
  for (let index = 0; index < config.workers; index++) fork(index);
}

/** GET /metrics on the metrics port: every worker's metrics, summed (prom-client's cluster aggregation). */
async function serveClusterMetrics(aggregator: AggregatorRegistry<PrometheusContentType>, config: ServerConfig, logger: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end('{"error":"this port serves GET /metrics only","code":"not_found"}');
      return;
    }
    aggregator.clusterMetrics().then(
      (text) => res.writeHead(200, { 'content-type': aggregator.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text),
      (error: unknown) => {
        logger.warn({ err: error }, 'could not collect the workers\' metrics');
        res.writeHead(503, { 'content-type': 'application/json; charset=utf-8' }).end('{"error":"the workers did not answer","code":"unavailable"}');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.metricsPort!, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  logger.info({ metricsPort: (server.address() as AddressInfo).port }, 'metrics of every worker at /metrics');
  return server;
}

/** In a worker: answers the primary's requests for this node's metrics. */
export function reportMetricsToPrimary(server: HeraldServer): void {
  new AggregatorRegistry<PrometheusContentType>();
  AggregatorRegistry.setRegistries([server.metrics.registry]);
}

/** Whether this process is a worker forked by `startPrimary`. */
export function isWorker(): boolean {
  return cluster.isWorker;
}
