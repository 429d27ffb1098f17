/**
 * Delivery through each provider against local servers: Web Push, FCM HTTP v1 (OAuth2 JWT grant)
 * and APNs over HTTP/2 with token auth. Each provider's 404/410 removes the device, 429 is
 * retried after Retry-After, 500 is retried and then parked; every outcome is a signed webhook.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Pusher from 'pusher';
import { apnsId } from '../../src/push/providers/apns.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { waitFor } from '../helpers/wait.js';
import { named, Receiver, type HookEvent } from '../webhooks/receiver.js';
import { FCM_UNREGISTERED, LocalApns, LocalFcm } from './local-providers.js';
import { LocalPushService } from './local-push-service.js';
import { userCall } from './push-helpers.js';

const MAX_ATTEMPTS = 3;

describe('push providers (local Web Push, FCM and APNs servers)', () => {
  const webPush = new LocalPushService();
  const fcm = new LocalFcm();
  const apns = new LocalApns();
  let receiver: Receiver;
  let harness: Harness;
  let backend: Pusher;
  let users = 0;

  before(async () => {
    await Promise.all([webPush.start(), fcm.start(), apns.start()]);
    receiver = await Receiver.start();
    harness = await startHarness({
      apps: [
        {
          id: 'providers-app',
          key: 'providers-key',
          secret: 'providers-secret',
          push: { fcm: fcm.options, apns: apns.options, default: { policy: 'if_unseen', delay_seconds: 0, ttl_seconds: 600, urgency: 'normal' } },
          webhooks: [{ url: receiver.url(), events: ['push_sent', 'push_failed', 'push_device_removed'] }],
        },
      ],
      deps: {
        push: { pollIntervalMs: 40, retryInitialMs: 100, retryMaxMs: 400, maxAttempts: MAX_ATTEMPTS },
        webhooks: { batchWindowMs: 20, pollIntervalMs: 50 },
      },
    });
    backend = harness.backend();
  });
  after(async () => {
    await harness?.close();
    await receiver?.down();
    await Promise.all([webPush.close(), fcm.close(), apns.close()]);
  });

  /** A new user with one device; returns the user id and the device id. */
  async function userWith(device: Record<string, unknown>): Promise<{ user: string; deviceId: string }> {
    const user = `user-${++users}`;
    const reply = await (await userCall(harness, user))('POST', `/users/${user}/devices`, device);
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    return { user, deviceId: reply.body.id as string };
  }

  async function push(user: string, notification: Record<string, unknown> = {}): Promise<string> {
    const id = `n-${user}-${Math.random().toString(36).slice(2, 8)}`;
    await backend.post({ path: '/notifications', body: { user_ids: [user], notification: { id, heading: 'Heads up', content: `for ${user}`, ...notification } } as unknown as string });
    return id;
  }

  async function hook(name: string, user: string): Promise<HookEvent> {
    const events = await receiver.waitForEvents(backend, (all) => named(all, name).some((e) => e.user_id === user), `${name} webhook for ${user}`);
    return named(events, name).find((e) => e.user_id === user)!;
  }

  async function devicesOf(user: string): Promise<unknown[]> {
    const reply = await (await userCall(harness, user))<{ devices: unknown[] }>('GET', `/users/${user}/devices`);
    return reply.body.devices;
  }

  it('FCM: gets an access token with the service account, sends the notification and its data', async () => {
    const { user, deviceId } = await userWith({ kind: 'fcm', token: 'fcm-ok' });
    const id = await push(user, { image_url: 'https://example.com/a.png' });
    await waitFor(() => fcm.accepted('fcm-ok').length === 1, 'FCM message');
    const message = (fcm.accepted('fcm-ok')[0] as { message: Record<string, any> }).message;
    assert.deepEqual(message.notification, { title: 'Heads up', body: `for ${user}`, image: 'https://example.com/a.png' });
    const herald = JSON.parse(message.data.herald as string) as Record<string, unknown>;
    assert.equal(herald.id, id);
    assert.equal(herald.badge, 1);
    assert.equal(message.android.collapse_key, id);
    assert.equal(fcm.rejected.length, 0, fcm.rejected.join('; '));
    const event = await hook('push_sent', user);
    assert.deepEqual(event, { name: 'push_sent', user_id: user, device_id: deviceId, device_kind: 'fcm', ids: [id] });
  });

  it('FCM: asks for a new access token when the old one is refused (401)', async () => {
    const { user } = await userWith({ kind: 'fcm', token: 'fcm-401' });
    const before = fcm.tokenRequests;
    fcm.revokeTokens();
    await push(user);
    await waitFor(() => fcm.accepted('fcm-401').length === 1, 'FCM message after a new token');
    assert.ok(fcm.tokenRequests > before);
  });

  it('FCM: UNREGISTERED (404) removes the device', async () => {
    const { user, deviceId } = await userWith({ kind: 'fcm', token: 'fcm-gone' });
    fcm.script('fcm-gone', FCM_UNREGISTERED);
    await push(user);
    const event = await hook('push_device_removed', user);
    assert.equal(event.device_id, deviceId);
    assert.deepEqual(await devicesOf(user), []);
  });

  it('FCM: 429 waits for Retry-After, then sends', async () => {
    const { user } = await userWith({ kind: 'fcm', token: 'fcm-429' });
    fcm.script('fcm-429', { status: 429, body: { error: { status: 'RESOURCE_EXHAUSTED' } }, retryAfter: '1' });
    await push(user);
    await waitFor(() => fcm.accepted('fcm-429').length === 1, 'FCM message after 429', 8_000);
    const tries = fcm.requests.filter((r) => r.token === 'fcm-429');
    assert.equal(tries.length, 2);
    assert.ok(harness.server.pushWorker.counters.retries >= 1);
  });

  it('APNs: HTTP/2 with the provider token, topic, push type, collapse id and expiration', async () => {
    const { user } = await userWith({ kind: 'apns', token: 'abc123' });
    const id = await push(user);
    await waitFor(() => apns.accepted('abc123').length === 1, 'APNs notification');
    const request = apns.requests.find((r) => r.token === 'abc123')!;
    assert.equal(request.headers['apns-collapse-id'], id);
    assert.equal(request.headers['apns-priority'], '10');
    const expiration = Number(request.headers['apns-expiration']);
    assert.ok(Math.abs(expiration - (Date.now() / 1000 + 600)) < 30, `apns-expiration ${expiration}`);
    const body = request.body as { aps: Record<string, any>; herald: Record<string, unknown> };
    assert.deepEqual(body.aps.alert, { title: 'Heads up', body: `for ${user}` });
    assert.equal(body.aps.badge, 1);
    assert.equal(body.herald.id, id);
    // The same on every attempt of this message to this device: a resend after a crash is the same notification to APNs.
    assert.equal(request.headers['apns-id'], apnsId(String(body.herald.message_id), ((await devicesOf(user))[0] as { id: string }).id));
    assert.equal(apns.rejected.length, 0, apns.rejected.join('; '));
  });

  it('APNs: 410 Unregistered removes the device; 429 is retried; 500 until parked', async () => {
    const gone = await userWith({ kind: 'apns', token: 'dead' });
    apns.script('dead', { status: 410, body: { reason: 'Unregistered', timestamp: Date.now() } });
    const busy = await userWith({ kind: 'apns', token: 'busy' });
    apns.script('busy', { status: 429, body: { reason: 'TooManyRequests' } });
    const broken = await userWith({ kind: 'apns', token: 'broken' });
    apns.script('broken', ...Array.from({ length: MAX_ATTEMPTS }, () => ({ status: 500, body: { reason: 'InternalServerError' } })));
    const brokenId = await push(broken.user);
    await Promise.all([push(gone.user), push(busy.user)]);
    await hook('push_device_removed', gone.user);
    assert.deepEqual(await devicesOf(gone.user), []);
    await waitFor(() => apns.accepted('busy').length === 1, 'APNs after 429');
    const failed = await hook('push_failed', broken.user);
    assert.deepEqual(
      { ids: failed.ids, attempts: failed.attempts, kind: failed.device_kind, device: failed.device_id },
      { ids: [brokenId], attempts: MAX_ATTEMPTS, kind: 'apns', device: broken.deviceId },
    );
    assert.match(String(failed.error), /500/);
    assert.equal(apns.requests.filter((r) => r.token === 'broken').length, MAX_ATTEMPTS);
    assert.equal((await devicesOf(broken.user)).length, 1, 'a failing device is kept');
  });

  it('Web Push: 404 and 410 remove the subscription, 429 and 500 are retried', async () => {
    const s404 = webPush.subscribe();
    const s410 = webPush.subscribe();
    const s429 = webPush.subscribe();
    const s500 = webPush.subscribe();
    webPush.script(s404, { status: 404 });
    webPush.script(s410, { status: 410 });
    webPush.script(s429, { status: 429, retryAfter: '1' });
    webPush.script(s500, { status: 500 }, { status: 503 });
    const owners = [];
    for (const subscription of [s404, s410, s429, s500]) owners.push((await userWith({ kind: 'webpush', subscription: subscription.json })).user);
    for (const user of owners) await push(user);
    await hook('push_device_removed', owners[0]);
    await hook('push_device_removed', owners[1]);
    await waitFor(() => webPush.delivered(s429).length === 1 && webPush.delivered(s500).length === 1, 'web push after retries', 8_000);
    const [first, second] = webPush.received.filter((r) => r.subscription === s429.id);
    assert.ok(second.at - first.at >= 900, `Retry-After honoured: ${second.at - first.at} ms`);
    assert.equal(webPush.rejected.length, 0, webPush.rejected.join('; '));
    assert.deepEqual(await devicesOf(owners[0]), []);
    const counts = await harness.server.store.offline.countPush();
    assert.equal(counts.pending, 0);
    assert.ok(counts.parked >= 1);
  });

  it('a device of a provider the app does not configure gets nothing', async () => {
    const plain = await startHarness({ apps: [{ id: 'plain', key: 'plain-key', secret: 'plain-secret', push: { default: { policy: 'always', delay_seconds: 0 } } }], deps: { push: { pollIntervalMs: 40 } } });
    try {
      const user = await userCall(plain, 'u');
      await user('POST', '/users/u/devices', { kind: 'apns', token: 'unconfigured' });
      await plain.backend().post({ path: '/notifications', body: { user_ids: ['u'], notification: { content: 'x' } } as unknown as string });
      await waitFor(() => plain.server.pushWorker.counters.evaluated === 1, 'evaluated');
      assert.deepEqual(await plain.server.store.offline.countPush(), { jobs: 0, pending: 0, parked: 0 });
    } finally {
      await plain.close();
    }
  });
});
