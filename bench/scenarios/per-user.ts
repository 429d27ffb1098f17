/** Scenario 2, per-user: N sockets each on its own private channel, events spread with `batch_events`. */
import type { ScenarioContext, ScenarioResult } from './context.js';
import { runDelivery } from './delivery.js';

export function perUserLabel(users: number, rate: number, batch: number): string {
  return `per-user ${users} users, ${rate} ev/s in batches of ${batch}`;
}

export function runPerUser(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { sizes } = ctx;
  const channels = { kind: 'per-socket', prefix: 'private-bench-user-', count: sizes.perUserUsers } as const;
  return runDelivery(ctx, {
    scenario: 'per-user',
    label: perUserLabel(sizes.perUserUsers, sizes.perUserRate, sizes.batchSize),
    sockets: sizes.perUserUsers,
    channels,
    trigger: { channels, events: Math.round(sizes.perUserRate * sizes.durationS), rate: sizes.perUserRate, batchSize: sizes.batchSize, payloadBytes: sizes.payloadBytes },
  });
}
