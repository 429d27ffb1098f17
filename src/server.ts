/** The composition root: builds one Herald node from explicit dependencies. */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminMonitor } from './admin/monitor.js';
import type { ClusterAdapter } from './cluster/adapter.js';
import { LocalAdapter } from './cluster/local-adapter.js';
import { AppRegistry, type App } from './config/apps.js';
import { HttpApi } from './http/http-api.js';
import { registerInboxRoutes } from './http/inbox-routes.js';
import { registerHealthRoutes, registerPusherRoutes } from './http/pusher-routes.js';
import { registerSdkRoute } from './http/sdk-route.js';
import { registerAdminRoutes, type DashboardOptions } from './http/admin-routes.js';
import { registerDemoRoutes, type DemoOptions } from './http/demo-routes.js';
import { Inbox } from './inbox/inbox.js';
import { Scheduler, type SchedulerOptions } from './inbox/scheduler.js';
import { silentLogger, type Logger } from './logger.js';
import { HeraldMetrics } from './metrics/metrics.js';
import { MetricsEndpoint } from './metrics/metrics-endpoint.js';
import { Realtime, type RealtimeOptions } from './realtime/realtime.js';
import type { InboxStore } from './store/store.js';
import { WebSocketEndpoint } from './transport/websocket-server.js';
import { WebhookDispatcher, type WebhookOptions } from './webhooks/dispatcher.js';
import { registerPushRoutes } from './http/push-routes.js';
import { uniqueProcessName } from './ops/process-name.js';
import { ApnsProvider } from './push/providers/apns.js';
import { FcmProvider } from './push/providers/fcm.js';
import { WebPushProvider } from './push/providers/web-push.js';
import { PushService } from './push/push-service.js';
import { PushWorker, defaultPushWorkerOptions, type PushWorkerOptions } from './push/push-worker.js';

/** Everything a node is made of; tests pass their own to run several nodes in one process. */
export interface HeraldDeps {
  readonly apps: AppRegistry | readonly App[];
  /** The inbox store; migrated on listen, closed by whoever opened it. */
  readonly store: InboxStore;
  readonly adapter?: ClusterAdapter;
  readonly logger?: Logger;
  readonly now?: () => number;
  readonly realtime?: Partial<RealtimeOptions>;
  readonly scheduler?: SchedulerOptions;
  /** `/dashboard` and the admin API (on unless false); `adminToken` signs in for every app. */
  readonly dashboard?: DashboardOptions | false;
  /** The demo inbox at `/demo` and its token endpoint (off unless set). */
  readonly demo?: boolean | DemoOptions;
  readonly webhooks?: Partial<WebhookOptions>;
  /** Push delivery tunables (poll interval, retries, leases); tests shorten them. */
  readonly push?: Partial<PushWorkerOptions>;
  /**
   * Serve `/metrics` only on this port (0: any free one) instead of the main port; false: not at
   * all (a worker of `--workers`, whose primary serves every worker's metrics).
   */
  readonly metricsPort?: number | null | false;
  /** Count `max_connections_per_ip` by the last `X-Forwarded-For` entry (a reverse proxy in front). */
  readonly trustProxy?: boolean;
  /**
   * A name that stays the same when this node restarts and that no other running node shares: it
   * takes its webhook leases under it, and ends them when it starts again. Default: unique to this
   * process, so leases of a previous run wait until they run out.
   */
  readonly nodeName?: string;
  /** HTTP timeouts; tests shorten them. */
  readonly httpTimeouts?: Partial<HttpTimeouts>;
  /** Body bytes routes without authentication may be reading at once (default 1 MB); 503 beyond. */
  readonly maxUnauthenticatedBodyBytes?: number;
}

/** How long a client may take over an HTTP request. */
export interface HttpTimeouts {
  /** From the connection (or the end of the previous request) to the end of the headers; then 408. */
  readonly headersMs: number;
  /** From the connection (or the end of the previous request) to the end of the body; then 408. */
  readonly requestMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveMs: number;
  /** How often the timeouts above are checked (Node checks them on an interval, 30 s by default). */
  readonly checkIntervalMs: number;
}

/** Production timeouts: a slow-loris client that trickles its headers is cut after 10-11 s. */
export const defaultHttpTimeouts: HttpTimeouts = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000, checkIntervalMs: 1_000 };

/** A running (or ready to run) Herald node. */
export class HeraldServer {
  readonly apps: AppRegistry;
  readonly realtime: Realtime;
  readonly http: Server;
  readonly api: HttpApi;
  readonly logger: Logger;
  readonly store: InboxStore;
  readonly inbox: Inbox;
  /** The dashboard's counters and console streams; null when the dashboard is off. */
  readonly admin: AdminMonitor | null;
  /** Webhooks through the store's outbox; `webhooks.stats` for the metrics. */
  readonly webhooks: WebhookDispatcher;
  /** Devices, preferences and VAPID keys (design.md §6). */
  readonly push: PushService;
  /** Evaluates due push rules and sends pushes. */
  readonly pushWorker: PushWorker;
  /** Prometheus metrics of this node (its own registry). */
  readonly metrics: HeraldMetrics;
  readonly metricsEndpoint: MetricsEndpoint;
  private readonly scheduler: Scheduler;
  private readonly websocket: WebSocketEndpoint;
  private started = false;

