/** `/metrics`: valid Prometheus text, counters that move with traffic, its own port, a registry per node. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { signedRequest } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import { sampleValue, scrape, type Exposition } from './prometheus-text.js';

const app = { app: TEST_APP.id };

describe('/metrics', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(() => harness.close());

  /** A raw socket subscribed to a private channel, signed by the backend SDK. */
  async function subscriber(channel: string): Promise<RawClient> {
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    const { auth } = harness.backend().authorizeChannel(socketId, channel);
    assert.equal((await raw.subscribe(channel, auth)).event, 'pusher_internal:subscription_succeeded');
    return raw;
  }

  const value = (metrics: Exposition, name: string, labels: Record<string, string> = {}) => sampleValue(metrics, name, labels) ?? 0;

  it('is Prometheus text with herald, process and event-loop metrics', async () => {
    const metrics = await scrape(harness.baseUrl);
    for (const family of [
      'herald_connections',
      'herald_connections_opened_total',
      'herald_connections_closed_total',
      'herald_connections_refused_total',
      'herald_websocket_messages_received_total',
      'herald_websocket_received_bytes_total',
      'herald_websocket_messages_sent_total',
      'herald_websocket_sent_bytes_total',
      'herald_http_requests_total',
      'herald_http_request_duration_seconds',
      'herald_client_events_total',
      'herald_inbox_pushes_total',
      'herald_inbox_notifications_total',
      'herald_inbox_deliveries_total',
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      assert.ok(metrics.types.has(family), `${family} is exposed`);
    }
    assert.equal(metrics.types.get('herald_connections'), 'gauge');
    assert.equal(metrics.types.get('herald_websocket_messages_sent_total'), 'counter');
    assert.equal(metrics.types.get('herald_http_request_duration_seconds'), 'histogram');
    assert.equal(sampleValue(metrics, 'herald_connections', app), 0, 'every configured app has a connection gauge, even at 0');
  });

  it('counts connections, messages and bytes in and out, and client events', async () => {
    const before = await scrape(harness.baseUrl);
    const first = await subscriber('private-metrics');
    const second = await subscriber('private-metrics');
    let metrics = await scrape(harness.baseUrl);
    assert.equal(value(metrics, 'herald_connections', app), 2);
    assert.equal(value(metrics, 'herald_connections_opened_total', app) - value(before, 'herald_connections_opened_total', app), 2);
    // Each socket sent a subscribe; each got connection_established and subscription_succeeded.
    assert.ok(value(metrics, 'herald_websocket_messages_received_total') - value(before, 'herald_websocket_messages_received_total') >= 2);
    assert.ok(value(metrics, 'herald_websocket_messages_sent_total') - value(before, 'herald_websocket_messages_sent_total') >= 4);
    assert.ok(value(metrics, 'herald_websocket_received_bytes_total') > value(before, 'herald_websocket_received_bytes_total'));

    const mid = metrics;
    const triggered = await harness.backend().trigger('private-metrics', 'news', { text: 'x'.repeat(1000) });
    assert.equal(triggered.status, 200);
    await first.next('news');
    await second.next('news');
    metrics = await scrape(harness.baseUrl);
    assert.equal(value(metrics, 'herald_websocket_messages_sent_total') - value(mid, 'herald_websocket_messages_sent_total'), 2, 'one broadcast to two sockets is two messages');
    assert.ok(value(metrics, 'herald_websocket_sent_bytes_total') - value(mid, 'herald_websocket_sent_bytes_total') >= 2000);

    first.send({ event: 'client-typing', channel: 'private-metrics', data: {} });
    await second.next('client-typing');
    metrics = await scrape(harness.baseUrl);
    assert.equal(value(metrics, 'herald_client_events_total', app) - value(before, 'herald_client_events_total', app), 1);

    first.close();
    await first.closed;
    await waitFor(() => harness.server.realtime.connections === 1, 'the closed socket to be forgotten');
    metrics = await scrape(harness.baseUrl);
    assert.equal(value(metrics, 'herald_connections', app), 1);
    assert.equal(value(metrics, 'herald_connections_closed_total', app) - value(before, 'herald_connections_closed_total', app), 1);
    second.close();
  });

  it('counts refused connections by close code, never by the (client-chosen) app key', async () => {
    const before = await scrape(harness.baseUrl);
    const stranger = await harness.raw({ key: 'no-such-key' });
    assert.equal((await stranger.closedWithin()).code, 4001);
    const metrics = await scrape(harness.baseUrl);
    assert.equal(value(metrics, 'herald_connections_refused_total', { code: '4001' }) - value(before, 'herald_connections_refused_total', { code: '4001' }), 1);
    assert.ok(!metrics.samples.some((sample) => Object.values(sample.labels).includes('no-such-key')));
  });

  it('counts HTTP calls by route pattern and status, not by raw path', async () => {
    const before = await scrape(harness.baseUrl);
    const backend = harness.backend();
    await backend.get({ path: '/channels/private-one' });
    await backend.get({ path: '/channels/private-two' });
    const missing = await signedRequest(harness.baseUrl, harness.app, { method: 'GET', path: '/channels', appId: 'missing-app' });
    assert.equal(missing.status, 404);
    await fetch(`${harness.baseUrl}/nowhere/${Math.random()}`).then((response) => response.arrayBuffer());
    const metrics = await scrape(harness.baseUrl);
    const route = '/apps/:appId/channels/:channel';
    const delta = (labels: Record<string, string>) => value(metrics, 'herald_http_requests_total', labels) - value(before, 'herald_http_requests_total', labels);
    assert.equal(delta({ method: 'GET', route, status: '200' }), 2);
    assert.equal(delta({ method: 'GET', route: '/apps/:appId/channels', status: '404' }), 1);
    assert.equal(delta({ method: 'GET', route: '(unmatched)', status: '404' }), 1);
    assert.ok(value(metrics, 'herald_http_request_duration_seconds_count', { method: 'GET', route }) >= 2);
    assert.ok(!metrics.samples.some((sample) => /private-one|nowhere/.test(sample.labels.route ?? '')), 'raw paths never become labels');
  });

  it('counts inbox pushes, stored notifications and live deliveries', async () => {
    const before = await scrape(harness.baseUrl);
    const body = JSON.stringify({ user_ids: ['ann', 'ben', 'cat'], notification: { content: 'hello' } });
    const pushed = await signedRequest(harness.baseUrl, harness.app, { method: 'POST', path: '/notifications', body });
    assert.equal(pushed.status, 200, pushed.text);
    const later = JSON.stringify({ user_ids: ['ann'], notification: { content: 'later', send_after: new Date(Date.now() + 3_600_000).toISOString() } });
    assert.equal((await signedRequest(harness.baseUrl, harness.app, { method: 'POST', path: '/notifications', body: later })).status, 200);
    const metrics = await scrape(harness.baseUrl);
    const delta = (name: string) => value(metrics, name) - value(before, name);
    assert.equal(delta('herald_inbox_pushes_total'), 2);
    assert.equal(delta('herald_inbox_notifications_total'), 4);
    assert.equal(delta('herald_inbox_deliveries_total'), 3, 'the scheduled one is not delivered yet');
  });
});

