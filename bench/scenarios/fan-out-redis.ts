/**
 * Fan-out across two nodes through Redis (`--scenario fan-out-redis`): two Herald processes
 * started with a Redis URL (`HERALD_BENCH_REDIS_URL`, default redis://127.0.0.1:6379) and a key
 * prefix of their own, the subscribers on node 2, the events triggered over the HTTP API of node
 * 1, so every event crosses Redis once and is fanned out by node 2.
 *
 * Each run measures the one-node fan-out first, at the same sizes, on the runner's Herald (no
 * Redis), then the pair, so that the extra CPU Redis adds is taken on the same machine minutes
 * apart: (node 1 + node 2 CPU) per delivered message minus the one node's. The pair is pinned to
 * the core the runner pinned the one node to (both on it), the load stays on the load core;
 * the one node is paused (SIGSTOP) while the pair runs so that it takes nothing from them.
 * redis-server's own CPU over the window (`INFO cpu`) is reported apart: the Redis may be
 * shared with other clients, and it is not pinned by the benchmark.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { ChannelPlan, TriggerPlan } from '../load/commands.js';
import { processCpuMicros, processRssBytes, processRunQueueWaitMicros, startHeraldProcess, type ServerProcess } from '../server-process.js';
import { round, sleep, withPool, type ScenarioContext, type ScenarioResult, type ServerUnderTest } from './context.js';
import { deliveryDetails, runDelivery } from './delivery.js';
import { fanOutLabel } from './fan-out.js';
import { awaitDeliveries, collectStats, connectSubscribers, resetCounters } from './subscribers.js';

export const DEFAULT_BENCH_REDIS_URL = 'redis://127.0.0.1:6379';

/** As in delivery.ts, so that the one-node and two-node runs are measured alike. */
const SETTLE_MS = 1_000;
const MAX_IN_FLIGHT = 64;

/** The server column of the two-node row. */
export const PAIR_SERVER = 'herald x2 + redis';

export function fanOutRedisLabels(subscribers: number, rate: number): { single: string; pair: string } {
  const base = fanOutLabel(subscribers, rate).replace(/^fan-out/, 'fan-out-redis');
  return { single: `${base}, 1 node`, pair: `${base}, 2 nodes via Redis` };
}

/** The first core a process may run on (`Cpus_allowed_list`), or `fallback`. */
function coreOf(pid: number | null, fallback: number): number {
  if (pid === null) return fallback;
  try {
    const match = /Cpus_allowed_list:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : fallback;
  } catch {
    return fallback;
  }
}

/** Connects to the benchmark's Redis, or fails saying which URL did not answer. */
async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: 5_000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new Error(`fan-out-redis needs Redis: ${url} did not answer (${(error as Error).message}); start one or set HERALD_BENCH_REDIS_URL`);
  }
}

/** redis-server's CPU time so far (user + system, `INFO cpu`), in microseconds. */
async function redisCpuMicros(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1_000_000;
}

/** Deletes the keys the pair left under its prefix (their shares are gone after SIGTERM; this removes the rest). */
async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

function asUnderTest(name: string, server: ServerProcess): ServerUnderTest {
  return { name, address: { host: server.host, port: server.port, app: server.app }, pid: server.pid };
}

/** One rate: the one-node fan-out on the runner's Herald, then the same on the pair; two rows. */
export async function runFanOutRedis(ctx: ScenarioContext, rate: number): Promise<ScenarioResult[]> {
  const url = process.env.HERALD_BENCH_REDIS_URL ?? DEFAULT_BENCH_REDIS_URL;
  const redis = await connectRedis(url);
  try {
    const { sizes } = ctx;
    const labels = fanOutRedisLabels(sizes.fanOutSubscribers, rate);
    const channel = 'bench-fan-out';
    const channels: ChannelPlan = { kind: 'shared', channel };
    const trigger = { channels, events: Math.round(rate * sizes.durationS), rate, batchSize: 1, payloadBytes: sizes.payloadBytes };

    ctx.log('one node, no Redis');
    const single = await runDelivery(ctx, { scenario: 'fan-out-redis', label: labels.single, sockets: sizes.fanOutSubscribers, channels, trigger });

    const core = coreOf(ctx.server.pid, 0);
    const prefix = `herald-bench:${randomBytes(4).toString('hex')}:`;
    const env = { HERALD_REDIS_URL: url, HERALD_REDIS_PREFIX: prefix };
    const pausedPid = ctx.server.pid;
    if (pausedPid !== null) process.kill(pausedPid, 'SIGSTOP');
    const started: ServerProcess[] = [];
    try {
      ctx.log(`two nodes on core ${core} through ${url} (prefix ${prefix})`);
      const node1 = await startHeraldProcess({ core, env });
      started.push(node1);
      const node2 = await startHeraldProcess({ core, env });
      started.push(node2);
      const pair = await measurePair(ctx, asUnderTest('node 1 (triggers)', node1), asUnderTest('node 2 (subscribers)', node2), redis, { label: labels.pair, channels, trigger });
      return [single, withExtra(pair, single, { core, url, prefix })];
    } finally {
      await Promise.allSettled(started.map((server) => server.stop()));
      if (pausedPid !== null) process.kill(pausedPid, 'SIGCONT');
      await deletePrefix(redis, prefix).catch(() => undefined);
    }
  } finally {
    redis.disconnect();
  }
}

