/**
 * The measured core of fan-out, per-user and churn: subscribers connect, the server's RSS is read,
 * events go out over the HTTP API at a fixed rate (with optional connection churn alongside), and
 * deliveries, latency and the server's CPU time over the window are collected.
 */
import type { ChannelPlan, ChurnPlan, ChurnReply, TriggerPlan, TriggerReply } from '../load/commands.js';
import { Histogram } from '../histogram.js';
import { nowMs } from '../payload.js';
import { round, serverCpu, serverRss, serverWait, sleep, withPool, type ScenarioContext, type ScenarioResult } from './context.js';
import { awaitDeliveries, collectStats, connectSubscribers, resetCounters, type MergedStats, type SubscriberGroup } from './subscribers.js';

export interface DeliveryRun {
  readonly scenario: string;
  readonly label: string;
  readonly sockets: number;
  /** The channel of each subscriber socket. */
  readonly channels: ChannelPlan;
  /** The events; `channels` of the trigger must address the subscribers' channels. */
  readonly trigger: Omit<TriggerPlan, 'maxInFlight' | 'timeoutMs'>;
  /** Connection churn while the events go out. */
  readonly churn?: Omit<ChurnPlan, 'durationMs'>;
}

const SETTLE_MS = 1_000;
const MAX_IN_FLIGHT = 64;

export async function runDelivery(ctx: ScenarioContext, run: DeliveryRun): Promise<ScenarioResult> {
  return withPool(ctx, async (pool) => {
    const { server } = ctx;
    const rssBefore = serverRss(server);
    const group = await connectSubscribers(ctx, pool, run.sockets, run.channels);
    if (group.connected === 0) throw new Error(`no subscriber could connect: ${group.firstError}`);
    ctx.log(`${group.connected} subscribed in ${Math.round(group.elapsedMs)} ms${group.failed ? `, ${group.failed} failed (${group.firstError})` : ''}`);
    const publisher = pool.spawn('publisher');
    const churner = run.churn ? pool.spawn('churn') : null;
    await sleep(SETTLE_MS);
    const rssConnected = serverRss(server);
    await resetCounters(group);

    const durationMs = (run.trigger.events / run.trigger.rate) * 1000;
    const plan: TriggerPlan = { ...run.trigger, maxInFlight: MAX_IN_FLIGHT, timeoutMs: durationMs * 2 + 5_000 };
    const cpuBefore = serverCpu(server);
    const loadBefore = pool.cpuMicros();
    const serverWaitBefore = serverWait(server);
    const loadWaitBefore = pool.runQueueWaitMicros();
    const startedAt = performance.now();
    const churnDone: Promise<ChurnReply> | null = churner && run.churn ? churner.request({ cmd: 'churn', server: server.address, plan: { ...run.churn, durationMs } }, durationMs + 60_000) : null;
    const sent = await publisher.request({ cmd: 'trigger', server: server.address, plan }, plan.timeoutMs + 60_000);
    const perEvent = run.channels.kind === 'shared' ? group.connected : group.connected / run.sockets;
    // Events of unanswered requests may have been published: wait for them too, but do not count them as lost.
    const expected = Math.round(sent.accepted * perEvent);
    const expectedAtMost = Math.round((sent.accepted + sent.unanswered) * perEvent);
    await awaitDeliveries(group, expectedAtMost);
    const churn = churnDone ? await churnDone : null;
    const cpu = cpuBefore === null ? null : serverCpu(server)! - cpuBefore;
    const windowMs = performance.now() - startedAt;
    const loadCpu = pool.cpuMicros() - loadBefore;
    const serverWaited = serverWaitBefore === null ? null : serverWait(server)! - serverWaitBefore;
    const loadWaited = pool.runQueueWaitMicros() - loadWaitBefore;
    const stats = await collectStats(group);

    const deliveredAll = stats.delivered + (churn?.delivered ?? 0);
    const spanS = stats.lastAt > sent.firstSendAt ? (stats.lastAt - sent.firstSendAt) / 1000 : null;
    const summary = stats.latency.summary();
    const notes: string[] = [];
    const requests = Math.ceil(sent.events / run.trigger.batchSize);
    if (sent.unsent > 0) notes.push(`saturated: ${sent.events - sent.unsent} of ${sent.events} events sent in ${round(plan.timeoutMs / 1000)} s`);
    else if (sent.late > requests / 20) notes.push(`${sent.late} of ${requests} requests left more than one interval (${round(1000 / (run.trigger.rate / run.trigger.batchSize))} ms) after their slot`);
    if (sent.failedRequests > 0) notes.push(`${sent.failedRequests} trigger requests failed: ${sent.firstError}`);
    if (sent.unanswered > 0) notes.push(`${sent.unanswered} events were in requests without an answer, so they are not expected (they may still arrive)`);
    if (group.failed > 0) notes.push(`${group.failed} sockets failed to subscribe: ${group.firstError}`);
    if (stats.closedByServer > 0) notes.push(`${stats.closedByServer} sockets closed by the server`);
    if (churn && churn.skipped > 0) notes.push(`churn fell behind: ${churn.skipped} of ${churn.started + churn.skipped} connects skipped while ${run.churn?.maxOpen} churn sockets were open or opening`);
    if (churn && churn.failed > 0) notes.push(`${churn.failed} churn connects failed: ${churn.firstError}`);
    // Each socket's channel was sent at most this many events (accepted or not): more received means duplicates.
    const mostSentToOne = run.channels.kind === 'shared' ? sent.events - sent.unsent : Math.ceil((sent.events - sent.unsent) / run.channels.count);
    if (stats.maxPerSocket > mostSentToOne) notes.push(`duplicates: a socket received ${stats.maxPerSocket} events, more than the ${mostSentToOne} sent to its channel`);
    ctx.log(`${stats.delivered}/${expected} delivered, p50 ${summary.p50} ms, p99 ${summary.p99} ms${cpu === null ? '' : `, server CPU ${round(cpu / 1000)} ms`}`);
    return {
      scenario: run.scenario,
      label: run.label,
      server: server.name,
      sockets: group.connected,
      expected,
      delivered: stats.delivered,
      lost: Math.max(0, expected - stats.delivered),
      delivered_per_s: spanS === null ? null : Math.round(stats.delivered / spanS),
      latency_ms: summary,
      server_cpu_us_per_msg: cpu === null || deliveredAll === 0 ? null : round(cpu / deliveredAll, 3),
      server_rss_bytes_per_conn: rssBefore === null || rssConnected === null ? null : Math.round((rssConnected - rssBefore) / group.connected),
      load_cpu_pct: round((loadCpu / (windowMs * 1000)) * 100, 1),
      cpu_wait_pct: { server: serverWaited === null ? null : round((serverWaited / (windowMs * 1000)) * 100, 1), load: round((loadWaited / (windowMs * 1000)) * 100, 1) },
      notes,
      details: {
        ...deliveryDetails(run.trigger.rate, sent, group, stats),
        server_cpu_ms: cpu === null ? null : round(cpu / 1000),
        server_rss_mb_connected: rssConnected === null ? null : round(rssConnected / 1024 / 1024),
        window_s: round(windowMs / 1000),
        measured_at: new Date(nowMs()).toISOString(),
        ...(churn ? { churn: churnDetails(churn) } : {}),
      },
    };
  });
}

