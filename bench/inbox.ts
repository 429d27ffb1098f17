/**
 * Inbox benchmarks: one push to 10,000 connected users (time to the last delivery), and
 * single-user push-to-delivery latency. The server runs pinned to core 0; this process (the load)
 * should run on core 1: `taskset -c 1 node dist/bench/inbox.js`.
 */
import Pusher from 'pusher';
import { WebSocket } from 'ws';
import { signChannel } from '../src/protocol/signatures.js';
import { percentile, startHeraldProcess, type ServerProcess } from './server-process.js';

const APP = { id: 'bench', key: 'bench-key', secret: 'bench-secret' };

/** `pusher.post` with a JSON body: the SDK stringifies `body` itself, though its types say string. */
function postJson(pusher: Pusher, path: string, body: object): ReturnType<Pusher["post"]> {
  return pusher.post({ path, body: body as unknown as string });
}

interface Subscriber {
  socket: WebSocket;
  received: number;
}

/** Opens a socket for a user and subscribes it to `private-{userId}`; resolves when subscribed. */
function subscribeUser(port: number, userId: string, onNotification: (at: number) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/app/${APP.key}?protocol=7&client=bench`);
    const channel = `private-${userId}`;
    socket.on('error', reject);
    socket.on('message', (raw) => {
      const text = raw.toString();
      if (text.includes('"Internal Notification"')) {
        onNotification(performance.now());
        return;
      }
      const message = JSON.parse(text) as { event: string; data: string };
      if (message.event === 'pusher:connection_established') {
        const socketId = (JSON.parse(message.data) as { socket_id: string }).socket_id;
        socket.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel, auth: signChannel(APP.key, APP.secret, socketId, channel) } }));
      } else if (message.event === 'pusher_internal:subscription_succeeded') {
        resolve(socket);
      }
    });
  });
}

async function connectMany(port: number, count: number, onNotification: (index: number, at: number) => void): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  const batch = 500;
  for (let start = 0; start < count; start += batch) {
    const chunk = Array.from({ length: Math.min(batch, count - start) }, (_, k) => {
      const index = start + k;
      return subscribeUser(port, `user-${index}`, (at) => onNotification(index, at));
    });
    sockets.push(...(await Promise.all(chunk)));
  }
  return sockets;
}

/** One push to `users` connected users: HTTP answer time and time until the last delivery. */
export async function fanOutPush(server: ServerProcess, users: number): Promise<Record<string, number>> {
  const pusher = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(server.port), useTLS: false });
  let delivered = 0;
  let lastAt = 0;
  let allDelivered: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDelivered = resolve));
  const sockets = await connectMany(server.port, users, (_index, at) => {
    delivered++;
    lastAt = at;
    if (delivered === users) allDelivered();
  });
  const rssConnected = server.rssBytes();
  const cpuBefore = server.cpuMicros();
  const started = performance.now();
  const response = await postJson(pusher, '/notifications', {
    user_ids: Array.from({ length: users }, (_, i) => `user-${i}`),
    notification: { heading: 'Bench', content: 'One push to everyone' },
  });
  const answeredAt = performance.now();
  if (response.status !== 200) throw new Error(`push failed with ${response.status}`);
  await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${delivered}/${users} delivered in 30 s`)), 30_000))]);
  const cpu = server.cpuMicros() - cpuBefore;
  for (const socket of sockets) socket.terminate();
  return {
    users,
    stored_ms: round(answeredAt - started),
    last_delivery_ms: round(lastAt - started),
    server_cpu_ms: round(cpu / 1000),
    server_rss_mb_connected: round(rssConnected / 1024 / 1024),
  };
}

/** Sequential pushes to one connected user: push-to-delivery latency. */
export async function singleUserLatency(server: ServerProcess, pushes: number): Promise<Record<string, number>> {
  const pusher = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(server.port), useTLS: false });
  let arrived: (at: number) => void = () => undefined;
  const socket = await subscribeUser(server.port, 'latency-user', (at) => arrived(at));
  const samples: number[] = [];
  for (let i = 0; i < pushes; i++) {
    const delivered = new Promise<number>((resolve) => (arrived = resolve));
    const started = performance.now();
    await postJson(pusher, '/notifications', { user_ids: ['latency-user'], notification: { content: `n${i}` } });
    samples.push((await delivered) - started);
  }
  socket.terminate();
  samples.sort((a, b) => a - b);
  return { pushes, p50_ms: round(percentile(samples, 50)), p99_ms: round(percentile(samples, 99)), max_ms: round(samples[samples.length - 1]) };
}

const round = (value: number) => Math.round(value * 100) / 100;

async function main(): Promise<void> {
  const users = Number(process.env.BENCH_USERS ?? 10_000);
  const server = await startHeraldProcess({ core: 0 });
  try {
    const fanOut = await fanOutPush(server, users);
    const latency = await singleUserLatency(server, Number(process.env.BENCH_PUSHES ?? 1000));
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
