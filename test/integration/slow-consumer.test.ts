/**
 * Slow consumers: a socket that stops reading while a fan-out runs is closed with 4100 as soon as
 * its unsent bytes pass `maxBufferedBytes` (at write time, not at the next sweep), counted in
 * `herald_slow_consumer_closes_total`, and the other subscribers keep receiving every event about
 * as fast as without it. The bounds on timing are generous: the machine may be busy.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sampleValue, scrape } from '../metrics/prometheus-text.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import type { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

const CHANNEL = 'firehose';
const BOUND = 512 * 1024;
const EVENT_BYTES = 20_000;
const BATCH = 10;
/** Bytes sent to each socket before giving up on seeing the cut: well past the kernel's buffers. */
const MAX_BYTES_PER_SOCKET = 96 * 1024 * 1024;

interface Stamped {
  readonly n: number;
  readonly sentAt: number;
  readonly pad: string;
}

/** Per socket: the events received (by number) and the worst delay from publish to receipt. */
function watch(client: RawClient): { received: Set<number>; worstMs: () => number } {
  const received = new Set<number>();
  let worst = 0;
  client.ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { event: string; data: string };
    if (message.event !== 'tick') return;
    const { n, sentAt } = JSON.parse(message.data) as Stamped;
    received.add(n);
    worst = Math.max(worst, Date.now() - sentAt);
  });
  return { received, worstMs: () => worst };
}

describe('slow consumers', () => {
  let harness: Harness;
  let next = 0;

  before(async () => {
    harness = await startHarness({
      apps: [{ ...TEST_APP, max_event_payload_bytes: 64 * 1024, max_backend_events_per_second: null }],
      realtime: { maxBufferedBytes: BOUND, sweepIntervalMs: 60_000 },
    });
  });
  after(() => harness.close());

  /** Publishes batches of stamped events until `stop()` holds or `maxBytes` went to each socket; returns the numbers sent. */
  async function publish(stop: () => boolean, maxBytes: number): Promise<number[]> {
    const backend = harness.backend();
    const sent: number[] = [];
    const pad = 'x'.repeat(EVENT_BYTES);
    while (!stop() && sent.length * EVENT_BYTES < maxBytes) {
      const batch = Array.from({ length: BATCH }, () => {
        const n = next++;
        sent.push(n);
        return { channel: CHANNEL, name: 'tick', data: JSON.stringify({ n, sentAt: Date.now(), pad } satisfies Stamped) };
      });
      const response = await backend.triggerBatch(batch);
      assert.equal(response.status, 200);
    }
    return sent;
  }

  async function subscriber(): Promise<RawClient & { socketId: string }> {
    const client = await harness.raw();
    const { socketId } = await client.established();
    assert.equal((await client.subscribe(CHANNEL)).event, 'pusher_internal:subscription_succeeded');
    return Object.assign(client, { socketId });
  }

  it('cuts a socket that stopped reading with 4100 at write time, and the others are not held up', async (t) => {
    const fast = await Promise.all([subscriber(), subscriber(), subscriber()]);
    const watches = fast.map(watch);

    // Control: the same fan-out with every socket reading.
    const control = await publish(() => false, 3 * 1024 * 1024);
    await waitFor(() => watches.every((w) => control.every((n) => w.received.has(n))), 'the control events on every socket', 30_000);
    const controlWorst = Math.max(...watches.map((w) => w.worstMs()));

    const slow = await subscriber();
    const slowSocket = (slow.ws as unknown as { _socket: Socket })._socket;
    slowSocket.pause();
    const traffic = harness.server.realtime.traffic;
    const before = traffic.slowConsumerCloses;
    const worstBefore = watches.map((w) => w.worstMs());
    const sent = await publish(() => traffic.slowConsumerCloses > before, MAX_BYTES_PER_SOCKET);
    assert.equal(traffic.slowConsumerCloses, before + 1, `the paused socket was cut after ${sent.length} events (${Math.round((sent.length * EVENT_BYTES) / 1024 / 1024)} MB)`);
    // The cut came at a write, with no sweep in between (the sweep runs once a minute here).
    slowSocket.resume();
    const closed = await slow.closed;
    assert.equal(closed.code, 4100, `closed with ${closed.code} ${closed.reason}`);
    assert.match(closed.reason, /too slow/);

    // Everything published reached every other socket, with no delay worse than the control's by far.
    await waitFor(() => watches.every((w) => sent.every((n) => w.received.has(n))), 'every event on the fast sockets', 30_000);
    const slowWorst = Math.max(...watches.map((w, i) => Math.max(w.worstMs(), worstBefore[i])));
    assert.ok(slowWorst <= Math.max(3 * controlWorst, controlWorst + 2_000), `worst delay with a stalled socket ${slowWorst} ms, without ${controlWorst} ms`);
    for (const client of fast) assert.equal(client.closeState, null, 'the fast sockets stay open');
    t.diagnostic(`cut after ${((sent.length * EVENT_BYTES) / 1024 / 1024).toFixed(1)} MB to the stalled socket; worst delay on the others ${slowWorst} ms (control: ${controlWorst} ms)`);

    await waitFor(() => harness.server.realtime.hubOf(TEST_APP.id)?.connections.size === 3, 'the slow connection forgotten');
    const metrics = await scrape(harness.baseUrl);
    assert.equal(sampleValue(metrics, 'herald_slow_consumer_closes_total'), 1);
  });

  it('never lets the unsent bytes of a stalled socket grow far past the bound', async () => {
    const slow = await subscriber();
    const slowSocket = (slow.ws as unknown as { _socket: Socket })._socket;
    slowSocket.pause();
    const connection = harness.server.realtime.hubOf(TEST_APP.id)?.connections.get(slow.socketId);
    assert.ok(connection, 'the stalled socket\'s connection');
    let most = 0;
    const traffic = harness.server.realtime.traffic;
    const before = traffic.slowConsumerCloses;
    await publish(() => {
      most = Math.max(most, connection.transport.bufferedAmount);
      return traffic.slowConsumerCloses > before;
    }, MAX_BYTES_PER_SOCKET);
    assert.equal(traffic.slowConsumerCloses, before + 1);
    // At most the bound, plus the close frame (and what ws itself queued).
    assert.ok(most <= BOUND + 1024, `unsent bytes peaked at ${most}, bound ${BOUND}`);
    slowSocket.resume();
    assert.equal((await slow.closed).code, 4100);
  });
});
