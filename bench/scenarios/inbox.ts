/**
 * Scenario 3, inbox (bench/inbox.ts, run in a load worker): one push to N connected users, and
 * sequential single-user pushes. Two rows: the push to everyone (latency = push start to each
 * user's delivery) and the single user (push to delivery). Only servers with Herald's inbox API.
 */
import { round, serverWait, withPool, type ScenarioContext, type ScenarioResult } from './context.js';

export function inboxLabels(users: number, pushes: number): { push: string; single: string } {
  return { push: `inbox push to ${users} connected users`, single: `inbox single-user latency, ${pushes} pushes` };
}

export function runInbox(ctx: ScenarioContext): Promise<ScenarioResult[]> {
  const { server, sizes } = ctx;
  return withPool(ctx, async (pool) => {
    const worker = pool.spawn('inbox');
    const loadBefore = pool.cpuMicros();
    const waitBefore = serverWait(server);
    const loadWaitBefore = pool.runQueueWaitMicros();
    const started = performance.now();
    const reply = await worker.request({ cmd: 'inbox', server: server.address, users: sizes.inboxUsers, pushes: sizes.inboxPushes, serverPid: server.pid }, 300_000);
    const windowUs = (performance.now() - started) * 1000;
    const loadPct = round(((pool.cpuMicros() - loadBefore) / windowUs) * 100, 1);
    const cpuWait = {
      server: waitBefore === null ? null : round(((serverWait(server)! - waitBefore) / windowUs) * 100, 1),
      load: round(((pool.runQueueWaitMicros() - loadWaitBefore) / windowUs) * 100, 1),
    };
    const { fanOut, singleUser } = reply;
    const labels = inboxLabels(sizes.inboxUsers, sizes.inboxPushes);
    const delivered = fanOut.delivered ?? 0;
    const lastMs = fanOut.last_delivery_ms;
    ctx.log(`push to ${sizes.inboxUsers}: stored in ${fanOut.stored_ms} ms, last delivery at ${lastMs} ms; single user p50 ${singleUser.p50_ms} ms`);
    const push: ScenarioResult = {
      scenario: 'inbox',
      label: labels.push,
      server: server.name,
      sockets: sizes.inboxUsers,
      expected: sizes.inboxUsers,
      delivered,
      lost: sizes.inboxUsers - delivered,
      delivered_per_s: lastMs ? Math.round(delivered / (lastMs / 1000)) : null,
      latency_ms: { count: delivered, p50: fanOut.delivery_p50_ms, p99: fanOut.delivery_p99_ms, max: lastMs },
      server_cpu_us_per_msg: fanOut.server_cpu_ms === null || delivered === 0 ? null : round((fanOut.server_cpu_ms * 1000) / delivered, 3),
      server_rss_bytes_per_conn: fanOut.server_rss_bytes_per_connection,
      load_cpu_pct: loadPct,
      cpu_wait_pct: cpuWait,
      notes: [`answered in ${fanOut.stored_ms} ms, last delivery at ${lastMs} ms, server CPU ${fanOut.server_cpu_ms} ms`],
      details: { ...fanOut },
    };
    const single: ScenarioResult = {
      scenario: 'inbox',
      label: labels.single,
      server: server.name,
      sockets: 1,
      expected: sizes.inboxPushes,
      delivered: singleUser.pushes,
      lost: 0,
      delivered_per_s: null,
      latency_ms: { count: singleUser.pushes ?? 0, p50: singleUser.p50_ms, p99: singleUser.p99_ms, max: singleUser.max_ms },
      server_cpu_us_per_msg: singleUser.server_cpu_us_per_push,
      server_rss_bytes_per_conn: null,
      load_cpu_pct: null,
      cpu_wait_pct: cpuWait,
      notes: [],
      details: { ...singleUser },
    };
    return [push, single];
  });
}
