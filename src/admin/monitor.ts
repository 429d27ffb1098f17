/**
 * What the dashboard shows of the realtime core: per-app counters and one-second samples kept from
 * `realtime.events`, and the live event console (Server-Sent Events). It only listens; nothing on
 * the hot path calls into it.
 */
import type { ServerResponse } from 'node:http';
import type { AppRegistry } from '../config/apps.js';
import type { RealtimeEvent } from '../realtime/events.js';
import type { Realtime } from '../realtime/realtime.js';

/** Samples kept per watched app: one a second. */
export const SAMPLE_COUNT = 60;
/** An app's samples are dropped this long after the dashboard last asked for them. */
const WATCH_TTL_MS = 10 * 60_000;
/** Longest `data` a console line carries. */
export const CONSOLE_DATA_LIMIT = 2_000;
/** Unsent bytes after which console lines for a slow reader are dropped (and counted). */
const STREAM_BUFFER_LIMIT = 256 * 1024;
/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

/** Totals of an app since this node started. */
export interface AppTotals {
  connectionsOpened: number;
  connectionsClosed: number;
  /** Events published on this node: HTTP triggers and inbox deliveries. */
  published: number;
  clientEvents: number;
}

/** One line of the event console, as sent to the dashboard. */
export interface ConsoleLine {
  readonly type: string;
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly channel?: string;
  readonly event?: string;
  readonly data?: string;
  readonly truncated?: boolean;
  readonly socket_id?: string;
  readonly user_id?: string | null;
  readonly count?: number;
  readonly code?: number;
}

/** The last minute of an app, one sample a second, oldest first. */
export interface AppSeries {
  readonly t: number[];
  readonly connections: number[];
  /** Events per second (published + client events). */
  readonly events: number[];
}

interface Watch {
  lastAsked: number;
  lastEvents: number;
  readonly series: AppSeries;
}

interface Stream {
  readonly res: ServerResponse;
  dropped: number;
}

/** Node-wide traffic per second (admin scope only). */
export interface NodeRates {
  readonly connections: number;
  readonly messagesInPerSecond: number;
  readonly messagesOutPerSecond: number;
}

/** Counters, samples and console streams for the dashboard. */
export class AdminMonitor {
  private readonly totals = new Map<string, AppTotals>();
  private readonly watches = new Map<string, Watch>();
  private readonly streams = new Map<string, Set<Stream>>();
  private readonly stopListening: () => void;
  private sampler: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastTraffic = { at: 0, in: 0, out: 0 };
  private nodeRates: NodeRates = { connections: 0, messagesInPerSecond: 0, messagesOutPerSecond: 0 };
  private closed = false;

  constructor(
    private readonly realtime: Realtime,
    private readonly apps: AppRegistry,
    private readonly now: () => number = Date.now,
  ) {
    this.stopListening = realtime.events.listen((event) => this.onEvent(event));
  }

  /** Totals of an app since start (zeros when nothing happened yet). */
  totalsOf(appId: string): AppTotals {
    return this.totals.get(appId) ?? { connectionsOpened: 0, connectionsClosed: 0, published: 0, clientEvents: 0 };
  }

  /** Open connections of an app on this node. */
  connectionsOf(appId: string): number {
    return this.realtime.hubOf(appId)?.connections.size ?? 0;
  }

  /** The last minute of an app; starts sampling it (for ten minutes after the last call). */
  seriesOf(appId: string): AppSeries {
    let watch = this.watches.get(appId);
    if (!watch) {
      const totals = this.totalsOf(appId);
      watch = { lastAsked: 0, lastEvents: totals.published + totals.clientEvents, series: { t: [], connections: [], events: [] } };
      this.watches.set(appId, watch);
      this.sample(appId, watch, this.now());
    }
    watch.lastAsked = this.now();
    this.startSampler();
    return watch.series;
  }

  /** Node-wide connections and messages per second, from the last sample. */
  nodeRatesNow(): NodeRates {
    return { ...this.nodeRates, connections: this.realtime.connections };
  }

