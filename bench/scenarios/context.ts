/** What every scenario gets (the server under test, sizes, cores) and what it reports. */
import type { LatencySummary } from '../histogram.js';
import type { ServerAddress } from '../load/commands.js';
import { LoadPool } from '../load/pool.js';
import { processCpuMicros, processRssBytes, processRunQueueWaitMicros } from '../server-process.js';

/** A running server the scenario measures; `pid` is null for a server whose process is not visible. */
export interface ServerUnderTest {
  /** `herald`, `floor`, or `target` for a server given with `--target`. */
  readonly name: string;
  readonly address: ServerAddress;
  readonly pid: number | null;
}

/** Sizes of every scenario (flags of bench/run.ts). */
export interface Sizes {
  readonly durationS: number;
  readonly payloadBytes: number;
  readonly fanOutSubscribers: number;
  readonly fanOutRates: readonly number[];
  readonly perUserUsers: number;
  readonly perUserRate: number;
  readonly batchSize: number;
  readonly inboxUsers: number;
  readonly inboxPushes: number;
  readonly idleConnections: number;
  readonly churnSubscribers: number;
  readonly churnEventRate: number;
  readonly churnConnectRate: number;
  readonly churnHoldMs: number;
}

export interface ScenarioContext {
  readonly server: ServerUnderTest;
  readonly sizes: Sizes;
  readonly loadCore: number;
  /** Load worker processes that hold subscriber sockets. */
  readonly subscriberWorkers: number;
  log(message: string): void;
}

/** One row of the report. */
export interface ScenarioResult {
  /** Scenario name (`fan-out`, `per-user`, `inbox`, `idle`, `churn`). */
  readonly scenario: string;
  /** The exact run, e.g. `fan-out 2000 subs x 20 ev/s`: rows of one label are compared to the floor. */
  readonly label: string;
  readonly server: string;
  /** Round of a repeated run (`--repeat`), from 0. */
  readonly round?: number;
  readonly sockets: number;
  readonly expected: number | null;
  readonly delivered: number | null;
  readonly lost: number | null;
  readonly delivered_per_s: number | null;
  /** Sender timestamp to receipt, in milliseconds. */
  readonly latency_ms: LatencySummary | null;
  readonly server_cpu_us_per_msg: number | null;
  readonly server_rss_bytes_per_conn: number | null;
  /** CPU of the load processes over the measured window, in % of one core: near 100 means the load, not the server, was the limit. */
  readonly load_cpu_pct: number | null;
  /**
   * Share of the measured window the server's event loop and the load workers spent runnable
   * but waiting for their core, in %: other processes' load. Load workers' waits add up, so
   * theirs can pass 100.
   */
  readonly cpu_wait_pct: { readonly server: number | null; readonly load: number | null };
  /** What a reader of the numbers must know, e.g. that the offered rate was not reached. */
  readonly notes: string[];
  readonly details: Record<string, unknown>;
}

/** Reads the server's CPU time (µs) and RSS (bytes), or null when its process is unknown. */
export function serverCpu(server: ServerUnderTest): number | null {
  return server.pid === null ? null : processCpuMicros(server.pid);
}

/** The server's event loop thread's time waiting for a CPU (µs), or null. */
export function serverWait(server: ServerUnderTest): number | null {
  return server.pid === null ? null : processRunQueueWaitMicros(server.pid);
}

export function serverRss(server: ServerUnderTest): number | null {
  return server.pid === null ? null : processRssBytes(server.pid);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `body` with a fresh pool of load workers, stopped afterwards whatever happens. */
export async function withPool<T>(ctx: ScenarioContext, body: (pool: LoadPool) => Promise<T>): Promise<T> {
  const pool = new LoadPool(ctx.loadCore);
  try {
    return await body(pool);
  } finally {
    await pool.stop();
  }
}

/** Splits `total` into `parts` nearly equal counts. */
export function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

export const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;