/** Adds what Redis costs, against the one-node row, to the two-node row. */
function withExtra(pair: ScenarioResult, single: ScenarioResult, setup: { core: number; url: string; prefix: string }): ScenarioResult {
  const pairCpu = pair.server_cpu_us_per_msg;
  const singleCpu = single.server_cpu_us_per_msg;
  const extra = pairCpu === null || singleCpu === null ? null : round(pairCpu - singleCpu, 3);
  const perEvent = extra === null ? null : round(extra * pair.sockets, 1);
  const pct = extra === null || !singleCpu ? null : round((extra / singleCpu) * 100, 1);
  const notes = [...pair.notes];
  if (extra !== null) notes.unshift(`vs 1 node: ${extra >= 0 ? '+' : ''}${extra} µs CPU per delivered message (${pct} %), ${perEvent} µs per event, both nodes summed`);
  return {
    ...pair,
    notes,
    details: {
      ...pair.details,
      one_node_cpu_us_per_msg: singleCpu,
      extra_cpu_us_per_msg: extra,
      extra_cpu_us_per_event: perEvent,
      extra_cpu_pct: pct,
      pinning: `both nodes on core ${setup.core}, load on its own core; redis-server not pinned`,
      redis_url: setup.url,
      redis_prefix: setup.prefix,
    },
  };
}

interface PairRun {
  readonly label: string;
  readonly channels: ChannelPlan;
  readonly trigger: Omit<TriggerPlan, 'maxInFlight' | 'timeoutMs'>;
}

const cpuOf = (server: ServerUnderTest) => processCpuMicros(server.pid!);
const waitOf = (server: ServerUnderTest) => processRunQueueWaitMicros(server.pid!);

