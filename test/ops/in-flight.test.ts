/** The counter that request and socket drains wait on. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InFlight } from '../../src/ops/in-flight.js';

describe('InFlight', () => {
  it('settles at once when nothing is under way', async () => {
    const inFlight = new InFlight();
    await inFlight.settled(60_000);
    assert.equal(inFlight.size, 0);
  });

  it('settles when the last piece of work finishes, not before', async () => {
    const inFlight = new InFlight();
    inFlight.started();
    inFlight.started();
    let settled = false;
    const waiting = inFlight.settled(60_000).then(() => (settled = true));
    const { finished } = inFlight; // passed around as a listener, detached from the instance
    finished();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false);
    assert.equal(inFlight.size, 1);
    finished();
    await waiting;
    assert.equal(settled, true);
  });

  it('gives up waiting after the timeout', async () => {
    const inFlight = new InFlight();
    inFlight.started();
    // The drain's timer is unref'd (it must not hold a stopping process open): hold the loop here.
    const keepAlive = setTimeout(() => undefined, 5_000);
    const start = performance.now();
    await inFlight.settled(30);
    clearTimeout(keepAlive);
    assert.ok(performance.now() - start >= 25);
    assert.equal(inFlight.size, 1);
  });
});
