import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { subscribed } from '../helpers/auth.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { sleep, waitFor } from '../helpers/wait.js';

const COUNTING_APP = { id: 'count-app', key: 'count-key', secret: 'count-secret', subscription_count: true };

describe('pusher:subscription_count', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ apps: [COUNTING_APP, TEST_APP] });
  });
  after(() => harness.close());

  it('tells subscribers the channel\'s count as it goes up and down (pusher-js emits it on the channel)', async () => {
    const counts: number[] = [];
    const first = harness.client();
    const channel = first.subscribe('counted');
    channel.bind('pusher:subscription_count', (data: { subscription_count: number }) => counts.push(data.subscription_count));
    await waitFor(() => counts.includes(1), 'count 1');

    const second = harness.client();
    await subscribed(second, 'counted');
    await waitFor(() => counts.includes(2), 'count 2');
    second.unsubscribe('counted');
    await waitFor(() => counts.at(-1) === 1, 'count back to 1');
    assert.deepEqual(counts, [1, 2, 1]);
    assert.equal((channel as unknown as { subscriptionCount: number }).subscriptionCount, 1);
  });

  it('sends no subscription_count for an app without the option', async () => {
    const raw = await harness.raw({ key: TEST_APP.key });
    await raw.established();
    await raw.subscribe('uncounted');
    const other = await harness.raw({ key: TEST_APP.key });
    await other.established();
    await other.subscribe('uncounted');
    await sleep(100);
    assert.equal(raw.frames.some((f) => f.event === 'pusher_internal:subscription_count'), false);
  });
});
