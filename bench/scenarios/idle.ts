/**
 * Scenario 4, idle: N sockets, each subscribed to its own private channel, doing nothing. Server
 * RSS per connection is (RSS at the end of the idle window - RSS before) / N, 7 s after the last
 * subscribe; `rss_per_conn_at_settle` is the same 2 s after it (the figure before Herald gave back its
 * young generation once quiet, src/ops/idle-memory-trim.ts). Also the server's CPU while they idle.
 */
import { round, serverCpu, serverRss, serverWait, sleep, withPool, type ScenarioContext, type ScenarioResult } from './context.js';
import { connectSubscribers } from './subscribers.js';

const SETTLE_MS = 2_000;
/**
 * Quiet time before the RSS "before": a server that gives back memory once quiet (Herald trims the
 * young generation it grew while starting) would otherwise be measured before its trim, and the
 * memory that trim frees would be counted as a saving per connection.
 */
const BASELINE_SETTLE_MS = 6_000;
const IDLE_WINDOW_MS = 5_000;

export function idleLabel(connections: number): string {
  return `idle ${connections} subscribed sockets`;
}

export function runIdle(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { server, sizes } = ctx;
  return withPool(ctx, async (pool) => {
    await sleep(BASELINE_SETTLE_MS);
    const rssBefore = serverRss(server);
    const cpuBeforeConnect = serverCpu(server);
    const group = await connectSubscribers(ctx, pool, sizes.idleConnections, { kind: 'per-socket', prefix: 'private-bench-idle-', count: sizes.idleConnections });
    const connectCpu = cpuBeforeConnect === null ? null : serverCpu(server)! - cpuBeforeConnect;
    ctx.log(`${group.connected} subscribed in ${Math.round(group.elapsedMs)} ms${group.failed ? `, ${group.failed} failed (${group.firstError})` : ''}`);
    if (group.connected === 0) throw new Error(`no socket could connect: ${group.firstError}`);
    await sleep(SETTLE_MS);
    const rssConnected = serverRss(server);
    const cpuBefore = serverCpu(server);
    const loadBefore = pool.cpuMicros();
    const waitBefore = serverWait(server);
    const loadWaitBefore = pool.runQueueWaitMicros();
    await sleep(IDLE_WINDOW_MS);
    const serverWaited = waitBefore === null ? null : serverWait(server)! - waitBefore;
    const loadWaited = pool.runQueueWaitMicros() - loadWaitBefore;
    const idleCpu = cpuBefore === null ? null : serverCpu(server)! - cpuBefore;
    const rssIdle = serverRss(server);
    const loadCpu = pool.cpuMicros() - loadBefore;
    const perConnectionAtSettle = rssBefore === null || rssConnected === null ? null : Math.round((rssConnected - rssBefore) / group.connected);
    const perConnection = rssBefore === null || rssIdle === null ? null : Math.round((rssIdle - rssBefore) / group.connected);
    ctx.log(`RSS per connection ${perConnection ?? 'n/a'} bytes (${perConnectionAtSettle ?? 'n/a'} bytes ${SETTLE_MS / 1000} s after the last subscribe)`);
    return {
      scenario: 'idle',
      label: idleLabel(sizes.idleConnections),
      server: server.name,
      sockets: group.connected,
      expected: null,
      delivered: null,
      lost: null,
      delivered_per_s: null,
      latency_ms: null,
      server_cpu_us_per_msg: null,
      server_rss_bytes_per_conn: perConnection,
      load_cpu_pct: round((loadCpu / (IDLE_WINDOW_MS * 1000)) * 100, 1),
      cpu_wait_pct: { server: serverWaited === null ? null : round((serverWaited / (IDLE_WINDOW_MS * 1000)) * 100, 1), load: round((loadWaited / (IDLE_WINDOW_MS * 1000)) * 100, 1) },
      notes: group.failed > 0 ? [`${group.failed} sockets failed to subscribe: ${group.firstError}`] : [],
      details: {
        subscribe_failed: group.failed,
        first_subscribe_error: group.firstError,
        connect_s: round(group.elapsedMs / 1000),
        connects_per_s: Math.round(group.connected / (group.elapsedMs / 1000)),
        subscribe_ms: group.subscribeLatency.summary(),
        server_cpu_us_per_connect: connectCpu === null ? null : Math.round(connectCpu / group.connected),
        server_rss_mb_before: rssBefore === null ? null : round(rssBefore / 1024 / 1024),
        server_rss_mb_connected: rssConnected === null ? null : round(rssConnected / 1024 / 1024),
        server_rss_mb_idle: rssIdle === null ? null : round(rssIdle / 1024 / 1024),
        rss_per_conn_at_settle: perConnectionAtSettle,
        idle_server_cpu_pct: idleCpu === null ? null : round((idleCpu / (IDLE_WINDOW_MS * 1000)) * 100, 2),
      },
    };
  });
}