/** The details every delivery run reports: what the publisher sent, how the sockets subscribed, what they got. */
export function deliveryDetails(offeredRate: number, sent: TriggerReply, group: SubscriberGroup, stats: MergedStats): Record<string, unknown> {
  return {
    offered_events_per_s: offeredRate,
    events: sent.events,
    events_accepted: sent.accepted,
    events_unsent: sent.unsent,
    failed_requests: sent.failedRequests,
    events_unanswered: sent.unanswered,
    first_http_error: sent.firstError,
    late_sends: sent.late,
    send_span_s: round((sent.lastSendAt - sent.firstSendAt) / 1000),
    http_request_ms: Histogram.merge([sent.requestLatency]).summary(),
    subscribe_failed: group.failed,
    first_subscribe_error: group.firstError,
    subscribe_ms: group.subscribeLatency.summary(),
    reordered: stats.reordered,
    min_per_socket: stats.minPerSocket,
    max_per_socket: stats.maxPerSocket,
    pusher_errors: stats.pusherErrors,
    first_pusher_error: stats.firstPusherError,
    closed_by_server: stats.closedByServer,
  };
}

function churnDetails(churn: ChurnReply): Record<string, unknown> {
  const seconds = churn.elapsedMs / 1000;
  return {
    connects_started: churn.started,
    subscribed: churn.subscribed,
    disconnects: churn.closed,
    failed: churn.failed,
    skipped_at_max_open: churn.skipped,
    first_error: churn.firstError,
    connects_per_s: round(churn.subscribed / seconds, 1),
    disconnects_per_s: round(churn.closed / seconds, 1),
    connect_to_subscribed_ms: Histogram.merge([churn.subscribeLatency]).summary(),
    events_to_churn_sockets: churn.delivered,
  };
}
