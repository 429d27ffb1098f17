import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { plainRequest, sdkFailure, signedRequest, type ApiResponse } from '../helpers/http.js';
import type { RawClient } from '../helpers/raw-client.js';

const OFF_APP = { id: 'off-app', key: 'off-key', secret: 'off-secret', enabled: false };

/** Asserts a real error status with a JSON `{ error, code }` body. */
function assertError(response: { status: number; body: Record<string, unknown> | null }, status: number, names?: RegExp): void {
  assert.equal(response.status, status, `status of ${JSON.stringify(response.body)}`);
  assert.equal(typeof response.body?.error, 'string', 'body has an error message');
  assert.equal(typeof response.body?.code, 'string', 'body has an error code');
  if (names) assert.match(String(response.body?.error), names);
}

describe('HTTP API: events', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ apps: [TEST_APP, OFF_APP] });
  });
  after(() => harness.close());

  async function subscriber(channel: string): Promise<RawClient & { socketId: string }> {
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    let auth: string | undefined;
    let channelData: string | undefined;
    if (channel.startsWith('private-') || channel.startsWith('presence-')) {
      ({ auth, channel_data: channelData } = harness.backend().authorizeChannel(socketId, channel, channel.startsWith('presence-') ? { user_id: `u${socketId}` } : undefined));
    }
    assert.equal((await raw.subscribe(channel, auth, channelData)).event, 'pusher_internal:subscription_succeeded');
    return Object.assign(raw, { socketId });
  }

  const post = (path: string, body: unknown, extra: Partial<Parameters<typeof signedRequest>[2]> = {}): Promise<ApiResponse> =>
    signedRequest(harness.baseUrl, harness.app, { method: 'POST', path, body: JSON.stringify(body), ...extra });

  it('triggers an event on one channel', async () => {
    const raw = await subscriber('single');
    const response = await harness.backend().trigger('single', 'ping', { n: 1 });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {});
    assert.deepEqual((await raw.next('ping')).data, { n: 1 });
  });

  it('triggers an event on several channels at once, up to 100', async () => {
    const a = await subscriber('multi-a');
    const b = await subscriber('multi-b');
    const channels = ['multi-a', 'multi-b', ...Array.from({ length: 98 }, (_, i) => `filler-${i}`)];
    await harness.backend().trigger(channels, 'fanout', { ok: true });
    assert.equal((await a.next('fanout')).channel, 'multi-a');
    assert.equal((await b.next('fanout')).channel, 'multi-b');
  });

  it('refuses more than 100 channels with 400', async () => {
    const channels = Array.from({ length: 101 }, (_, i) => `too-many-${i}`);
    assertError(await post('/events', { name: 'e', data: '{}', channels }), 400, /channels/);
  });

  it('excludes the socket named in socket_id', async () => {
    const excluded = await subscriber('exclusion');
    const included = await subscriber('exclusion');
    await harness.backend().trigger('exclusion', 'news', { n: 2 }, { socket_id: excluded.socketId });
    await included.next('news');
    await excluded.none('news', 100);
  });

  it('answers info=subscription_count,user_count on trigger', async () => {
    await subscriber('presence-info');
    await subscriber('presence-info');
    await subscriber('counted-info');
    const response = await harness.backend().trigger(['presence-info', 'counted-info'], 'e', {}, { info: 'subscription_count,user_count' });
    assert.deepEqual(await response.json(), {
      channels: { 'presence-info': { subscription_count: 2, user_count: 2 }, 'counted-info': { subscription_count: 1 } },
    });
  });

  it('answers trigger info for a channel named "__proto__"', async () => {
    await subscriber('__proto__');
    const response = await harness.backend().trigger(['__proto__', 'constructor'], 'e', {}, { info: 'subscription_count' });
    const text = await response.text();
    assert.deepEqual(JSON.parse(text), { channels: { ['__proto__']: { subscription_count: 1 }, constructor: { subscription_count: 0 } } });
    assert.match(text, /"__proto__":\{"subscription_count":1\}/);
  });

  it('triggers a batch of up to 10 events, with info per event', async () => {
    const raw = await subscriber('batched');
    const batch = Array.from({ length: 10 }, (_, i) => ({ channel: 'batched', name: `b${i}`, data: { i }, info: 'subscription_count' }));
    const response = await harness.backend().triggerBatch(batch);
    const body = (await response.json()) as { batch: { subscription_count: number }[] };
    assert.equal(body.batch.length, 10);
    assert.deepEqual(body.batch[0], { subscription_count: 1 });
    for (let i = 0; i < 10; i++) assert.deepEqual((await raw.next(`b${i}`)).data, { i });
  });

  it('refuses a batch of 11 events with 400 and publishes none of them', async () => {
    const raw = await subscriber('batched-over');
    const batch = Array.from({ length: 11 }, (_, i) => ({ channel: 'batched-over', name: `over${i}`, data: '{}' }));
    const failure = await sdkFailure(harness.backend().triggerBatch(batch));
    assertError(failure, 400, /batch/);
    await raw.none((f) => f.event.startsWith('over'), 100);
  });

  it('refuses event data over 10 KB with 413', async () => {
    const failure = await sdkFailure(harness.backend().trigger('big', 'e', { blob: 'x'.repeat(11 * 1024) }));
    assertError(failure, 413, /data/);
  });

  it('refuses a request body over the body limit with 413', async () => {
    const response = await post('/events', { name: 'e', data: 'x'.repeat(2 * 1024 * 1024), channels: ['c'] });
    assertError(response, 413);
  });

  it('refuses malformed JSON with 400', async () => {
    assertError(await signedRequest(harness.baseUrl, harness.app, { method: 'POST', path: '/events', body: '{"name": "e",' }), 400, /JSON/);
    assertError(await post('/events', ['not', 'an', 'object']), 400);
  });

  it('refuses a missing name, missing data, bad channel name, long event name or bad socket_id with 400 naming the field', async () => {
    assertError(await post('/events', { data: '{}', channels: ['c'] }), 400, /name/);
    assertError(await post('/events', { name: 'e', channels: ['c'] }), 400, /data/);
    assertError(await post('/events', { name: 'e', data: '{}', channels: ['bad channel!'] }), 400, /channels\[0\]/);
    assertError(await post('/events', { name: 'e'.repeat(201), data: '{}', channels: ['c'] }), 400, /name/);
    assertError(await post('/events', { name: 'e', data: '{}', channels: ['c'], socket_id: 'nope' }), 400, /socket_id/);
  });

  it('refuses a bad signature, a wrong key, a stale timestamp and a wrong body_md5 with 401', async () => {
    const body = { name: 'e', data: '{}', channels: ['c'] };
    assertError(await post('/events', body, { secret: 'wrong-secret' }), 401);
    assertError(await signedRequest(harness.baseUrl, { ...harness.app, key: 'other-key' }, { method: 'POST', path: '/events', body: JSON.stringify(body) }), 401);
    assertError(await post('/events', body, { timestamp: Math.floor(Date.now() / 1000) - 601 }), 401, /timestamp/);
    assertError(await post('/events', body, { bodyMd5: '0'.repeat(32) }), 401, /body_md5/);
    const sdk = await sdkFailure(harness.backend({ ...harness.app, secret: 'wrong-secret' }).trigger('c', 'e', {}));
    assertError(sdk, 401);
  });

  it('accepts a timestamp within 600 seconds', async () => {
    const response = await post('/events', { name: 'e', data: '{}', channels: ['c'] }, { timestamp: Math.floor(Date.now() / 1000) - 500 });
    assert.equal(response.status, 200);
  });

  it('answers 404 for an unknown app and 403 for a disabled one', async () => {
    assertError(await post('/events', { name: 'e', data: '{}', channels: ['c'] }, { appId: 'no-such-app' }), 404);
    const off = await signedRequest(harness.baseUrl, OFF_APP, { method: 'POST', path: '/events', body: JSON.stringify({ name: 'e', data: '{}', channels: ['c'] }) });
    assertError(off, 403);
  });

  it('answers JSON 404 for an unknown route and 405 for a wrong method', async () => {
    assertError(await plainRequest(`${harness.baseUrl}/nowhere`), 404);
    assertError(await plainRequest(`${harness.baseUrl}/apps/${harness.app.id}/events`), 405);
  });

  it('answers /health and /ready with 200', async () => {
    const health = await plainRequest(`${harness.baseUrl}/health`);
    assert.equal(health.status, 200);
    const ready = await plainRequest(`${harness.baseUrl}/ready`);
    assert.equal(ready.status, 200);
  });
});

