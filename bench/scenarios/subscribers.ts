/** Subscriber sockets spread over the scenario's subscriber workers. */
import { Histogram, type HistogramData } from '../histogram.js';
import type { ChannelPlan, StatsReply } from '../load/commands.js';
import type { LoadPool, LoadWorker } from '../load/pool.js';
import { split, type ScenarioContext } from './context.js';

const CONNECT_CONCURRENCY = 100;
const COMMAND_MS = 10_000;

/** The subscriber workers of a run and how many sockets they hold. */
export interface SubscriberGroup {
  readonly workers: LoadWorker[];
  readonly connected: number;
  readonly failed: number;
  readonly firstError: string | null;
  readonly elapsedMs: number;
  readonly subscribeLatency: Histogram;
}

/** Spawns the subscriber workers and opens `count` sockets, socket i on `channelOf(channels, i)`. */
export async function connectSubscribers(ctx: ScenarioContext, pool: LoadPool, count: number, channels: ChannelPlan): Promise<SubscriberGroup> {
  const counts = split(count, Math.max(1, Math.min(ctx.subscriberWorkers, count)));
  const workers = counts.map((_, w) => pool.spawn(`subscribers-${w}`));
  let firstIndex = 0;
  const timeoutMs = 60_000 + count * 20;
  const replies = await Promise.all(
    workers.map((worker, w) => {
      const request = worker.request({ cmd: 'connect', server: ctx.server.address, firstIndex, count: counts[w], channels, concurrency: CONNECT_CONCURRENCY }, timeoutMs);
      firstIndex += counts[w];
      return request;
    }),
  );
  return {
    workers,
    connected: replies.reduce((sum, reply) => sum + reply.connected, 0),
    failed: replies.reduce((sum, reply) => sum + reply.failed, 0),
    firstError: replies.find((reply) => reply.firstError !== null)?.firstError ?? null,
    elapsedMs: Math.max(...replies.map((reply) => reply.elapsedMs)),
    subscribeLatency: Histogram.merge(replies.map((reply) => reply.subscribeLatency)),
  };
}

export async function resetCounters(group: SubscriberGroup): Promise<void> {
  await Promise.all(group.workers.map((worker) => worker.request({ cmd: 'reset' }, COMMAND_MS)));
}

export async function deliveredSoFar(group: SubscriberGroup): Promise<number> {
  const replies = await Promise.all(group.workers.map((worker) => worker.request({ cmd: 'progress' }, COMMAND_MS)));
  return replies.reduce((sum, reply) => sum + reply.delivered, 0);
}

/**
 * Waits until `expected` events are delivered, or nothing more arrives for `quietMs`, or
 * `maxMs` pass.
 */
export async function awaitDeliveries(group: SubscriberGroup, expected: number, quietMs = 2_000, maxMs = 20_000): Promise<void> {
  const started = performance.now();
  let last = -1;
  let lastChange = started;
  for (;;) {
    const delivered = await deliveredSoFar(group);
    const now = performance.now();
    if (delivered >= expected || now - started > maxMs) return;
    if (delivered !== last) {
      last = delivered;
      lastChange = now;
    } else if (now - lastChange > quietMs) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The subscribers' counts merged across workers. */
export interface MergedStats {
  readonly delivered: number;
  readonly reordered: number;
  readonly minPerSocket: number;
  readonly maxPerSocket: number;
  readonly lastAt: number;
  readonly latency: Histogram;
  readonly pusherErrors: number;
  readonly firstPusherError: string | null;
  readonly closedByServer: number;
}

export async function collectStats(group: SubscriberGroup): Promise<MergedStats> {
  const replies: StatsReply[] = await Promise.all(group.workers.map((worker) => worker.request({ cmd: 'stats' }, COMMAND_MS)));
  const histograms: HistogramData[] = replies.map((reply) => reply.latency);
  return {
    delivered: replies.reduce((sum, reply) => sum + reply.delivered, 0),
    reordered: replies.reduce((sum, reply) => sum + reply.reordered, 0),
    minPerSocket: Math.min(...replies.map((reply) => reply.minPerSocket)),
    maxPerSocket: Math.max(...replies.map((reply) => reply.maxPerSocket)),
    lastAt: Math.max(...replies.map((reply) => reply.lastAt)),
    latency: Histogram.merge(histograms),
    pusherErrors: replies.reduce((sum, reply) => sum + reply.pusherErrors, 0),
    firstPusherError: replies.find((reply) => reply.firstPusherError !== null)?.firstPusherError ?? null,
    closedByServer: replies.reduce((sum, reply) => sum + reply.closedByServer, 0),
  };
}
