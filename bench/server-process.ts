/** Starts a Herald server process for benchmarks, pinned to one core, and reads its CPU and memory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A server under test. */
export interface ServerProcess {
  readonly port: number;
  readonly pid: number;
  /** CPU time (user + system) used so far, in microseconds. */
  cpuMicros(): number;
  /** Resident set size in bytes. */
  rssBytes(): number;
  stop(): Promise<void>;
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

/** Reads VmRSS of a process, in bytes. */
export function processRssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Starts `herald start` on a temp database, pinned to `core` with taskset, and waits until it answers. */
export async function startHeraldProcess(options: { core?: number; env?: Record<string, string> } = {}): Promise<ServerProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
  const args = ['-c', String(options.core ?? 0), process.execPath, cli, 'start', '--host', '127.0.0.1', '--port', String(port), '--database-url', `sqlite:${join(dir, 'herald.db')}`, '--log-level', 'warn'];
  const child: ChildProcess = spawn('taskset', args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, HERALD_APP_ID: 'bench', HERALD_APP_KEY: 'bench-key', HERALD_APP_SECRET: 'bench-secret', ...options.env },
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('Herald did not start within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const pid = child.pid!;
  return {
    port,
    pid,
    cpuMicros: () => processCpuMicros(pid),
    rssBytes: () => processRssBytes(pid),
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The value at a percentile of sorted numbers. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
