/**
 * `npm run soak`: a bounded mixed load against one Herald process for a long while (10 minutes by
 * default), sampling the server's RSS and V8 heap, to show whether memory stays flat. The load:
 * steady subscribers on a fan-out channel, inbox devices and presence members; connections
 * churning (each on its own channel, so occupied/vacated webhooks flow); fan-out events over the
 * HTTP API; client events; inbox pushes (some scheduled), opens and deletes; every webhook event
 * to a local receiver that fails 1 % of the requests (so retries happen too).
 *
 * Writes the plot to docs/img/soak.svg and the figures to the "Soak" section of
 * docs/benchmarks.md (`--no-write` prints them only). `node dist/bench/soak.js --help` for flags.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { signChannel } from '../src/protocol/signatures.js';
import { installCleanup, killAllChildren, trackChild, trackDirectory, untrackDirectory } from './children.js';
import { currentLoad, machineInfo, type MachineInfo } from './machine.js';
import { freePort, processCpuMicros, processRssBytes } from './server-process.js';

const USAGE = `Usage: npm run soak -- [options]      (or: node dist/bench/soak.js [options])

  --minutes N          how long the load runs (default 10)
  --sample-seconds S   how often the server's memory is sampled (default 5)
  --server-core N      core to pin the server to with taskset (default 0; "none": not pinned)
  --svg PATH           where the plot goes (default docs/img/soak.svg)
  --markdown PATH      the file whose "## Soak" section is (re)written (default docs/benchmarks.md)
  --no-write           print the figures only; write neither file
  -h, --help           this text`;

/** The shape of the load (per second unless said otherwise); docs/benchmarks.md quotes these. */
const LOAD = {
  fanoutSubscribers: 300,
  inboxDevices: 200,
  presenceMembers: 50,
  clientEventSenders: 10,
  churnPerSecond: 10,
  churnLifetimeMs: 3_000,
  maxChurnOpen: 60,
  fanoutEventsPerSecond: 10,
  fanoutPayloadBytes: 200,
  pushesPerSecond: 10,
  opensPerSecond: 5,
  deletesPerSecond: 1,
  webhookFailureRate: 0.01,
} as const;

const APP = { id: 'soak', key: 'soak-key', secret: 'soak-secret' };
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