describe('/metrics on its own port', () => {
  let one: Harness;
  let two: Harness;
  before(async () => {
    one = await startHarness({ deps: { metricsPort: 0 } });
    two = await startHarness();
  });
  after(async () => {
    await one?.close();
    await two?.close();
  });

  it('is served only on the metrics port when one is set', async () => {
    const address = one.server.metricsEndpoint.address();
    assert.ok(address && address.port !== one.port);
    const onMain = await fetch(`${one.baseUrl}/metrics`);
    await onMain.arrayBuffer();
    assert.equal(onMain.status, 404);
    const metricsUrl = `http://127.0.0.1:${address.port}`;
    const metrics = await scrape(metricsUrl);
    assert.ok(metrics.types.has('herald_connections'));
    const elsewhere = await fetch(`${metricsUrl}/health`);
    assert.equal(elsewhere.status, 404);
    assert.equal(((await elsewhere.json()) as { code: string }).code, 'not_found');
  });

  it('keeps a registry per node: two nodes in one process count apart', async () => {
    const raw = await one.raw();
    await raw.established();
    const address = one.server.metricsEndpoint.address()!;
    const ofOne = await scrape(`http://127.0.0.1:${address.port}`);
    const ofTwo = await scrape(two.baseUrl);
    assert.equal(sampleValue(ofOne, 'herald_connections', app), 1);
    assert.equal(sampleValue(ofTwo, 'herald_connections', app), 0);
    raw.close();
  });
});

describe('/metrics of webhooks', () => {
  let harness: Harness;
  let receiver: Server;
  let answered = 0;
  before(async () => {
    // A receiver that fails twice, then accepts.
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        answered++;
        res.writeHead(answered <= 2 ? 500 : 200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    harness = await startHarness({
      apps: [{ ...TEST_APP, webhooks: [{ url, events: ['channel_occupied'] }] }],
      deps: { webhooks: { batchWindowMs: 10, retryInitialMs: 50, retryMaxMs: 100, pollIntervalMs: 25, countIntervalMs: 25 } },
    });
  });
  after(async () => {
    await harness?.close();
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('exposes the queue depth, failed attempts, retries and deliveries', async () => {
    let metrics = await scrape(harness.baseUrl);
    for (const family of ['herald_webhook_queue_depth', 'herald_webhook_retries_total', 'herald_webhook_failures_total', 'herald_webhook_delivered_total']) {
      assert.ok(metrics.types.has(family), `${family} is exposed`);
    }
    const raw = await harness.raw();
    await raw.established();
    assert.equal((await raw.subscribe('news')).event, 'pusher_internal:subscription_succeeded');
    const deadline = Date.now() + 10_000;
    while ((sampleValue(metrics, 'herald_webhook_delivered_total') ?? 0) < 1 || sampleValue(metrics, 'herald_webhook_queue_depth', { state: 'pending' }) !== 0) {
      if (Date.now() > deadline) throw new Error(`webhook not delivered within 10 s (receiver answered ${answered} times)`);
      await new Promise((resolve) => setTimeout(resolve, 25));
      metrics = await scrape(harness.baseUrl);
    }
    assert.equal(sampleValue(metrics, 'herald_webhook_failed_attempts_total'), 2);
    assert.equal(sampleValue(metrics, 'herald_webhook_retries_total'), 2);
    assert.equal(sampleValue(metrics, 'herald_webhook_failures_total'), 0);
    assert.equal(sampleValue(metrics, 'herald_webhook_queue_depth', { state: 'parked' }), 0);
    raw.close();
  });
});