/** delivery.ts's measured core, with the sockets on node 2, the triggers on node 1, and both nodes' CPU. */
async function measurePair(ctx: ScenarioContext, node1: ServerUnderTest, node2: ServerUnderTest, redis: Redis, run: PairRun): Promise<ScenarioResult> {
  return withPool(ctx, async (pool) => {
    const sockets = ctx.sizes.fanOutSubscribers;
    const rssBefore = processRssBytes(node2.pid!);
    const group = await connectSubscribers({ ...ctx, server: node2 }, pool, sockets, run.channels);
    if (group.connected === 0) throw new Error(`no subscriber could connect to node 2: ${group.firstError}`);
    ctx.log(`${group.connected} subscribed on node 2 in ${Math.round(group.elapsedMs)} ms${group.failed ? `, ${group.failed} failed (${group.firstError})` : ''}`);
    const publisher = pool.spawn('publisher');
    await sleep(SETTLE_MS);
    const rssConnected = processRssBytes(node2.pid!);
    await resetCounters(group);

    const durationMs = (run.trigger.events / run.trigger.rate) * 1000;
    const plan: TriggerPlan = { ...run.trigger, maxInFlight: MAX_IN_FLIGHT, timeoutMs: durationMs * 2 + 5_000 };
    const cpu1Before = cpuOf(node1);
    const cpu2Before = cpuOf(node2);
    const redisBefore = await redisCpuMicros(redis);
    const loadBefore = pool.cpuMicros();
    const wait1Before = waitOf(node1);
    const wait2Before = waitOf(node2);
    const loadWaitBefore = pool.runQueueWaitMicros();
    const startedAt = performance.now();
    const sent = await publisher.request({ cmd: 'trigger', server: node1.address, plan }, plan.timeoutMs + 60_000);
    const expected = Math.round(sent.accepted * group.connected);
    await awaitDeliveries(group, Math.round((sent.accepted + sent.unanswered) * group.connected));
    const cpu1 = cpuOf(node1) - cpu1Before;
    const cpu2 = cpuOf(node2) - cpu2Before;
    const redisCpu = (await redisCpuMicros(redis)) - redisBefore;
    const windowMs = performance.now() - startedAt;
    const windowUs = windowMs * 1000;
    const loadCpu = pool.cpuMicros() - loadBefore;
    const wait1 = waitOf(node1) - wait1Before;
    const wait2 = waitOf(node2) - wait2Before;
    const loadWaited = pool.runQueueWaitMicros() - loadWaitBefore;
    const stats = await collectStats(group);

    const spanS = stats.lastAt > sent.firstSendAt ? (stats.lastAt - sent.firstSendAt) / 1000 : null;
    const summary = stats.latency.summary();
    const notes: string[] = [];
    const requests = sent.events;
    if (sent.unsent > 0) notes.push(`saturated: ${sent.events - sent.unsent} of ${sent.events} events sent in ${round(plan.timeoutMs / 1000)} s`);
    else if (sent.late > requests / 20) notes.push(`${sent.late} of ${requests} requests left more than one interval (${round(1000 / run.trigger.rate)} ms) after their slot`);
    if (sent.failedRequests > 0) notes.push(`${sent.failedRequests} trigger requests failed: ${sent.firstError}`);
    if (sent.unanswered > 0) notes.push(`${sent.unanswered} events were in requests without an answer, so they are not expected (they may still arrive)`);
    if (group.failed > 0) notes.push(`${group.failed} sockets failed to subscribe: ${group.firstError}`);
    if (stats.closedByServer > 0) notes.push(`${stats.closedByServer} sockets closed by the server`);
    if (stats.maxPerSocket > sent.events - sent.unsent) notes.push(`duplicates: a socket received ${stats.maxPerSocket} events, more than the ${sent.events - sent.unsent} sent`);
    const delivered = stats.delivered;
    ctx.log(
      `${delivered}/${expected} delivered, p50 ${summary.p50} ms, p99 ${summary.p99} ms, CPU node 1 ${round(cpu1 / 1000)} ms + node 2 ${round(cpu2 / 1000)} ms, redis-server ${round(redisCpu / 1000)} ms`,
    );
    const perMsg = (micros: number) => (delivered === 0 ? null : round(micros / delivered, 3));
    return {
      scenario: 'fan-out-redis',
      label: run.label,
      server: PAIR_SERVER,
      sockets: group.connected,
      expected,
      delivered,
      lost: Math.max(0, expected - delivered),
      delivered_per_s: spanS === null ? null : Math.round(delivered / spanS),
      latency_ms: summary,
      server_cpu_us_per_msg: perMsg(cpu1 + cpu2),
      server_rss_bytes_per_conn: Math.round((rssConnected - rssBefore) / group.connected),
      load_cpu_pct: round((loadCpu / windowUs) * 100, 1),
      // Both event loops share one core: their waits add up, so this can pass 100.
      cpu_wait_pct: { server: round(((wait1 + wait2) / windowUs) * 100, 1), load: round((loadWaited / windowUs) * 100, 1) },
      notes,
      details: {
        ...deliveryDetails(run.trigger.rate, sent, group, stats),
        node1_cpu_ms: round(cpu1 / 1000),
        node2_cpu_ms: round(cpu2 / 1000),
        node1_cpu_us_per_msg: perMsg(cpu1),
        node2_cpu_us_per_msg: perMsg(cpu2),
        node1_waited_for_cpu_pct: round((wait1 / windowUs) * 100, 1),
        node2_waited_for_cpu_pct: round((wait2 / windowUs) * 100, 1),
        redis_cpu_ms: round(redisCpu / 1000),
        redis_cpu_us_per_msg: perMsg(redisCpu),
        node2_rss_mb_connected: round(rssConnected / 1024 / 1024),
        window_s: round(windowMs / 1000),
        measured_at: new Date().toISOString(),
      },
    };
  });
}
