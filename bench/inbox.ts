/**
 * Inbox benchmarks: one push to N connected users (time to the last delivery), and single-user
 * push-to-delivery latency. The runner (`npm run bench -- --scenario inbox`) runs them in a load
 * worker; standalone, `taskset -c 1 node dist/bench/inbox.js` starts Herald on core 0 itself.
 */
import Pusher from 'pusher';
import type { RawData, WebSocket } from 'ws';
import { Histogram } from './histogram.js';
import type { ServerAddress } from './load/commands.js';
import { openSubscribed } from './load/pusher-socket.js';
import { startHeraldProcess } from './server-process.js';

/** Reads the server's CPU and memory; null for a server whose process the benchmark cannot see. */
export interface ServerProbe {
  cpuMicros(): number;
  rssBytes(): number;
}

/** A server with the inbox API, and optionally its process. */
export interface InboxTarget extends ServerAddress {
  readonly probe: ServerProbe | null;
}

const CONNECT_CONCURRENCY = 200;
const DELIVERY_TIMEOUT_MS = 30_000;
const PUSH_TIMEOUT_MS = 10_000;

function pusherFor(target: InboxTarget): Pusher {
  return new Pusher({ appId: target.app.id, key: target.app.key, secret: target.app.secret, host: target.host, port: String(target.port), useTLS: false });
}

/** `pusher.post` with a JSON body: the SDK stringifies `body` itself, though its types say string. */
function postJson(pusher: Pusher, path: string, body: object): ReturnType<Pusher['post']> {
  return pusher.post({ path, body: body as unknown as string });
}

/** Opens a socket for a user on `private-{userId}`; `onNotification` gets the receipt time of each `Internal Notification`. */
function subscribeUser(target: InboxTarget, userId: string, onNotification: (at: number) => void): Promise<WebSocket> {
  return openSubscribed(target, `private-${userId}`, 20_000, function (this: WebSocket, raw: RawData) {
    if (raw.toString().includes('"Internal Notification"')) onNotification(performance.now());
  });
}

async function connectMany(target: InboxTarget, count: number, onNotification: (at: number) => void): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) sockets.push(await subscribeUser(target, `user-${next++}`, onNotification));
  };
  try {
    await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, count) }, lane));
  } catch (error) {
    for (const socket of sockets) socket.terminate();
    throw error;
  }
  return sockets;
}

const round = (value: number | null) => (value === null ? null : Math.round(value * 100) / 100);

/** One push to `users` connected users: HTTP answer time, delivery latency and time until the last delivery. */
export async function fanOutPush(target: InboxTarget, users: number): Promise<Record<string, number | null>> {
  const pusher = pusherFor(target);
  const deliveries = new Histogram();
  let started = 0;
  let lastAt = 0;
  let allDelivered: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDelivered = resolve));
  const rssBefore = target.probe?.rssBytes() ?? null;
  const sockets = await connectMany(target, users, (at) => {
    deliveries.record(at - started);
    lastAt = at;
    if (deliveries.count === users) allDelivered();
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const rssConnected = target.probe?.rssBytes() ?? null;
    const cpuBefore = target.probe?.cpuMicros() ?? null;
    started = performance.now();
    const response = await postJson(pusher, '/notifications', {
      user_ids: Array.from({ length: users }, (_, i) => `user-${i}`),
      notification: { heading: 'Bench', content: 'One push to everyone' },
    });
    const answeredAt = performance.now();
    if (response.status !== 200) throw new Error(`push failed with ${response.status}`);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, DELIVERY_TIMEOUT_MS)));
    await Promise.race([done, timedOut]);
    clearTimeout(timer);
    const cpu = cpuBefore === null ? null : target.probe!.cpuMicros() - cpuBefore;
    const summary = deliveries.summary();
    return {
      users,
      delivered: deliveries.count,
      stored_ms: round(answeredAt - started),
      last_delivery_ms: deliveries.count === 0 ? null : round(lastAt - started),
      delivery_p50_ms: round(summary.p50),
      delivery_p99_ms: round(summary.p99),
      server_cpu_ms: cpu === null ? null : round(cpu / 1000),
      server_rss_mb_connected: rssConnected === null ? null : round(rssConnected / 1024 / 1024),
      server_rss_bytes_per_connection: rssConnected === null || rssBefore === null ? null : Math.round((rssConnected - rssBefore) / users),
    };
  } finally {
    for (const socket of sockets) socket.terminate();
  }
}

/** Sequential pushes to one connected user: push-to-delivery latency. */
export async function singleUserLatency(target: InboxTarget, pushes: number): Promise<Record<string, number | null>> {
  const pusher = pusherFor(target);
  let arrived: (at: number) => void = () => undefined;
  const socket = await subscribeUser(target, 'latency-user', (at) => arrived(at));
  const samples = new Histogram();
  const cpuBefore = target.probe?.cpuMicros() ?? null;
  try {
    for (let i = 0; i < pushes; i++) {
      const delivered = new Promise<number>((resolve) => (arrived = resolve));
      const started = performance.now();
      const response = await postJson(pusher, '/notifications', { user_ids: ['latency-user'], notification: { content: `n${i}` } });
      if (response.status !== 200) throw new Error(`push failed with ${response.status}`);
      let timer: NodeJS.Timeout | undefined;
      const lost = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`push ${i} not delivered within ${PUSH_TIMEOUT_MS / 1000} s`)), PUSH_TIMEOUT_MS)));
      samples.record((await Promise.race([delivered, lost])) - started);
      clearTimeout(timer);
    }
  } finally {
    socket.terminate();
  }
  const cpu = cpuBefore === null ? null : target.probe!.cpuMicros() - cpuBefore;
  const summary = samples.summary();
  return { pushes, p50_ms: round(summary.p50), p99_ms: round(summary.p99), max_ms: round(summary.max), server_cpu_us_per_push: cpu === null ? null : Math.round(cpu / pushes) };
}

async function main(): Promise<void> {
  const users = Number(process.env.BENCH_USERS ?? 10_000);
  const server = await startHeraldProcess({ core: 0 });
  try {
    const target: InboxTarget = { host: server.host, port: server.port, app: server.app, probe: server };
    const fanOut = await fanOutPush(target, users);
    const latency = await singleUserLatency(target, Number(process.env.BENCH_PUSHES ?? 1000));
    const result = { scenario: 'inbox', date: new Date().toISOString(), fan_out_push: fanOut, single_user_latency: latency };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(
      [
        '',
        '| inbox scenario | result |',
        '| --- | --- |',
        `| one push to ${users} connected users: stored (HTTP answer) | ${fanOut.stored_ms} ms |`,
        `| same push: last delivery | ${fanOut.last_delivery_ms} ms |`,
        `| same push: server CPU | ${fanOut.server_cpu_ms} ms |`,
        `| single-user push to delivery p50 / p99 / max | ${latency.p50_ms} / ${latency.p99_ms} / ${latency.max_ms} ms |`,
        '',
      ].join('\n'),
    );
  } finally {
    await server.stop();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) await main();
