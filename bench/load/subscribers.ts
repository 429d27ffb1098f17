/** The subscriber side of the load: many sockets, each counting and timing the benchmark events it receives. */
import type { RawData, WebSocket } from 'ws';
import { Histogram } from '../histogram.js';
import { nowMs, readPayload, type PayloadFields } from '../payload.js';
import { channelOf, type ChannelPlan, type ConnectReply, type ServerAddress, type StatsReply } from './commands.js';
import { handleControl, openSubscribed } from './pusher-socket.js';

const SUBSCRIBE_TIMEOUT_MS = 20_000;
const kIndex = Symbol('bench.index');
type IndexedSocket = WebSocket & { [kIndex]: number };

/** The sockets of this worker and what they received since the last reset. */
class Subscribers {
  sockets: IndexedSocket[] = [];
  received = new Int32Array(0);
  lastSeq = new Int32Array(0);
  latency = new Histogram();
  delivered = 0;
  reordered = 0;
  firstAt = 0;
  lastAt = 0;
  pusherErrors = 0;
  firstPusherError: string | null = null;
  closedByServer = 0;

  reset(): void {
    this.received.fill(0);
    this.lastSeq.fill(-1);
    this.latency.reset();
    this.delivered = 0;
    this.reordered = 0;
    this.firstAt = 0;
    this.lastAt = 0;
    this.pusherErrors = 0;
    this.firstPusherError = null;
  }
}

const state = new Subscribers();
const fields: PayloadFields = { seq: 0, sentAt: 0 };

// One listener shared by every socket: `this` is the socket.
function onMessage(this: IndexedSocket, data: RawData): void {
  const text = data.toString();
  if (!readPayload(text, fields)) {
    const { error } = handleControl(this, text);
    if (error !== null) {
      state.pusherErrors++;
      state.firstPusherError ??= error;
    }
    return;
  }
  const at = nowMs();
  const index = this[kIndex];
  state.received[index]++;
  if (fields.seq <= state.lastSeq[index]) state.reordered++;
  state.lastSeq[index] = fields.seq;
  state.latency.record(at - fields.sentAt);
  state.delivered++;
  if (state.firstAt === 0) state.firstAt = at;
  state.lastAt = at;
}

function onClose(this: WebSocket): void {
  state.closedByServer++;
}

/** Opens `count` sockets, socket i (numbered from `firstIndex`) on `channelOf(channels, i)`, `concurrency` at a time. */
export async function connectSubscribers(server: ServerAddress, firstIndex: number, count: number, channels: ChannelPlan, concurrency: number): Promise<ConnectReply> {
  const started = performance.now();
  const subscribeLatency = new Histogram();
  const base = state.sockets.length;
  const sockets: IndexedSocket[] = new Array<IndexedSocket>(count);
  let next = 0;
  let failed = 0;
  let firstError: string | null = null;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const opened = performance.now();
      try {
        const socket = (await openSubscribed(server, channelOf(channels, firstIndex + i), SUBSCRIBE_TIMEOUT_MS, onMessage as (this: WebSocket, data: RawData) => void)) as IndexedSocket;
        subscribeLatency.record(performance.now() - opened);
        socket[kIndex] = base + i;
        socket.on('close', onClose);
        sockets[i] = socket;
      } catch (error) {
        failed++;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  const opened = sockets.filter((socket): socket is IndexedSocket => socket !== undefined);
  // Renumber densely so that the per-socket counters have no holes for failed sockets.
  opened.forEach((socket, k) => (socket[kIndex] = base + k));
  state.sockets.push(...opened);
  state.received = new Int32Array(state.sockets.length);
  state.lastSeq = new Int32Array(state.sockets.length).fill(-1);
  return { connected: opened.length, failed, firstError, elapsedMs: performance.now() - started, subscribeLatency: subscribeLatency.toData() };
}

export function resetSubscribers(): void {
  state.reset();
}

export function subscriberProgress(): { delivered: number } {
  return { delivered: state.delivered };
}

export function subscriberStats(): StatsReply {
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const count of state.received) {
    if (count < min) min = count;
    if (count > max) max = count;
  }
  return {
    sockets: state.sockets.length,
    delivered: state.delivered,
    reordered: state.reordered,
    minPerSocket: state.sockets.length === 0 ? 0 : min,
    maxPerSocket: max,
    firstAt: state.firstAt,
    lastAt: state.lastAt,
    latency: state.latency.toData(),
    pusherErrors: state.pusherErrors,
    firstPusherError: state.firstPusherError,
    closedByServer: state.closedByServer,
  };
}

/** Drops every socket at once (no close handshake: the server sees the TCP connections go). */
export function closeSubscribers(): void {
  for (const socket of state.sockets) {
    socket.off('close', onClose);
    socket.terminate();
  }
  state.sockets = [];
  state.received = new Int32Array(0);
  state.lastSeq = new Int32Array(0);
}
