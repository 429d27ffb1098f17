import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../helpers/harness.js';
import { once } from '../helpers/wait.js';

describe('pusher-js and the pusher SDK against Herald', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(() => harness.close());

  it('delivers an event triggered over HTTP to a public channel subscriber', async () => {
    const client = harness.client();
    const channel = client.subscribe('news');
    await once((done) => channel.bind('pusher:subscription_succeeded', done), 'subscription');
    const received = once<unknown>((done) => channel.bind('headline', done), 'event');
    await harness.backend().trigger('news', 'headline', { title: 'hello' });
    assert.deepEqual(await received, { title: 'hello' });
  });
});
