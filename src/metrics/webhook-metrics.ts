/** Webhook metrics, read from the dispatcher's stats when scraped. */
import { Gauge, type Registry } from 'prom-client';
import type { WebhookStats } from '../webhooks/dispatcher.js';
import { plainCounter, plainGauge } from './plain-metrics.js';

/** What the metrics read: the webhook dispatcher. */
export interface WebhookMetricsSource {
  readonly stats: WebhookStats;
}

/**
 * Registers the webhook queue depth (the shared outbox's pending and parked batches, so every node
 * of a cluster reports the same), what waits in memory, and this node's deliveries, retries and failures.
 */
export function registerWebhookMetrics(registry: Registry, source: WebhookMetricsSource): void {
  const registers = [registry];
  new Gauge({
    name: 'herald_webhook_queue_depth',
    help: 'Webhook batches in the outbox, by state: pending (not yet delivered) or parked (given up on); cluster-wide',
    labelNames: ['state'],
    registers,
    collect() {
      const stats = source.stats;
      this.set({ state: 'pending' }, stats.outboxPending);
      this.set({ state: 'parked' }, stats.outboxParked);
    },
  });
  plainGauge(registers, 'herald_webhook_buffered_events', 'Webhook events waiting in a batch window or the leave delay (not yet in the outbox)', () => source.stats.bufferedEvents);
  plainGauge(registers, 'herald_webhook_unsaved_batches', 'Webhook batches waiting for the database to take them', () => source.stats.unsavedBatches);
  plainGauge(registers, 'herald_webhook_sending_batches', 'Webhook batches this node is sending now', () => source.stats.sending);
  plainCounter(registers, 'herald_webhook_delivered_total', 'Webhook batches delivered by this node', () => source.stats.delivered);
  plainCounter(registers, 'herald_webhook_failed_attempts_total', 'Webhook delivery attempts that failed (timeout, network error or non-2xx)', () => source.stats.failedAttempts);
  plainCounter(registers, 'herald_webhook_retries_total', 'Webhook batches scheduled again after a failed attempt', () => source.stats.retries);
  plainCounter(registers, 'herald_webhook_failures_total', 'Webhook batches this node parked after their retry time ran out', () => source.stats.parked);
  plainCounter(registers, 'herald_webhook_dropped_total', 'Webhook batches dropped: the database stayed unavailable and memory was full', () => source.stats.dropped);
}
