/** Connection churn: sockets that connect, subscribe, stay a while and close, at a fixed rate. */
import type { RawData, WebSocket } from 'ws';
import { Histogram } from '../histogram.js';
import { readPayload, type PayloadFields } from '../payload.js';
import type { ChurnPlan, ChurnReply, ServerAddress } from './commands.js';
import { openSubscribed } from './pusher-socket.js';

const SUBSCRIBE_TIMEOUT_MS = 10_000;
/** After the last start, sockets still open are dropped after this long. */
const DRAIN_MS = 10_000;

const fields: PayloadFields = { seq: 0, sentAt: 0 };
let delivered = 0;

function onChurnMessage(this: WebSocket, data: RawData): void {
  if (readPayload(data.toString(), fields)) delivered++;
}

export function runChurn(server: ServerAddress, plan: ChurnPlan): Promise<ChurnReply> {
  const subscribeLatency = new Histogram();
  const open = new Set<WebSocket>();
  const total = Math.floor((plan.rate * plan.durationMs) / 1000);
  let started = 0;
  let pending = 0;
  let subscribed = 0;
  let closed = 0;
  let failed = 0;
  let skipped = 0;
  let firstError: string | null = null;
  delivered = 0;
  const start = performance.now();

  return new Promise((resolve) => {
    let drainTimer: NodeJS.Timeout | null = null;
    const finishIfDone = () => {
      if (started + skipped < total || pending > 0 || open.size > 0) return;
      if (drainTimer) clearTimeout(drainTimer);
      resolve({ started, subscribed, closed, failed, skipped, firstError, elapsedMs: performance.now() - start, subscribeLatency: subscribeLatency.toData(), delivered });
    };
    const closeSocket = (socket: WebSocket) => {
      if (socket.readyState === socket.OPEN) socket.close(1000);
    };
    const begin = () => {
      if (pending + open.size >= plan.maxOpen) {
        skipped++;
        return;
      }
      started++;
      pending++;
      const opened = performance.now();
      openSubscribed(server, plan.channel, SUBSCRIBE_TIMEOUT_MS, onChurnMessage).then(
        (socket) => {
          pending--;
          subscribed++;
          subscribeLatency.record(performance.now() - opened);
          open.add(socket);
          socket.once('close', () => {
            closed++;
            open.delete(socket);
            finishIfDone();
          });
          if (plan.holdMs <= 0) closeSocket(socket);
          else setTimeout(closeSocket, plan.holdMs, socket);
        },
        (error: unknown) => {
          pending--;
          failed++;
          firstError ??= (error as Error).message;
          finishIfDone();
        },
      );
    };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * plan.rate) / 1000));
      while (started + skipped < due) begin();
      if (started + skipped < total) {
        setTimeout(tick, Math.max(1, 1000 / plan.rate));
        return;
      }
      drainTimer = setTimeout(() => {
        for (const socket of open) socket.terminate();
      }, plan.holdMs + DRAIN_MS);
      finishIfDone();
    };
    tick();
  });
}
