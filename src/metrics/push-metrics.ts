/** Push metrics, read from the push worker when scraped. */
import { Gauge, type Registry } from 'prom-client';
import type { PushWorker } from '../push/push-worker.js';
import { plainCounter, plainGauge } from './plain-metrics.js';

/** Registers the push queue depth (cluster-wide) and what this node's worker did. */
export function registerPushMetrics(registry: Registry, worker: Pick<PushWorker, 'counters' | 'depth' | 'sending'>): void {
  const registers = [registry];
  new Gauge({
    name: 'herald_push_queue_depth',
    help: 'Push work in the store, by state: jobs (waiting for their rule), pending deliveries, parked deliveries; cluster-wide',
    labelNames: ['state'],
    registers,
    collect() {
      this.set({ state: 'jobs' }, worker.depth.jobs);
      this.set({ state: 'pending' }, worker.depth.pending);
      this.set({ state: 'parked' }, worker.depth.parked);
    },
  });
  const counters = worker.counters;
  plainGauge(registers, 'herald_push_sending', 'Push deliveries this node is sending now', () => worker.sending);
  plainCounter(registers, 'herald_push_evaluated_total', 'Push jobs whose rule this node evaluated', () => counters.evaluated);
  plainCounter(registers, 'herald_push_cancelled_total', 'Push jobs cancelled: seen, opened, no longer live, expired or turned off by preferences', () => counters.cancelled);
  plainCounter(registers, 'herald_push_held_total', 'Push jobs held until the end of quiet hours', () => counters.held);
  plainCounter(registers, 'herald_push_sent_total', 'Pushes a provider accepted from this node', () => counters.sent);
  plainCounter(registers, 'herald_push_failed_attempts_total', 'Push attempts that failed (network, timeout, 429, 5xx or a refusal)', () => counters.failedAttempts);
  plainCounter(registers, 'herald_push_retries_total', 'Push deliveries scheduled again after a failed attempt', () => counters.retries);
  plainCounter(registers, 'herald_push_parked_total', 'Push deliveries this node gave up on', () => counters.parked);
  plainCounter(registers, 'herald_push_resent_uncertain_total', 'Push deliveries sent again whose earlier attempt was in flight when a node died', () => counters.resentUncertain);
  plainCounter(registers, 'herald_push_devices_removed_total', 'Devices removed because their provider reported them gone', () => counters.devicesRemoved);
}