describe('HTTP API: channels', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
    for (const channel of ['presence-lobby', 'presence-lobby', 'presence-hall', 'public-room', 'cache-board']) {
      const raw = await harness.raw();
      const { socketId } = await raw.established();
      const presence = channel.startsWith('presence-') ? { user_id: `user-${socketId}`, user_info: { x: 1 } } : undefined;
      const signed = presence ? harness.backend().authorizeChannel(socketId, channel, presence) : undefined;
      await raw.subscribe(channel, signed?.auth, signed?.channel_data);
    }
    const user = await harness.raw();
    const { socketId } = await user.established();
    user.send({ event: 'pusher:signin', data: harness.backend().authenticateUser(socketId, { id: 'hidden' }) });
    await user.next('pusher:signin_success');
    await user.subscribe('#server-to-user-hidden');
  });
  after(() => harness.close());

  const get = async (path: string, params?: Record<string, string>) => (await harness.backend().get({ path, params })).json();

  it('lists occupied channels, hiding #server-to-user- ones', async () => {
    const body = (await get('/channels')) as { channels: Record<string, object> };
    assert.deepEqual(Object.keys(body.channels).sort(), ['cache-board', 'presence-hall', 'presence-lobby', 'public-room']);
  });

  it('filters by prefix and reports user_count and subscription_count', async () => {
    assert.deepEqual(await get('/channels', { filter_by_prefix: 'presence-', info: 'user_count,subscription_count' }), {
      channels: {
        'presence-lobby': { user_count: 2, subscription_count: 2 },
        'presence-hall': { user_count: 1, subscription_count: 1 },
      },
    });
    assert.deepEqual(await get('/channels', { filter_by_prefix: 'public-', info: 'subscription_count' }), {
      channels: { 'public-room': { subscription_count: 1 } },
    });
  });

  it('refuses info=user_count without a presence- prefix with 400', async () => {
    assertError(await sdkFailure(harness.backend().get({ path: '/channels', params: { info: 'user_count' } })), 400, /user_count/);
    assertError(await sdkFailure(harness.backend().get({ path: '/channels', params: { info: 'bogus' } })), 400, /bogus/);
  });

  it('describes one channel: occupied, counts and cache', async () => {
    assert.deepEqual(await get('/channels/public-room', { info: 'subscription_count' }), { occupied: true, subscription_count: 1 });
    assert.deepEqual(await get('/channels/empty-room'), { occupied: false });
    assert.deepEqual(await get('/channels/presence-lobby', { info: 'user_count,subscription_count' }), {
      occupied: true,
      user_count: 2,
      subscription_count: 2,
    });
    assert.deepEqual(await get('/channels/cache-board', { info: 'cache' }), { occupied: true, cache: null });
    await harness.backend().trigger('cache-board', 'posted', { n: 1 });
    const cached = (await get('/channels/cache-board', { info: 'cache' })) as { cache: { event: string; data: string; ttl: number } };
    assert.equal(cached.cache.event, 'posted');
    assert.deepEqual(JSON.parse(cached.cache.data), { n: 1 });
    assert.ok(cached.cache.ttl > 0);
  });

  it('lists the users of a presence channel', async () => {
    const body = (await get('/channels/presence-lobby/users')) as { users: { id: string }[] };
    assert.equal(body.users.length, 2);
    for (const user of body.users) assert.match(user.id, /^user-\d+\.\d+$/);
  });

  it('refuses users of a non-presence channel and an invalid channel name with 400', async () => {
    assertError(await sdkFailure(harness.backend().get({ path: '/channels/public-room/users' })), 400);
    assertError(await sdkFailure(harness.backend().get({ path: '/channels/bad%20name' })), 400);
  });

  it('lists a channel named "__proto__"', async () => {
    const raw = await harness.raw();
    await raw.established();
    await raw.subscribe('__proto__');
    const text = await (await harness.backend().get({ path: '/channels', params: { info: 'subscription_count' } })).text();
    assert.match(text, /"__proto__":\{"subscription_count":1\}/);
  });
});