interface Options {
  readonly minutes: number;
  readonly sampleSeconds: number;
  readonly serverCore: number | null;
  readonly svg: string;
  readonly markdown: string;
  readonly write: boolean;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string' },
      'sample-seconds': { type: 'string' },
      'server-core': { type: 'string' },
      svg: { type: 'string' },
      markdown: { type: 'string' },
      'no-write': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return null;
  const number = (text: string | undefined, fallback: number, what: string): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${what} must be a positive number, not "${text}"`);
    return value;
  };
  const core = values['server-core'] ?? '0';
  if (core !== 'none' && !/^\d+$/.test(core)) throw new Error(`--server-core must be a core number or "none", not "${core}"`);
  return {
    minutes: number(values.minutes, 10, '--minutes'),
    sampleSeconds: number(values['sample-seconds'], 5, '--sample-seconds'),
    serverCore: core === 'none' ? null : Number(core),
    svg: resolve(values.svg ?? join(ROOT, 'docs/img/soak.svg')),
    markdown: resolve(values.markdown ?? join(ROOT, 'docs/benchmarks.md')),
    write: values['no-write'] !== true,
  };
}

/** Counters of what the load did and saw. */
const counts = {
  fanoutSent: 0,
  fanoutReceived: 0,
  clientEventsSent: 0,
  clientEventsReceived: 0,
  churnOpened: 0,
  churnSkipped: 0,
  pushes: 0,
  pushedNotifications: 0,
  liveNotifications: 0,
  opens: 0,
  deletes: 0,
  webhookRequests: 0,
  webhookRequestsFailed: 0,
  webhookEvents: 0,
  httpErrors: 0,
  socketErrors: 0,
};
const errorSamples: string[] = [];

function noteError(what: string): void {
  if (errorSamples.length < 10) errorSamples.push(what.slice(0, 300));
}

/** One memory sample of the server. */
interface Sample {
  readonly seconds: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  readonly connections: number;
  readonly webhookPending: number;
  readonly eventLoopLagP99Ms: number;
}

// ---------------------------------------------------------------------------------------------
// The server and the webhook receiver

interface Herald {
  readonly port: number;
  readonly pid: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

async function startHerald(dir: string, receiverUrl: string, core: number | null): Promise<Herald> {
  const port = await freePort();
  const appsFile = join(dir, 'apps.json');
  writeFileSync(
    appsFile,
    JSON.stringify({
      apps: [
        {
          ...APP,
          client_events: true,
          client_event_rate: 20,
          max_backend_events_per_second: null,
          max_read_requests_per_second: null,
          webhooks: [{ url: receiverUrl }],
        },
      ],
    }),
  );
  const cli = join(ROOT, 'dist/src/cli.js');
  const guard = pathToFileURL(join(ROOT, 'dist/bench/orphan-guard.js')).href;
  const nodeArgs = ['--import', guard, cli, 'start', '--host', '127.0.0.1', '--port', String(port), '--database-url', `sqlite:${join(dir, 'herald.db')}`, '--log-level', 'error', '--apps-file', appsFile];
  const pinned = core !== null && existsSync('/usr/bin/taskset');
  const child = pinned
    ? spawn('taskset', ['-c', String(core), process.execPath, ...nodeArgs], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  trackChild(child);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('Herald did not start within 15 s');
    await sleep(50);
  }
  return {
    port,
    pid: child.pid!,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      if (child.connected) child.disconnect();
    },
  };
}

/** A local webhook receiver: verifies nothing (the tests do), counts requests and events, fails 1 %. */
async function startReceiver(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      counts.webhookRequests++;
      if (Math.random() < LOAD.webhookFailureRate) {
        counts.webhookRequestsFailed++;
        res.writeHead(503).end();
        return;
      }
      try {
        counts.webhookEvents += (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: unknown[] }).events.length;
      } catch {
        noteError('webhook body is not JSON');
      }
      res.writeHead(200).end('ok');
    });
  });
  // Longer than the sender's idle keep-alive, as receivers behind load balancers usually are: no reset races.
  server.keepAliveTimeout = 65_000;
  const port = await freePort();
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', () => done()));
  return { url: `http://127.0.0.1:${port}/hook`, server };
}

