/**
 * Scenario 5, churn: a fan-out to steady subscribers while other sockets connect, subscribe to the
 * same channel and disconnect at a fixed rate. Latency and loss are the steady subscribers';
 * server CPU per message counts every delivered message, so it carries the cost of the churn.
 */
import type { ScenarioContext, ScenarioResult } from './context.js';
import { runDelivery } from './delivery.js';

export function churnLabel(subscribers: number, rate: number, connects: number): string {
  return `churn ${connects} conn/s, fan-out ${subscribers} subs x ${rate} ev/s`;
}

export function runChurnScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { sizes } = ctx;
  const channel = 'bench-churn';
  return runDelivery(ctx, {
    scenario: 'churn',
    label: churnLabel(sizes.churnSubscribers, sizes.churnEventRate, sizes.churnConnectRate),
    sockets: sizes.churnSubscribers,
    channels: { kind: 'shared', channel },
    trigger: { channels: { kind: 'shared', channel }, events: Math.round(sizes.churnEventRate * sizes.durationS), rate: sizes.churnEventRate, batchSize: 1, payloadBytes: sizes.payloadBytes },
    churn: { channel, rate: sizes.churnConnectRate, holdMs: sizes.churnHoldMs, maxOpen: Math.max(100, sizes.churnConnectRate * 5) },
  });
}