  constructor(deps: HeraldDeps) {
    this.apps = deps.apps instanceof AppRegistry ? deps.apps : new AppRegistry(deps.apps);
    this.logger = deps.logger ?? silentLogger();
    const now = deps.now ?? Date.now;
    const adapter = deps.adapter ?? new LocalAdapter(now);
    this.realtime = new Realtime({ apps: this.apps, adapter, logger: this.logger, now, options: deps.realtime });
    this.store = deps.store;
    this.inbox = new Inbox({ store: this.store, realtime: this.realtime, apps: this.apps, logger: this.logger, now });
    this.scheduler = new Scheduler(this.store, this.inbox, this.logger, now, deps.scheduler);
    this.webhooks = new WebhookDispatcher({
      outbox: this.store.outbox,
      apps: this.apps,
      realtime: this.realtime.events,
      inbox: this.inbox,
      logger: this.logger,
      now,
      options: deps.webhooks,
      cluster: adapter,
      leaseHolder: deps.nodeName,
    });
    this.push = new PushService({ store: this.store, apps: this.apps, inbox: this.inbox, logger: this.logger, now });
    const pushTimeoutMs = deps.push?.requestTimeoutMs ?? defaultPushWorkerOptions.requestTimeoutMs;
    this.pushWorker = new PushWorker({
      store: this.store,
      apps: this.apps,
      logger: this.logger,
      now,
      providers: {
        webpush: new WebPushProvider(this.push.vapidKeysOf, pushTimeoutMs),
        fcm: new FcmProvider(pushTimeoutMs),
        apns: new ApnsProvider(pushTimeoutMs),
      },
      report: (event) => this.inbox.report(event),
      holder: deps.nodeName ?? uniqueProcessName(),
      options: deps.push,
    });
    this.api = new HttpApi({ apps: this.apps, logger: this.logger, now, maxUnauthenticatedBodyBytes: deps.maxUnauthenticatedBodyBytes });
    registerPusherRoutes(this.api, this.realtime);
    registerInboxRoutes(this.api, this.inbox, this.apps, now);
    registerPushRoutes(this.api, this.push, this.apps, now);
    registerSdkRoute(this.api);
    this.admin = deps.dashboard === false ? null : registerAdminRoutes(this.api, { apps: this.apps, realtime: this.realtime, inbox: this.inbox, now }, deps.dashboard);
    if (deps.demo) registerDemoRoutes(this.api, { apps: this.apps, inbox: this.inbox, now }, deps.demo === true ? {} : deps.demo);
    registerHealthRoutes(this.api, { cluster: () => adapter.isReady(), store: () => this.store.ping() });
    this.metrics = new HeraldMetrics({ apps: this.apps, realtime: this.realtime, inbox: this.inbox, api: this.api });
    this.metricsEndpoint = new MetricsEndpoint(this.metrics, this.api, deps.metricsPort ?? null);
    this.metrics.watchWebhooks(this.webhooks);
    this.metrics.watchPush(this.pushWorker);
    this.websocket = new WebSocketEndpoint(this.realtime, { trustProxy: deps.trustProxy ?? false });
    const timeouts = { ...defaultHttpTimeouts, ...deps.httpTimeouts };
    const httpOptions = {
      requestTimeout: timeouts.requestMs,
      headersTimeout: timeouts.headersMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      connectionsCheckingInterval: timeouts.checkIntervalMs,
    };
    this.http = createHttpServer(httpOptions, (req, res) => {
      void this.api.handle(req, res);
    });
    this.http.on('upgrade', (req, socket, head) => this.websocket.handleUpgrade(req, socket, head));
    this.http.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      if (socket.writable) socket.end(clientErrorAnswer(error.code));
      else socket.destroy();
    });
  }

  /** Starts the realtime core and listens; resolves with the bound address. */
  async listen(port: number, host = '0.0.0.0'): Promise<AddressInfo> {
    if (!this.started) {
      await this.store.migrate();
      await this.realtime.start();
      this.scheduler.start();
      this.webhooks.start();
      await this.push.prepare();
      this.pushWorker.start();
      this.started = true;
    }
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    await this.metricsEndpoint.listen(host);
    return this.address();
  }

  /** The bound address. */
  address(): AddressInfo {
    return this.http.address() as AddressInfo;
  }

  /**
   * Stops accepting, lets HTTP requests under way finish (at most `drainMs`), closes sockets with
   * 4200 (waiting at most `drainMs` for their close handshakes) and stops the HTTP server.
   */
  async close(drainMs = 5_000): Promise<void> {
    this.websocket.close();
    await this.scheduler.stop();
    const httpClosed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.admin?.close(); // ends the console streams, which would otherwise hold the drain
    await this.api.drain(drainMs);
    await this.realtime.shutdown();
    await this.websocket.closed(drainMs);
    this.http.closeAllConnections();
    await httpClosed;
    // Push outcomes are webhook events: the worker stops first.
    await this.pushWorker.stop();
    // Last: the sockets closed above emitted their vacated/left events; they go to the outbox too.
    await this.webhooks.stop();
    await this.metricsEndpoint.close();
    this.metrics.stop();
  }
}

/** The answer to a request Node's HTTP parser refused, or that took too long: 408, 431 or 400. */
function clientErrorAnswer(code: string | undefined): string {
  const status =
    code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
  return `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
}

/** Builds a node from its dependencies. */
export function createServer(deps: HeraldDeps): HeraldServer {
  return new HeraldServer(deps);
}
