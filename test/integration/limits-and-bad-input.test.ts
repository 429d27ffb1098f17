import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../helpers/harness.js';
import type { RawClient } from '../helpers/raw-client.js';

describe('bad input over a raw WebSocket', () => {
  let harness: Harness;
  let bystander: RawClient;
  before(async () => {
    harness = await startHarness();
    bystander = await harness.raw();
    await bystander.established();
    await bystander.subscribe('bystanders');
  });
  after(() => harness.close());

  /** After bad input, the offending socket (when still open) and everyone else are still served. */
  async function stillServing(raw?: RawClient): Promise<void> {
    if (raw) await raw.roundTrip();
    await harness.backend().trigger('bystanders', 'alive', {});
    await bystander.next('alive');
    const fresh = await harness.raw();
    await fresh.established();
    fresh.close();
  }

  async function socket(): Promise<RawClient> {
    const raw = await harness.raw();
    await raw.established();
    return raw;
  }

  const frames: [string, string][] = [
    ['malformed JSON', '{"event": "pusher:ping"'],
    ['non-object JSON (array)', '["pusher:ping"]'],
    ['non-object JSON (number)', '42'],
    ['JSON null', 'null'],
    ['a missing event', '{"data": {}}'],
    ['a non-string event', '{"event": 7}'],
    ['an unknown pusher: event', '{"event": "pusher:teleport", "data": {}}'],
    ['an event that is not client-', '{"event": "hello", "channel": "x", "data": {}}'],
    ['pusher:subscribe without a channel', '{"event": "pusher:subscribe", "data": {}}'],
    ['pusher:subscribe with data that is not an object', '{"event": "pusher:subscribe", "data": 5}'],
    ['pusher:signin without user_data', '{"event": "pusher:signin", "data": {"auth": "k:s"}}'],
  ];
  for (const [what, text] of frames) {
    it(`answers ${what} with pusher:error and keeps serving`, async () => {
      const raw = await socket();
      raw.sendRaw(text);
      const error = await raw.error();
      assert.equal(error.code, null);
      assert.equal(typeof error.message, 'string');
      await stillServing(raw);
    });
  }

  it('answers a binary frame with pusher:error and keeps serving', async () => {
    const raw = await socket();
    raw.sendRaw(Buffer.from(JSON.stringify({ event: 'pusher:ping', data: {} })));
    assert.equal((await raw.error()).code, null);
    await stillServing(raw);
  });

  it('closes a socket that sends a frame over 256 KB with 1009', async () => {
    const raw = await socket();
    raw.sendRaw(JSON.stringify({ event: 'client-big', channel: 'private-x', data: 'x'.repeat(257 * 1024) }));
    assert.equal((await raw.closedWithin()).code, 1009);
    await stillServing();
  });

  it('accepts a frame just under 256 KB (and refuses its oversized client event without closing)', async () => {
    const raw = await socket();
    raw.sendRaw(JSON.stringify({ event: 'client-big', channel: 'private-x', data: 'x'.repeat(250 * 1024) }));
    assert.equal((await raw.error()).code, 4301);
    await stillServing(raw);
  });

  const badChannels: [string, string, RegExp][] = [
    ['bad characters', 'hello world!', /channel/],
    ['more than 164 characters', `c${'x'.repeat(164)}`, /164/],
    ['a reserved # prefix', '#secret', /#/],
    ['a bare prefix', 'private-', /prefix/],
  ];
  for (const [what, channel, names] of badChannels) {
    it(`refuses a channel name with ${what} with subscription_error`, async () => {
      const raw = await socket();
      const result = await raw.subscribe(channel);
      assert.equal(result.event, 'pusher:subscription_error');
      assert.equal((result.data as { status: number }).status, 400);
      assert.match((await raw.error()).message, names);
      await stillServing(raw);
    });
  }

  it('accepts a channel name of exactly 164 characters with every allowed character', async () => {
    const raw = await socket();
    const name = `Az09_-=@,.;${'x'.repeat(153)}`;
    assert.equal(name.length, 164);
    assert.equal((await raw.subscribe(name)).event, 'pusher_internal:subscription_succeeded');
  });

  it('refuses #server-to-user- of another user, and of anyone when not signed in', async () => {
    const anonymous = await socket();
    assert.equal((await anonymous.subscribe('#server-to-user-someone')).event, 'pusher:subscription_error');
    const signedIn = await harness.raw();
    const { socketId } = await signedIn.established();
    signedIn.send({ event: 'pusher:signin', data: harness.backend().authenticateUser(socketId, { id: 'me' }) });
    await signedIn.next('pusher:signin_success');
    assert.equal((await signedIn.subscribe('#server-to-user-someone')).event, 'pusher:subscription_error');
    assert.equal((await signedIn.subscribe('#server-to-user-me')).event, 'pusher_internal:subscription_succeeded');
    await stillServing(anonymous);
  });

  it('refuses a client event name over 200 characters, and a non-client event name over 200 characters', async () => {
    const raw = await socket();
    raw.send({ event: `client-${'x'.repeat(200)}`, channel: 'private-x', data: {} });
    assert.equal((await raw.error()).code, 4301);
    raw.send({ event: 'y'.repeat(5000), data: {} });
    const error = await raw.error();
    assert.equal(error.code, null);
    assert.ok(error.message.length < 1000, 'the error does not echo the whole name');
    await stillServing(raw);
  });

  it('refuses huge channel_data on a presence subscription without closing', async () => {
    const raw = await socket();
    const { socket_id: socketId } = raw.frames[0].data as { socket_id: string };
    const data = { user_id: 'huge', user_info: { blob: 'x'.repeat(100 * 1024) } };
    const { auth, channel_data } = harness.backend().authorizeChannel(socketId, 'presence-huge', data);
    const result = await raw.subscribe('presence-huge', auth, channel_data);
    assert.equal(result.event, 'pusher:subscription_error');
    await stillServing(raw);
  });

  it('refuses channel_data that is not a JSON object, even when signed', async () => {
    const raw = await socket();
    const { socket_id: socketId } = raw.frames[0].data as { socket_id: string };
    for (const channelData of ['not json', '[1,2]', '{"user_info": {}}', '{"user_id": ""}']) {
      const result = await raw.subscribe('presence-odd', signRaw(harness.app, socketId, 'presence-odd', channelData), channelData);
      assert.equal(result.event, 'pusher:subscription_error', `channel_data ${channelData}`);
    }
    await stillServing(raw);
  });
});

/** Signs `socket_id:channel:channel_data` for any channel_data string, as a careless backend might. */
function signRaw(app: { key: string; secret: string }, socketId: string, channel: string, channelData: string): string {
  const signature = createHmac('sha256', app.secret).update(`${socketId}:${channel}:${channelData}`).digest('hex');
  return `${app.key}:${signature}`;
}
