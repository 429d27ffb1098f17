/** Prometheus metrics of one node, on a registry of its own (several nodes can share a process). */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AppRegistry } from '../config/apps.js';
import type { HttpApi } from '../http/http-api.js';
import type { Inbox } from '../inbox/inbox.js';
import type { RealtimeEvent } from '../realtime/events.js';
import type { Realtime } from '../realtime/realtime.js';
import { plainCounter, plainGauge } from './plain-metrics.js';
import { registerWebhookMetrics, type WebhookMetricsSource } from './webhook-metrics.js';
import { registerPushMetrics } from './push-metrics.js';
import type { PushWorker } from '../push/push-worker.js';

/** What the metrics read. */
export interface MetricsDeps {
  readonly apps: AppRegistry;
  readonly realtime: Realtime;
  readonly inbox: Inbox;
  readonly api: HttpApi;
}

/** Seconds: HTTP handlers answer in milliseconds, pushes to thousands of users in up to seconds. */
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The node's metrics. Per-message traffic and inbox counts are plain numbers kept by the transport
 * and the inbox and read here when scraped; connections, client events and HTTP calls are counted
 * from the realtime events and the HTTP observer, off the broadcast path.
 */
export class HeraldMetrics {
  readonly registry = new Registry();
  private readonly stopListening: () => void;
  private readonly opened: Counter<'app'>;
  private readonly closed: Counter<'app'>;
  private readonly refused: Counter<'code'>;
  private readonly clientEvents: Counter<'app'>;
  private readonly reloads: Counter<'result'>;

  constructor(deps: MetricsDeps) {
    const { apps, realtime, inbox, api } = deps;
    const registers = [this.registry];
    // Event-loop delay sampled every 100 ms, not every 10 ms: 100 wake-ups a second cost an idle node about 0.5 % of a core.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });

    new Gauge({
      name: 'herald_connections',
      help: 'Open WebSocket connections on this node, by app',
      labelNames: ['app'],
      registers,
      collect() {
        this.reset();
        for (const app of apps.all()) this.set({ app: app.id }, realtime.hubOf(app.id)?.connections.size ?? 0);
      },
    });
    new Gauge({
      name: 'herald_channels',
      help: 'Channels with at least one subscriber on this node, by app',
      labelNames: ['app'],
      registers,
      collect() {
        this.reset();
        for (const app of apps.all()) this.set({ app: app.id }, realtime.hubOf(app.id)?.channels.size ?? 0);
      },
    });
    this.opened = new Counter({ name: 'herald_connections_opened_total', help: 'WebSocket connections accepted, by app', labelNames: ['app'], registers });
    this.closed = new Counter({ name: 'herald_connections_closed_total', help: 'WebSocket connections closed (by either side), by app', labelNames: ['app'], registers });
    // By code only: the app key of a refused socket is client input (4001 is an unknown key).
    this.refused = new Counter({ name: 'herald_connections_refused_total', help: 'WebSocket connections refused, by pusher:error code', labelNames: ['code'], registers });
    this.clientEvents = new Counter({ name: 'herald_client_events_total', help: 'Client events relayed, by app', labelNames: ['app'], registers });

    const traffic = realtime.traffic;
    plainCounter(registers, 'herald_websocket_messages_received_total', 'Text frames received from clients', () => traffic.messagesIn);
    plainCounter(registers, 'herald_websocket_received_bytes_total', 'Payload bytes received from clients', () => traffic.bytesIn);
    plainCounter(registers, 'herald_websocket_messages_sent_total', 'Frames written to clients (a broadcast counts once per socket)', () => traffic.messagesOut);
    plainCounter(registers, 'herald_websocket_sent_bytes_total', 'Bytes written to clients, WebSocket framing included', () => traffic.bytesOut);
    plainCounter(registers, 'herald_slow_consumer_closes_total', 'Sockets closed with 4100 because their unsent bytes passed the bound (HERALD_MAX_BUFFERED_BYTES)', () => traffic.slowConsumerCloses);

    const cluster = realtime.adapter.traffic;
    plainCounter(registers, 'herald_cluster_messages_published_total', 'Messages this node sent to the other nodes (an event for a channel, a message for a user)', () => cluster.published);
    plainCounter(registers, 'herald_cluster_messages_received_total', "Other nodes' messages this node received: only those of the channels and users its sockets need", () => cluster.received);
    plainCounter(registers, 'herald_cluster_echoes_total', "This node's own messages that Redis handed back (it also listens to the channel); dropped unparsed", () => cluster.echoes);
    plainGauge(registers, 'herald_cluster_topics', 'Channels and users this node listens to in Redis (one sharded pub/sub subscription each)', () => cluster.topics);

    const counters = inbox.counters;
    plainCounter(registers, 'herald_inbox_pushes_total', 'Inbox pushes stored (idempotent replays excluded)', () => counters.pushes);
    plainCounter(registers, 'herald_inbox_notifications_total', 'Notifications stored, one per addressed user', () => counters.notifications);
    plainCounter(registers, 'herald_inbox_deliveries_total', 'Notifications published live on a user channel', () => counters.deliveries);

    const requests = new Counter({ name: 'herald_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers });
    const durations = new Histogram({ name: 'herald_http_request_duration_seconds', help: 'HTTP request duration, by method and route pattern', labelNames: ['method', 'route'], buckets: HTTP_BUCKETS, registers });
    api.observe((method, route, status, seconds) => {
      requests.inc({ method, route, status: String(status) });
      durations.observe({ method, route }, seconds);
    });

    this.reloads = new Counter({ name: 'herald_apps_reloads_total', help: 'Reloads of the apps file (SIGHUP), by result', labelNames: ['result'], registers });
    plainGauge(registers, 'herald_apps', 'Apps configured on this node', () => apps.all().length);

    this.stopListening = realtime.events.listen((event) => this.onRealtimeEvent(event));
  }

  /** The exposition, in the Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of `text()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Adds the webhook queue depth, retries and failures (for a node with a webhook dispatcher). */
  watchWebhooks(source: WebhookMetricsSource): void {
    registerWebhookMetrics(this.registry, source);
  }

  /** Adds the push queue depth, sends, retries, parked deliveries and removed devices. */
  watchPush(worker: Pick<PushWorker, 'counters' | 'depth' | 'sending'>): void {
    registerPushMetrics(this.registry, worker);
  }

  /** Counts a reload of the apps file. */
  recordReload(ok: boolean): void {
    this.reloads.inc({ result: ok ? 'success' : 'failure' });
  }

  /** Stops counting realtime events. */
  stop(): void {
    this.stopListening();
  }

  private onRealtimeEvent(event: RealtimeEvent): void {
    switch (event.type) {
      case 'connection_opened':
        this.opened.inc({ app: event.app.id });
        break;
      case 'connection_closed':
        this.closed.inc({ app: event.app.id });
        break;
      case 'connection_refused':
        this.refused.inc({ code: String(event.code) });
        break;
      case 'client_event':
        this.clientEvents.inc({ app: event.app.id });
        break;
    }
  }
}
