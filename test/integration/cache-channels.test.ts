import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Pusher from 'pusher';
import { encryptingBackend, sdkChannelAuth } from '../helpers/auth.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import type { RawClient } from '../helpers/raw-client.js';
import { once } from '../helpers/wait.js';

describe('cache channels', () => {
  let harness: Harness;
  let backend: Pusher;
  before(async () => {
    harness = await startHarness();
    backend = encryptingBackend(harness.port, harness.app, Buffer.alloc(32, 1).toString('base64'));
  });
  after(() => harness.close());

  /** Subscribes a raw socket, signing when the channel needs it. */
  async function rawSubscribe(channel: string): Promise<RawClient> {
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    let auth: string | undefined;
    let channelData: string | undefined;
    if (channel.startsWith('private-') || channel.startsWith('presence-')) {
      const presence = channel.startsWith('presence-') ? { user_id: `u-${socketId}` } : undefined;
      ({ auth, channel_data: channelData } = backend.authorizeChannel(socketId, channel, presence));
    }
    const result = await raw.subscribe(channel, auth, channelData);
    assert.equal(result.event, 'pusher_internal:subscription_succeeded', `subscribed to ${channel}`);
    return raw;
  }

  for (const prefix of ['cache-', 'private-cache-', 'presence-cache-', 'private-encrypted-cache-']) {
    it(`${prefix}: sends pusher:cache_miss when empty, then replays the last event after subscription_succeeded`, async () => {
      const channel = `${prefix}scores`;
      const first = await rawSubscribe(channel);
      const miss = await first.next((f) => f.event === 'pusher:cache_miss' && f.channel === channel, 'cache_miss');
      assert.equal(miss.channel, channel);

      await backend.trigger(channel, 'score', { goals: 1 });
      await first.next('score', 'first score live');
      await backend.trigger(channel, 'score', { goals: 2 });
      const live = await first.next('score', 'second score live');

      const late = await rawSubscribe(channel);
      const replayed = await late.next((f) => f.event === 'score' && f.channel === channel, 'replayed event');
      assert.deepEqual(replayed.data, live.data, 'only the last event is replayed, as it was sent');
      if (!prefix.includes('encrypted')) assert.deepEqual(replayed.data, { goals: 2 });
      const order = late.frames.map((f) => f.event);
      assert.ok(order.indexOf('pusher_internal:subscription_succeeded') < order.indexOf('score'), 'replay comes after subscription_succeeded');
      await late.none((f) => f.event === 'pusher:cache_miss' || f.event === 'score', 150, 'a cache_miss or second replay');
    });
  }

  it('emits pusher:cache_miss and the replayed event to pusher-js channel listeners', async () => {
    const client = harness.client({ channelAuthorization: sdkChannelAuth(harness.backend()) });
    const channel = client.subscribe('private-cache-feed');
    await once<void>((done) => channel.bind('pusher:cache_miss', () => done()), 'pusher:cache_miss on the channel');
    await harness.backend().trigger('private-cache-feed', 'item', { n: 3 });

    const late = harness.client({ channelAuthorization: sdkChannelAuth(harness.backend()) });
    const lateChannel = late.subscribe('private-cache-feed');
    const replayed = await once<unknown>((done) => lateChannel.bind('item', done), 'replayed item');
    assert.deepEqual(replayed, { n: 3 });
  });

  it('sends no cache_miss on channels that are not cache channels', async () => {
    const raw = await rawSubscribe('plain-channel');
    await raw.none('pusher:cache_miss', 150);
  });
});