  /**
   * Makes `res` a Server-Sent Events stream of an app's console lines; resolves when the reader
   * goes away or the monitor closes.
   */
  stream(appId: string, res: ServerResponse): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n: connected\n\n`);
    res.socket?.setNoDelay(true);
    const entry: Stream = { res, dropped: 0 };
    let set = this.streams.get(appId);
    if (!set) {
      set = new Set();
      this.streams.set(appId, set);
    }
    set.add(entry);
    this.startHeartbeat();
    return new Promise((resolve) => {
      const done = (): void => {
        const current = this.streams.get(appId);
        current?.delete(entry);
        if (current?.size === 0) this.streams.delete(appId);
        if (this.streams.size === 0) this.stopHeartbeat();
        resolve();
      };
      res.once('close', done);
      if (this.closed) res.end();
    });
  }

  /** Readers of an app's console on this node. */
  readersOf(appId: string): number {
    return this.streams.get(appId)?.size ?? 0;
  }

  /** Stops listening and sampling, and ends every console stream (called at shutdown). */
  close(): void {
    this.closed = true;
    this.stopListening();
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
    this.stopHeartbeat();
    for (const set of this.streams.values()) for (const stream of set) stream.res.end();
  }

  private onEvent(event: RealtimeEvent): void {
    let appId: string;
    if (event.type === 'connection_refused') {
      const app = this.apps.findByKey(event.appKey);
      if (!app) return;
      appId = app.id;
    } else {
      appId = event.app.id;
      switch (event.type) {
        case 'event_published':
          this.count(appId).published++;
          break;
        case 'client_event':
          this.count(appId).clientEvents++;
          break;
        case 'connection_opened':
          this.count(appId).connectionsOpened++;
          break;
        case 'connection_closed':
          this.count(appId).connectionsClosed++;
          break;
        default:
          break;
      }
    }
    const readers = this.streams.get(appId);
    if (readers) this.broadcast(readers, consoleLine(event, this.now()));
  }

  private count(appId: string): AppTotals {
    let totals = this.totals.get(appId);
    if (!totals) {
      totals = { connectionsOpened: 0, connectionsClosed: 0, published: 0, clientEvents: 0 };
      this.totals.set(appId, totals);
    }
    return totals;
  }

  private broadcast(readers: Set<Stream>, line: ConsoleLine): void {
    const text = `data: ${JSON.stringify(line)}\n\n`;
    for (const reader of readers) {
      const { res } = reader;
      if (res.writableLength > STREAM_BUFFER_LIMIT) {
        reader.dropped++;
        continue;
      }
      if (reader.dropped > 0) {
        res.write(`data: ${JSON.stringify({ type: 'dropped', time: line.time, count: reader.dropped })}\n\n`);
        reader.dropped = 0;
      }
      res.write(text);
    }
  }

  private startSampler(): void {
    if (this.sampler || this.closed) return;
    this.lastTraffic = { at: this.now(), in: this.realtime.traffic.messagesIn, out: this.realtime.traffic.messagesOut };
    this.sampler = setInterval(() => this.tick(), 1_000);
    this.sampler.unref();
  }

  private tick(): void {
    const now = this.now();
    for (const [appId, watch] of this.watches) {
      if (now - watch.lastAsked > WATCH_TTL_MS) this.watches.delete(appId);
      else this.sample(appId, watch, now);
    }
    const traffic = this.realtime.traffic;
    const seconds = Math.max(0.001, (now - this.lastTraffic.at) / 1000);
    this.nodeRates = {
      connections: this.realtime.connections,
      messagesInPerSecond: Math.round((traffic.messagesIn - this.lastTraffic.in) / seconds),
      messagesOutPerSecond: Math.round((traffic.messagesOut - this.lastTraffic.out) / seconds),
    };
    this.lastTraffic = { at: now, in: traffic.messagesIn, out: traffic.messagesOut };
    if (this.watches.size === 0 && this.sampler) {
      clearInterval(this.sampler);
      this.sampler = null;
    }
  }

  private sample(appId: string, watch: Watch, now: number): void {
    const totals = this.totalsOf(appId);
    const events = totals.published + totals.clientEvents;
    const { series } = watch;
    series.t.push(now);
    series.connections.push(this.connectionsOf(appId));
    series.events.push(Math.max(0, events - watch.lastEvents));
    watch.lastEvents = events;
    if (series.t.length > SAMPLE_COUNT) {
      series.t.shift();
      series.connections.shift();
      series.events.shift();
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      for (const set of this.streams.values()) for (const stream of set) stream.res.write(': ping\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}

/** The text of an event's data for the console, cut at CONSOLE_DATA_LIMIT characters. */
function dataText(data: unknown): { data: string; truncated?: boolean } {
  let text: string;
  if (typeof data === 'string') text = data;
  else {
    try {
      text = JSON.stringify(data) ?? String(data);
    } catch {
      text = String(data);
    }
  }
  return text.length > CONSOLE_DATA_LIMIT ? { data: text.slice(0, CONSOLE_DATA_LIMIT), truncated: true } : { data: text };
}

/** A realtime event as a console line (without the app, which the stream is about). */
export function consoleLine(event: RealtimeEvent, time: number): ConsoleLine {
  switch (event.type) {
    case 'connection_opened':
    case 'connection_closed':
      return { type: event.type, time, socket_id: event.socketId };
    case 'connection_refused':
      return { type: event.type, time, code: event.code };
    case 'channel_occupied':
    case 'channel_vacated':
    case 'cache_miss':
      return { type: event.type, time, channel: event.channel };
    case 'subscription_count':
      return { type: event.type, time, channel: event.channel, count: event.count };
    case 'member_added':
    case 'member_removed':
      return { type: event.type, time, channel: event.channel, user_id: event.userId };
    case 'client_event':
      return { type: event.type, time, channel: event.channel, event: event.event, ...dataText(event.data), socket_id: event.socketId, user_id: event.userId };
    case 'event_published':
      return { type: event.type, time, channel: event.channel, event: event.event, ...dataText(event.data()) };
    default: {
      // An event type added later shows up by name until it gets a line of its own.
      const other: { readonly type: string } = event;
      return { type: other.type, time };
    }
  }
}
