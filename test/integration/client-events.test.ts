import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encryptingBackend, sdkChannelAuth, subscribed } from '../helpers/auth.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import type { RawClient } from '../helpers/raw-client.js';
import { once, sleep } from '../helpers/wait.js';

const QUIET_APP = { id: 'quiet-app', key: 'quiet-key', secret: 'quiet-secret', client_events: false };

describe('client events', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ apps: [TEST_APP, QUIET_APP] });
  });
  after(() => harness.close());

  /** A raw socket subscribed to `channel` (signed when needed) of the app with `key`. */
  async function member(channel: string, key = TEST_APP.key, userId = 'raw-user'): Promise<RawClient> {
    const raw = await harness.raw({ key });
    const { socketId } = await raw.established();
    const app = harness.apps.find((a) => a.key === key)!;
    const backend = encryptingBackend(harness.port, app, Buffer.alloc(32, 2).toString('base64'));
    let auth: string | undefined;
    let channelData: string | undefined;
    if (channel.startsWith('private-') || channel.startsWith('presence-')) {
      ({ auth, channel_data: channelData } = backend.authorizeChannel(socketId, channel, channel.startsWith('presence-') ? { user_id: userId } : undefined));
    }
    assert.equal((await raw.subscribe(channel, auth, channelData)).event, 'pusher_internal:subscription_succeeded');
    return raw;
  }

  it('relays a client- event on a private channel to the other subscribers, never back to the sender', async () => {
    const auth = { channelAuthorization: sdkChannelAuth(harness.backend()) };
    const sender = harness.client(auth);
    const receiver = harness.client(auth);
    const sent = await subscribed(sender, 'private-chat');
    const got = await subscribed(receiver, 'private-chat');
    let echoed = false;
    sent.bind('client-typing', () => (echoed = true));
    const received = once<unknown>((done) => got.bind('client-typing', done), 'client event');
    sent.trigger('client-typing', { who: 'sender' });
    assert.deepEqual(await received, { who: 'sender' });
    await sleep(100);
    assert.equal(echoed, false, 'the sender does not receive its own event');
  });

  it('adds the sender user_id on presence channels', async () => {
    const client = (userId: string) =>
      harness.client({ channelAuthorization: sdkChannelAuth(harness.backend(), { user_id: userId }) });
    const alice = await subscribed(client('alice'), 'presence-chat');
    const bob = await subscribed(client('bob'), 'presence-chat');
    const received = once<{ data: unknown; metadata: { user_id?: string } }>(
      (done) => bob.bind('client-wave', (data: unknown, metadata: { user_id?: string }) => done({ data, metadata })),
      'presence client event',
    );
    alice.trigger('client-wave', { hi: true });
    const { data, metadata } = await received;
    assert.deepEqual(data, { hi: true });
    assert.equal(metadata.user_id, 'alice');
  });

  it('refuses client events on a public channel with 4301, without closing', async () => {
    const raw = await member('public-room');
    raw.send({ event: 'client-x', channel: 'public-room', data: {} });
    assert.equal((await raw.error()).code, 4301);
    await raw.roundTrip();
  });

  it('refuses client events on a channel the sender is not subscribed to', async () => {
    const other = await member('private-elsewhere');
    const raw = await member('private-mine');
    raw.send({ event: 'client-x', channel: 'private-elsewhere', data: {} });
    assert.equal((await raw.error()).code, 4301);
    await other.none('client-x', 100);
    await raw.roundTrip();
  });

  it('refuses client events on encrypted channels', async () => {
    const other = await member('private-encrypted-box');
    const raw = await member('private-encrypted-box');
    raw.send({ event: 'client-x', channel: 'private-encrypted-box', data: { plain: true } });
    assert.equal((await raw.error()).code, 4301);
    await other.none('client-x', 100);
  });

  it('refuses client events when the app has them switched off', async () => {
    const other = await member('private-quiet', QUIET_APP.key);
    const raw = await member('private-quiet', QUIET_APP.key);
    raw.send({ event: 'client-x', channel: 'private-quiet', data: {} });
    assert.equal((await raw.error()).code, 4301);
    await other.none('client-x', 100);
    await raw.roundTrip();
  });

  it('relays 10 client events per second and refuses the 11th with 4301', async () => {
    const other = await member('private-rate');
    const raw = await member('private-rate');
    for (let i = 0; i < 11; i++) raw.send({ event: 'client-tick', channel: 'private-rate', data: { i } });
    assert.equal((await raw.error()).code, 4301);
    for (let i = 0; i < 10; i++) await other.next('client-tick', `tick ${i}`);
    await other.none('client-tick', 100, 'an 11th tick');
    await raw.roundTrip();
  });

  it('refuses client event data over the payload limit (10 KB)', async () => {
    const other = await member('private-big');
    const raw = await member('private-big');
    raw.send({ event: 'client-big', channel: 'private-big', data: { blob: 'x'.repeat(11 * 1024) } });
    assert.equal((await raw.error()).code, 4301);
    await other.none('client-big', 100);
    raw.send({ event: 'client-small', channel: 'private-big', data: { blob: 'x'.repeat(100) } });
    await other.next('client-small');
  });

  it('refuses a client event name longer than 200 characters', async () => {
    const raw = await member('private-names');
    raw.send({ event: `client-${'e'.repeat(200)}`, channel: 'private-names', data: {} });
    assert.equal((await raw.error()).code, 4301);
    await raw.roundTrip();
  });

  it('relays the data of a raw client event as sent (string or object)', async () => {
    const other = await member('private-shapes');
    const raw = await member('private-shapes');
    raw.send({ event: 'client-string', channel: 'private-shapes', data: 'plain text' });
    raw.send({ event: 'client-object', channel: 'private-shapes', data: { a: [1, 2] } });
    assert.equal((await other.next('client-string')).data, 'plain text');
    assert.deepEqual((await other.next('client-object')).data, { a: [1, 2] });
  });
});
