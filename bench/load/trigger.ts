/** The publisher side of the load: events over the HTTP API at a fixed rate, each stamped with its send time. */
import { Histogram } from '../histogram.js';
import { encodePayload, nowMs } from '../payload.js';
import { channelOf, type ServerAddress, type TriggerPlan, type TriggerReply } from './commands.js';
import { PusherHttpApi } from './http-api.js';

const EVENT_NAME = 'bench-event';

/** The channel and per-channel sequence number of event k. */
function target(plan: TriggerPlan, k: number): { channel: string; seq: number } {
  const count = plan.channels.kind === 'shared' ? 1 : plan.channels.count;
  return { channel: channelOf(plan.channels, k % count), seq: Math.floor(k / count) };
}

/** The body of request r: `/events` with one event, or `/batch_events` with up to `batchSize`. */
function requestBody(plan: TriggerPlan, r: number, sentAt: number): { resource: string; body: string; events: number } {
  const first = r * plan.batchSize;
  const events = Math.min(plan.batchSize, plan.events - first);
  if (plan.batchSize === 1) {
    const { channel, seq } = target(plan, first);
    return { resource: 'events', events, body: JSON.stringify({ name: EVENT_NAME, channels: [channel], data: encodePayload(seq, sentAt, plan.payloadBytes) }) };
  }
  const batch = Array.from({ length: events }, (_, j) => {
    const { channel, seq } = target(plan, first + j);
    return { name: EVENT_NAME, channel, data: encodePayload(seq, sentAt, plan.payloadBytes) };
  });
  return { resource: 'batch_events', events, body: JSON.stringify({ batch }) };
}

/** Sends `plan.events` events at `plan.rate` per second; resolves once every request is answered. */
export function runTrigger(server: ServerAddress, plan: TriggerPlan): Promise<TriggerReply> {
  const api = new PusherHttpApi(server.host, server.port, server.app, Math.min(plan.maxInFlight, 32));
  const requests = Math.ceil(plan.events / plan.batchSize);
  const intervalMs = (1000 * plan.batchSize) / plan.rate;
  const requestLatency = new Histogram();
  let next = 0;
  let inFlight = 0;
  let sentEvents = 0;
  let accepted = 0;
  let failedRequests = 0;
  let unanswered = 0;
  let firstError: string | null = null;
  let late = 0;
  let firstSendAt = 0;
  let lastSendAt = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const start = performance.now();

  return new Promise((resolve) => {
    const finishIfDone = () => {
      if (inFlight > 0 || (next < requests && !stopped)) return false;
      if (timer) clearTimeout(timer);
      api.close();
      resolve({ events: plan.events, accepted, failedRequests, firstError, unanswered, unsent: plan.events - sentEvents, late, firstSendAt, lastSendAt, requestLatency: requestLatency.toData() });
      return true;
    };
    const send = () => {
      const sentAt = nowMs();
      const { resource, body, events } = requestBody(plan, next++, sentAt);
      if (firstSendAt === 0) firstSendAt = sentAt;
      lastSendAt = sentAt;
      sentEvents += events;
      inFlight++;
      void api.post(resource, body).then((answer) => {
        inFlight--;
        requestLatency.record(nowMs() - sentAt);
        if (answer.error === null) accepted += events;
        else {
          failedRequests++;
          if (answer.status === 0) unanswered += events;
          firstError ??= `HTTP ${answer.status}: ${answer.error}`;
        }
        if (!finishIfDone()) tick();
      });
    };
    const tick = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      const elapsed = performance.now() - start;
      if (elapsed > plan.timeoutMs) stopped = true;
      while (!stopped && next < requests && next * intervalMs <= elapsed && inFlight < plan.maxInFlight) {
        if (elapsed - next * intervalMs > intervalMs) late++;
        send();
      }
      if (finishIfDone()) return;
      // Otherwise the next answer ticks (all slots busy), or the run is over once they are in.
      if (!stopped && next < requests && inFlight < plan.maxInFlight) {
        timer = setTimeout(tick, Math.max(0, start + next * intervalMs - performance.now()));
      }
    };
    tick();
  });
}
