/** Scenario 1, fan-out: N sockets on one channel, events triggered over the HTTP API at a fixed rate. */
import type { ScenarioContext, ScenarioResult } from './context.js';
import { runDelivery } from './delivery.js';

export function fanOutLabel(subscribers: number, rate: number): string {
  return `fan-out ${subscribers} subs x ${rate} ev/s`;
}

export function runFanOut(ctx: ScenarioContext, rate: number): Promise<ScenarioResult> {
  const { sizes } = ctx;
  const channel = 'bench-fan-out';
  return runDelivery(ctx, {
    scenario: 'fan-out',
    label: fanOutLabel(sizes.fanOutSubscribers, rate),
    sockets: sizes.fanOutSubscribers,
    channels: { kind: 'shared', channel },
    trigger: { channels: { kind: 'shared', channel }, events: Math.round(rate * sizes.durationS), rate, batchSize: 1, payloadBytes: sizes.payloadBytes },
  });
}
