/** Starts server processes for benchmarks (Herald, the floor), pinned to one core, and reads their CPU and memory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { appFileSchema } from '../src/config/apps.js';
import { trackChild, trackDirectory, untrackDirectory } from './children.js';

/** App credentials of a Pusher-compatible server. */
export interface AppCredentials {
  readonly id: string;
  readonly key: string;
  readonly secret: string;
}

/** The app the benchmark configures on the servers it starts. */
export const BENCH_APP: AppCredentials = { id: 'bench', key: 'bench-key', secret: 'bench-secret' };

/** A server under test. */
export interface ServerProcess {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly app: AppCredentials;
  /** CPU time (user + system) used so far, in microseconds. */
  cpuMicros(): number;
  /** Resident set size in bytes. */
  rssBytes(): number;
  stop(): Promise<void>;
}

/** Options of a server process the benchmark starts. */
export interface ServerProcessOptions {
  /** CPU core to pin the server to (default 0). */
  readonly core?: number;
  /** Extra environment. */
  readonly env?: Record<string, string>;
  /** Extra node flags, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
}

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const CLK_TCK = 100;

/** Reads utime + stime of a process from /proc, in microseconds. */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLK_TCK;
}

/**
 * Time the process's main thread (for Node, the event loop) spent runnable but waiting for a CPU,
 * in microseconds (`/proc/<pid>/schedstat`, second field): how much other processes on its core
 * held it back.
 */
export function processRunQueueWaitMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ');
  return Number(fields[1]) / 1000;
}

/** Reads VmRSS of a process, in bytes. */
export function processRssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

const STARTUP_MS = 15_000;
const STOP_MS = 15_000;

/**
 * Spawns `node [nodeArgs] script args` pinned to a core with taskset (which execs node, so the
 * child's pid is node's), with the orphan guard preloaded, and waits until `GET /health` answers.
 */
async function startPinnedServer(
  name: string,
  script: string,
  args: readonly string[],
  port: number,
  options: ServerProcessOptions,
  app: AppCredentials,
  onStopped: () => void = () => undefined,
): Promise<ServerProcess> {
  const guard = pathToFileURL(fileURLToPath(new URL('./orphan-guard.js', import.meta.url))).href;
  const child: ChildProcess = spawn('taskset', ['-c', String(options.core ?? 0), process.execPath, '--import', guard, ...(options.nodeArgs ?? []), script, ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...options.env },
  });
  trackChild(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_MS);
      await exited;
      clearTimeout(timer);
    }
    if (child.connected) child.disconnect();
    onStopped();
  };
  const deadline = Date.now() + STARTUP_MS;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      await response.arrayBuffer();
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`${name} did not start within ${STARTUP_MS / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const pid = child.pid!;
  return { host: '127.0.0.1', port, pid, app, cpuMicros: () => processCpuMicros(pid), rssBytes: () => processRssBytes(pid), stop };
}

/** Per-app rate limits the bench app switches off (those this Herald build knows): the benchmark measures delivery, not the limiter. */
const RATE_LIMIT_OPTIONS = ['max_backend_events_per_second', 'max_read_requests_per_second'];

/** The apps file of the bench app: default options but no rate limits. */
export function benchAppsFile(): string {
  const known = new Set(Object.keys(appFileSchema.shape));
  const unlimited = RATE_LIMIT_OPTIONS.filter((option) => known.has(option)).map((option) => [option, null]);
  return JSON.stringify({ apps: [{ ...BENCH_APP, ...Object.fromEntries(unlimited) }] });
}

/**
 * Starts `herald start` with the bench app on a temp database, pinned to `core` with taskset, and
 * waits until it answers. `cli` runs another build's `dist/src/cli.js` (`--baseline`).
 */
export async function startHeraldProcess(options: ServerProcessOptions & { readonly cli?: string; readonly databaseUrl?: string } = {}): Promise<ServerProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  trackDirectory(dir);
  const appsFile = join(dir, 'apps.json');
  writeFileSync(appsFile, benchAppsFile());
  const cli = options.cli ?? fileURLToPath(new URL('../src/cli.js', import.meta.url));
  const args = ['start', '--host', '127.0.0.1', '--port', String(port), '--database-url', options.databaseUrl ?? `sqlite:${join(dir, 'herald.db')}`, '--apps-file', appsFile, '--log-level', 'warn'];
  const env = { ...options.env };
  return startPinnedServer('Herald', cli, args, port, { ...options, env }, BENCH_APP, () => {
    rmSync(dir, { recursive: true, force: true });
    untrackDirectory(dir);
  });
}

/** Starts the floor server (bench/floor-server.ts), pinned like Herald. It accepts any app key and secret. */
export async function startFloorProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const port = await freePort();
  const script = fileURLToPath(new URL('./floor-server.js', import.meta.url));
  return startPinnedServer('the floor server', script, ['--host', '127.0.0.1', '--port', String(port)], port, options, BENCH_APP);
}

/** The value at a percentile of sorted numbers. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