// ---------------------------------------------------------------------------------------------
// The load

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A signed HTTP API request (Pusher query-string signature). */
async function api(port: number, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const fullPath = `/apps/${APP.id}${path}`;
  const params: Record<string, string> = { auth_key: APP.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: '1.0' };
  if (text !== undefined) params.body_md5 = createHash('md5').update(text).digest('hex');
  const keys = Object.keys(params).sort();
  const signature = createHmac('sha256', APP.secret).update(`${method}\n${fullPath}\n${keys.map((k) => `${k}=${params[k]}`).join('&')}`).digest('hex');
  const query = keys.map((k) => `${k}=${encodeURIComponent(params[k])}`).join('&');
  try {
    const response = await fetch(`http://127.0.0.1:${port}${fullPath}?${query}&auth_signature=${signature}`, {
      method,
      body: text,
      headers: text === undefined ? {} : { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(10_000),
    });
    const answer = await response.text();
    if (!response.ok && response.status !== 404) {
      counts.httpErrors++;
      noteError(`${method} ${path}: ${response.status} ${answer}`);
      return null;
    }
    return answer.length > 0 ? (JSON.parse(answer) as unknown) : null;
  } catch (error) {
    counts.httpErrors++;
    noteError(`${method} ${path}: ${(error as Error).message}`);
    return null;
  }
}

/** Opens a socket, subscribes it, and calls `onEvent` for every non-protocol event. */
function openSocket(port: number, channel: string, onEvent: (event: string, socket: WebSocket) => void, userId?: string): Promise<WebSocket> {
  return new Promise((done, fail) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/app/${APP.key}?protocol=7&client=soak&version=1`, { perMessageDeflate: false });
    const timer = setTimeout(() => fail(new Error(`no subscription to ${channel} within 10 s`)), 10_000);
    socket.on('error', (error) => {
      counts.socketErrors++;
      noteError(`socket: ${error.message}`);
      clearTimeout(timer);
      fail(error);
    });
    socket.on('message', (data) => {
      const text = data.toString();
      const event = /^\{"event":"([^"]+)"/.exec(text)?.[1] ?? '';
      if (event === 'pusher:connection_established') {
        const socketId = (JSON.parse((JSON.parse(text) as { data: string }).data) as { socket_id: string }).socket_id;
        const subscribe: Record<string, string> = { channel };
        if (channel.startsWith('presence-')) {
          subscribe.channel_data = JSON.stringify({ user_id: userId ?? socketId });
          subscribe.auth = signChannel(APP.key, APP.secret, socketId, channel, subscribe.channel_data);
        } else if (channel.startsWith('private-')) {
          subscribe.auth = signChannel(APP.key, APP.secret, socketId, channel);
        }
        socket.send(JSON.stringify({ event: 'pusher:subscribe', data: subscribe }));
      } else if (event === 'pusher_internal:subscription_succeeded') {
        clearTimeout(timer);
        done(socket);
      } else if (event === 'pusher:ping') {
        socket.send('{"event":"pusher:pong","data":{}}');
      } else if (event === 'pusher:error' || event === 'pusher:subscription_error') {
        if (!text.includes('rate limit')) noteError(text);
      } else if (!event.startsWith('pusher')) {
        onEvent(event, socket);
      }
    });
  });
}

/** Runs `task` about `perSecond` times a second until `stop`, spreading calls evenly. */
async function every(perSecond: number, stop: { done: boolean }, task: (i: number) => void | Promise<unknown>): Promise<void> {
  const interval = 1000 / perSecond;
  const started = performance.now();
  for (let i = 0; !stop.done; i++) {
    void Promise.resolve(task(i)).catch((error: unknown) => noteError(String(error)));
    const wait = started + (i + 1) * interval - performance.now();
    if (wait > 0) await sleep(wait);
  }
}

async function runLoad(port: number, stop: { done: boolean }): Promise<WebSocket[]> {
  const steady: WebSocket[] = [];
  const pad = 'x'.repeat(LOAD.fanoutPayloadBytes);
  for (let i = 0; i < LOAD.fanoutSubscribers; i++) {
    steady.push(await openSocket(port, 'soak-fanout', (event) => event === 'tick' && counts.fanoutReceived++));
  }
  for (let i = 0; i < LOAD.inboxDevices; i++) {
    steady.push(await openSocket(port, `private-user-${i}`, (event) => event === 'Internal Notification' && counts.liveNotifications++));
  }
  const members: WebSocket[] = [];
  for (let i = 0; i < LOAD.presenceMembers; i++) {
    members.push(await openSocket(port, 'presence-soak-room', (event) => event === 'client-move' && counts.clientEventsReceived++, `member-${i}`));
  }
  steady.push(...members);
  process.stderr.write(`soak: ${steady.length} steady sockets open\n`);

  const notifications: { user: string; id: string }[] = [];
  let churnOpen = 0;
  let serial = 0;
  const tasks = [
    every(LOAD.fanoutEventsPerSecond, stop, async () => {
      counts.fanoutSent++;
      await api(port, 'POST', '/events', { name: 'tick', channel: 'soak-fanout', data: JSON.stringify({ t: Date.now(), pad }) });
    }),
    every(LOAD.clientEventSenders, stop, (i) => {
      const member = members[i % LOAD.clientEventSenders];
      if (member.readyState !== WebSocket.OPEN) return;
      counts.clientEventsSent++;
      member.send(JSON.stringify({ event: 'client-move', channel: 'presence-soak-room', data: { x: i % 100, y: i % 37 } }));
    }),
    every(LOAD.churnPerSecond, stop, async (i) => {
      if (churnOpen >= LOAD.maxChurnOpen) {
        counts.churnSkipped++;
        return;
      }
      churnOpen++;
      try {
        const channel = i % 2 === 0 ? `private-churn-${i}` : `presence-churn-${i % 20}`;
        const socket = await openSocket(port, channel, () => undefined, `churner-${i}`);
        counts.churnOpened++;
        await sleep(LOAD.churnLifetimeMs);
        socket.close();
      } finally {
        churnOpen--;
      }
    }),
    every(LOAD.pushesPerSecond, stop, async (i) => {
      const id = `n-${serial++}`;
      const users = i % 5 === 0 ? Array.from({ length: 20 }, (_, k) => `user-${(i + k * 7) % LOAD.inboxDevices}`) : [`user-${i % LOAD.inboxDevices}`];
      const notification: Record<string, unknown> = { id, content: `soak ${id}`, payload: { i } };
      if (i % 20 === 0) notification.send_after = new Date(Date.now() + 30_000).toISOString();
      const answer = (await api(port, 'POST', '/notifications', { user_ids: users, notification })) as { notifications?: unknown[] } | null;
      if (!answer) return;
      counts.pushes++;
      counts.pushedNotifications += answer.notifications?.length ?? 0;
      for (const user of users) notifications.push({ user, id });
      // Keep the ids to open or delete bounded: the store keeps growing, the load's memory does not.
      if (notifications.length > 20_000) notifications.splice(0, notifications.length - 20_000);
    }),
    every(LOAD.opensPerSecond, stop, async (i) => {
      const target = notifications[Math.floor(Math.random() * notifications.length)];
      if (!target) return;
      counts.opens++;
      await api(port, 'POST', `/users/${target.user}/notifications/open`, i % 10 === 0 ? { all: true } : { ids: [target.id] });
    }),
    every(LOAD.deletesPerSecond, stop, async () => {
      const target = notifications.shift();
      if (!target) return;
      counts.deletes++;
      await api(port, 'DELETE', `/users/${target.user}/notifications/${target.id}`);
    }),
  ];
  await Promise.all(tasks);
  return steady;
}

// ---------------------------------------------------------------------------------------------
// Sampling

async function sample(port: number, pid: number, seconds: number): Promise<Sample | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    const value = (series: string): number => {
      let total = 0;
      for (const line of text.split('\n')) if (line.startsWith(series)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
      return total;
    };
    return {
      seconds,
      rssBytes: processRssBytes(pid),
      heapUsedBytes: value('nodejs_heap_size_used_bytes '),
      heapTotalBytes: value('nodejs_heap_size_total_bytes '),
      connections: value('herald_connections{'),
      webhookPending: value('herald_webhook_queue_depth{state="pending"}'),
      eventLoopLagP99Ms: value('nodejs_eventloop_lag_p99_seconds ') * 1000,
    };
  } catch (error) {
    noteError(`sample: ${(error as Error).message}`);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Figures, plot and report

const MB = 1024 * 1024;
const round1 = (value: number) => Math.round(value * 10) / 10;
const round2 = (value: number) => Math.round(value * 100) / 100;
const signed = (value: number) => `${value >= 0 ? '+' : ''}${round2(value)}`;

/** Least-squares slope of y over x. */
function slope(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

/** The lowest heap sample of each minute: the heap after its collections, where a leak shows. */
function heapFloors(samples: readonly Sample[]): [number, number][] {
  const byMinute = new Map<number, number>();
  for (const s of samples) {
    const minute = Math.floor(s.seconds / 60);
    byMinute.set(minute, Math.min(byMinute.get(minute) ?? Number.POSITIVE_INFINITY, s.heapUsedBytes));
  }
  return [...byMinute].map(([minute, bytes]) => [minute + 0.5, bytes / MB]);
}

interface Figures {
  readonly warmSeconds: number;
  readonly rss: { readonly warm: number; readonly end: number; readonly max: number; readonly slopeSecondHalf: number };
  readonly heap: { readonly floorFirst: number; readonly floorLast: number; readonly max: number; readonly floorSlope: number };
  readonly maxConnections: number;
  readonly maxWebhookPending: number;
  readonly lagP99Max: number;
}

function figures(samples: readonly Sample[]): Figures {
  const warm = samples.find((s) => s.seconds >= 60) ?? samples[0];
  const last = samples[samples.length - 1];
  const half = samples.filter((s) => s.seconds >= last.seconds / 2);
  const floors = heapFloors(samples.filter((s) => s.seconds >= warm.seconds));
  return {
    warmSeconds: warm.seconds,
    rss: {
      warm: warm.rssBytes / MB,
      end: last.rssBytes / MB,
      max: Math.max(...samples.map((s) => s.rssBytes)) / MB,
      slopeSecondHalf: slope(half.map((s) => [s.seconds / 60, s.rssBytes / MB])),
    },
    heap: {
      floorFirst: floors[0]?.[1] ?? Number.NaN,
      floorLast: floors[floors.length - 1]?.[1] ?? Number.NaN,
      max: Math.max(...samples.map((s) => s.heapUsedBytes)) / MB,
      floorSlope: slope(floors),
    },
    maxConnections: Math.max(...samples.map((s) => s.connections)),
    maxWebhookPending: Math.max(...samples.map((s) => s.webhookPending)),
    lagP99Max: Math.max(...samples.map((s) => s.eventLoopLagP99Ms)),
  };
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The plot: RSS, heap total and heap used (MB) against minutes, hand-written SVG. */
function plot(samples: readonly Sample[], title: string, subtitle: string): string {
  const width = 900;
  const height = 440;
  const left = 70;
  const right = 170;
  const top = 60;
  const bottom = 50;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const maxMinutes = Math.max(1, samples[samples.length - 1].seconds / 60);
  const maxMb = Math.max(...samples.map((s) => Math.max(s.rssBytes, s.heapTotalBytes))) / MB;
  const yStep = maxMb > 400 ? 100 : maxMb > 200 ? 50 : maxMb > 80 ? 20 : 10;
  const yMax = Math.ceil((maxMb * 1.05) / yStep) * yStep;
  const xStep = maxMinutes > 30 ? 10 : maxMinutes > 10 ? 5 : maxMinutes > 4 ? 1 : 0.5;
  const x = (minutes: number) => left + (minutes / maxMinutes) * plotWidth;
  const y = (mb: number) => top + plotHeight - (mb / yMax) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="24" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${left}" y="44" fill="#555555">${escapeXml(subtitle)}</text>`,
  ];
  for (let mb = 0; mb <= yMax; mb += yStep) {
    parts.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${y(mb).toFixed(1)}" y2="${y(mb).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 8}" y="${(y(mb) + 4).toFixed(1)}" text-anchor="end" fill="#333333">${mb}</text>`);
  }
  for (let minute = 0; minute <= maxMinutes + 1e-9; minute += xStep) {
    parts.push(`<line x1="${x(minute).toFixed(1)}" x2="${x(minute).toFixed(1)}" y1="${top}" y2="${top + plotHeight}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${x(minute).toFixed(1)}" y="${top + plotHeight + 18}" text-anchor="middle" fill="#333333">${round1(minute)}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999999"/>`);
  parts.push(`<text x="${left + plotWidth / 2}" y="${height - 10}" text-anchor="middle">minutes</text>`);
  parts.push(`<text transform="translate(18 ${top + plotHeight / 2}) rotate(-90)" text-anchor="middle">MB</text>`);
  const series: [string, string, string, (s: Sample) => number][] = [
    ['RSS', '#1f6fb4', '', (s) => s.rssBytes],
    ['V8 heap total', '#2a9d4b', '6 4', (s) => s.heapTotalBytes],
    ['V8 heap used', '#e07b00', '', (s) => s.heapUsedBytes],
  ];
  series.forEach(([name, color, dash, value], index) => {
    const points = samples.map((s) => `${x(s.seconds / 60).toFixed(1)},${y(value(s) / MB).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${points}"/>`);
    const ly = top + 14 + index * 20;
    parts.push(`<line x1="${left + plotWidth + 16}" x2="${left + plotWidth + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    parts.push(`<text x="${left + plotWidth + 46}" y="${ly + 4}">${name}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function markdown(options: Options, machine: MachineInfo, loadAtEnd: string, started: Date, samples: readonly Sample[], f: Figures, durationSeconds: number, cpuSeconds: number): string {
  const date = started.toISOString().replace('T', ' ').slice(0, 16);
  const minutes = round1(durationSeconds / 60);
  const perSecond = (count: number) => Math.round(count / durationSeconds).toLocaleString('en-US');
  const lines = [
    '## Soak',
    '',
    '`npm run soak` (bench/soak.ts) runs a bounded mixed load against one Herald process for 10 minutes',
    '(`npm run soak -- --minutes 30` for longer) and samples the server\'s RSS (`/proc/<pid>/status`) and V8 heap',
    `(its own \`/metrics\`) every ${options.sampleSeconds} s. Each run rewrites the plot below and this section (\`--no-write\` only`,
    'prints), and keeps its samples in `bench/results/soak-<time>.json`.',
    'The server runs pinned to core 0 with a temp SQLite database; the load runs in the soak process:',
    '',
    `- steady sockets: ${LOAD.fanoutSubscribers} on a public fan-out channel, ${LOAD.inboxDevices} inbox devices (each on its \`private-user-N\`), ${LOAD.presenceMembers} presence members;`,
    `- churn: ${LOAD.churnPerSecond} connections a second, each on its own private or presence channel for ${LOAD.churnLifetimeMs / 1000} s (at most ${LOAD.maxChurnOpen} open);`,
    `- fan-out: ${LOAD.fanoutEventsPerSecond} events/s of ${LOAD.fanoutPayloadBytes} bytes over \`POST /events\`; client events: ${LOAD.clientEventSenders}/s on the presence channel;`,
    `- inbox: ${LOAD.pushesPerSecond} pushes/s (every fifth to 20 users, every twentieth scheduled 30 s ahead), ${LOAD.opensPerSecond} opens/s, ${LOAD.deletesPerSecond} delete/s;`,
    `- webhooks: every event to a local receiver that answers 503 to ${LOAD.webhookFailureRate * 100} % of the requests, so retries run too.`,
    '',
    `### Recorded run: ${date} UTC`,
    '',
    `- Machine: ${machine.nproc} cores, "${machine.cpu_model}", ${machine.ram_gb} GB RAM, Linux ${machine.kernel}, Node ${machine.node}; commit ${machine.commit}.`,
    `- Load from other processes: \`${machine.uptime}\` at the start, \`${loadAtEnd}\` at the end. The machine is shared: other sessions' tests and benchmarks ran during the soak.`,
    `- ${minutes} minutes, ${samples.length} samples; server CPU ${round1(cpuSeconds)} s (${round1((cpuSeconds / durationSeconds) * 100)} % of a core).`,
    '',
    '![Server RSS and V8 heap during the soak](img/soak.svg)',
    '',
    '| figure | value |',
    '| --- | ---: |',
    `| RSS after the first minute (warm) | ${round1(f.rss.warm)} MB |`,
    `| RSS at the end | ${round1(f.rss.end)} MB |`,
    `| RSS highest | ${round1(f.rss.max)} MB |`,
    `| RSS trend over the second half | ${signed(f.rss.slopeSecondHalf)} MB/min |`,
    `| heap used after collection, first minute after warm-up (lowest sample of the minute) | ${round1(f.heap.floorFirst)} MB |`,
    `| heap used after collection, last minute | ${round1(f.heap.floorLast)} MB |`,
    `| heap used, trend of the per-minute lows | ${signed(f.heap.floorSlope)} MB/min |`,
    `| heap used highest | ${round1(f.heap.max)} MB |`,
    `| connections open (highest sample) | ${f.maxConnections.toLocaleString('en-US')} |`,
    `| webhook batches pending in the outbox (highest sample) | ${f.maxWebhookPending} |`,
    `| event loop lag p99 (highest sample) | ${round1(f.lagP99Max)} ms |`,
    '',
    'Work done in the run:',
    '',
    '| | total | per second |',
    '| --- | ---: | ---: |',
    `| fan-out events sent / delivered | ${counts.fanoutSent.toLocaleString('en-US')} / ${counts.fanoutReceived.toLocaleString('en-US')} | ${perSecond(counts.fanoutReceived)} delivered |`,
    `| client events sent / delivered | ${counts.clientEventsSent.toLocaleString('en-US')} / ${counts.clientEventsReceived.toLocaleString('en-US')} | ${perSecond(counts.clientEventsReceived)} delivered |`,
    `| churn connections (skipped while ${LOAD.maxChurnOpen} were open) | ${counts.churnOpened.toLocaleString('en-US')} (${counts.churnSkipped.toLocaleString('en-US')}) | ${perSecond(counts.churnOpened)} |`,
    `| pushes / notifications stored / delivered live | ${counts.pushes.toLocaleString('en-US')} / ${counts.pushedNotifications.toLocaleString('en-US')} / ${counts.liveNotifications.toLocaleString('en-US')} | ${perSecond(counts.pushes)} pushes |`,
    `| opens / deletes | ${counts.opens.toLocaleString('en-US')} / ${counts.deletes.toLocaleString('en-US')} | |`,
    `| webhook requests (503 on purpose) / events delivered | ${counts.webhookRequests.toLocaleString('en-US')} (${counts.webhookRequestsFailed}) / ${counts.webhookEvents.toLocaleString('en-US')} | ${perSecond(counts.webhookEvents)} events |`,
    `| HTTP errors / socket errors seen by the load | ${counts.httpErrors} / ${counts.socketErrors} | |`,
    '',
  ];
  if (errorSamples.length > 0) lines.push('First errors seen by the load:', '', ...errorSamples.map((e) => `- \`${e.replace(/`/g, "'")}\``), '');
  return lines.join('\n');
}

/** Replaces the `## Soak` section of a markdown file (up to the next `## ` heading), or appends it. */
function writeSection(path: string, section: string): void {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const start = text.search(/^## Soak$/m);
  if (start === -1) {
    writeFileSync(path, `${text.trimEnd()}\n\n${section.trimEnd()}\n`);
    return;
  }
  const rest = text.slice(start + 1);
  const next = rest.search(/^## /m);
  const end = next === -1 ? text.length : start + 1 + next;
  writeFileSync(path, `${text.slice(0, start)}${section.trimEnd()}\n${end < text.length ? `\n${text.slice(end)}` : ''}`);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  let options: Options | null;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`soak: ${(error as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  installCleanup();
  const machine = machineInfo();
  const started = new Date();
  const dir = mkdtempSync(join(tmpdir(), 'herald-soak-'));
  trackDirectory(dir);
  const receiver = await startReceiver();
  const herald = await startHerald(dir, receiver.url, options.serverCore);
  const cpuAtStart = processCpuMicros(herald.pid);
  const startedAt = performance.now();
  const durationMs = options.minutes * 60_000;
  process.stderr.write(`soak: Herald pid ${herald.pid} on port ${herald.port}; ${options.minutes} min, sampling every ${options.sampleSeconds} s\n`);

  const samples: Sample[] = [];
  const first = await sample(herald.port, herald.pid, 0);
  if (first) samples.push(first);
  const stop = { done: false };
  const load = runLoad(herald.port, stop);
  let nextReport = 60;
  while (performance.now() - startedAt < durationMs) {
    await sleep(options.sampleSeconds * 1000 - ((performance.now() - startedAt) % (options.sampleSeconds * 1000)));
    const seconds = (performance.now() - startedAt) / 1000;
    const s = await sample(herald.port, herald.pid, seconds);
    if (s) samples.push(s);
    if (s && seconds >= nextReport) {
      nextReport += 60;
      process.stderr.write(
        `soak: ${round1(seconds / 60)} min  RSS ${round1(s.rssBytes / MB)} MB  heap ${round1(s.heapUsedBytes / MB)}/${round1(s.heapTotalBytes / MB)} MB  ` +
          `${s.connections} conns  fan-out ${counts.fanoutReceived}  pushes ${counts.pushes}  webhook events ${counts.webhookEvents}  errors ${counts.httpErrors + counts.socketErrors}\n`,
      );
    }
  }
  stop.done = true;
  const steady = await load;
  const durationSeconds = (performance.now() - startedAt) / 1000;
  const cpuSeconds = (processCpuMicros(herald.pid) - cpuAtStart) / 1e6;
  const loadAtEnd = currentLoad().uptime;
  for (const socket of steady) socket.close();
  await herald.stop();
  await new Promise<void>((done) => receiver.server.close(() => done()));
  receiver.server.closeAllConnections();
  rmSync(dir, { recursive: true, force: true });
  untrackDirectory(dir);

  if (samples.length < 2) throw new Error('too few samples to report');
  const f = figures(samples);
  const section = markdown(options, machine, loadAtEnd, started, samples, f, durationSeconds, cpuSeconds);
  const svg = plot(samples, `Herald soak: server memory over ${round1(durationSeconds / 60)} minutes of mixed load`, `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine.nproc} cores (${machine.cpu_model}), Node ${machine.node}, commit ${machine.commit}`);
  process.stdout.write(`${section}\n`);
  const resultsDir = join(ROOT, 'bench/results');
  if (existsSync(resultsDir)) {
    const file = join(resultsDir, `soak-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify({ started: started.toISOString(), machine, load: LOAD, counts, figures: f, samples }, null, 1)}\n`);
    process.stderr.write(`soak: samples in ${file}\n`);
  }
  if (options.write) {
    writeFileSync(options.svg, svg);
    writeSection(options.markdown, section);
    process.stderr.write(`soak: wrote ${options.svg} and the "Soak" section of ${options.markdown}\n`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`soak: ${(error as Error)?.stack ?? String(error)}\n`);
    killAllChildren();
    process.exit(1);
  },
);
