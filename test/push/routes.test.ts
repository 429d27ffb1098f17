/** The push routes of design.md §6: VAPID public key, devices, preferences; per-user auth, bad input. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { generateVapidKeys } from '../../src/push/web-push-crypto.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { signedCall, tokenCall } from '../helpers/inbox.js';
import { LocalPushService } from './local-push-service.js';
import { userCall, type UserCall } from './push-helpers.js';

const APP = {
  id: 'routes-app',
  key: 'routes-key',
  secret: 'routes-secret',
  categories: { security: { locked: true }, marketing: { default: false } },
};

describe('push routes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-push-routes-'));
  const service = new LocalPushService();
  let harness: Harness;
  let ana: UserCall;
  before(async () => {
    await service.start();
    harness = await startHarness({ apps: [APP], deps: { store: SqliteStore.open(join(dir, 'herald.db')) } });
    ana = await userCall(harness, 'ana');
  });
  after(async () => {
    await harness?.close();
    await harness?.server.store.close();
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a VAPID public key without auth, generated once and kept across restarts', async () => {
    const first = await fetch(`${harness.baseUrl}/apps/${APP.id}/push/vapid-public-key`);
    assert.equal(first.status, 200);
    const { public_key: key } = (await first.json()) as { public_key: string };
    assert.equal(Buffer.from(key, 'base64url').length, 65);
    assert.equal((await fetch(`${harness.baseUrl}/apps/unknown/push/vapid-public-key`)).status, 404);
    const again = await startHarness({ apps: [APP], deps: { store: SqliteStore.open(join(dir, 'herald.db')) } });
    try {
      const reply = (await (await fetch(`${again.baseUrl}/apps/${APP.id}/push/vapid-public-key`)).json()) as { public_key: string };
      assert.equal(reply.public_key, key, 'the stored pair, not a new one');
    } finally {
      await again.close();
      await again.server.store.close();
    }
    const configured = generateVapidKeys();
    const withKeys = await startHarness({
      apps: [{ ...APP, push: { vapid: { subject: 'mailto:a@example.com', public_key: configured.publicKey, private_key: configured.privateKey } } }],
    });
    try {
      const reply = (await (await fetch(`${withKeys.baseUrl}/apps/${APP.id}/push/vapid-public-key`)).json()) as { public_key: string };
      assert.equal(reply.public_key, configured.publicKey);
    } finally {
      await withKeys.close();
    }
  });

  it('registers a subscription once, lists and removes devices', async () => {
    const subscription = service.subscribe();
    const first = await ana('POST', '/users/ana/devices', { kind: 'webpush', subscription: { ...subscription.json, expirationTime: null } });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual(Object.keys(first.body).sort(), ['created_at', 'id', 'kind']);
    assert.equal(first.body.kind, 'webpush');
    const second = await ana('POST', '/users/ana/devices', { kind: 'webpush', subscription: subscription.json });
    assert.equal(second.status, 201);
    assert.equal(second.body.id, first.body.id, 'the same subscription twice is one device');
    const fcm = await ana('POST', '/users/ana/devices', { kind: 'fcm', token: 'fcm-token-1' });
    const apns = await signedCall(harness.baseUrl, harness.app, 'POST', '/users/ana/devices', { kind: 'apns', token: 'a1b2c3' });
    assert.deepEqual([fcm.status, apns.status], [201, 201]);
    const list = await ana<{ devices: Record<string, unknown>[] }>('GET', '/users/ana/devices');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.devices.map((d) => [d.id, d.kind]), [
      [first.body.id, 'webpush'],
      [fcm.body.id, 'fcm'],
      [apns.body.id, 'apns'],
    ]);
    assert.equal(list.body.devices[0].endpoint, subscription.json.endpoint);
    const removed = await ana('DELETE', `/users/ana/devices/${fcm.body.id}`);
    assert.equal(removed.status, 200);
    assert.equal((await ana('DELETE', `/users/ana/devices/${fcm.body.id}`)).status, 404);
    assert.equal((await ana<{ devices: unknown[] }>('GET', '/users/ana/devices')).body.devices.length, 2);
  });

  it("refuses another user's devices and preferences, and tokens that are not valid", async () => {
    assert.equal((await ana('GET', '/users/bob/devices')).status, 403);
    assert.equal((await ana('POST', '/users/bob/devices', { kind: 'fcm', token: 'x' })).status, 403);
    assert.equal((await ana('PUT', '/users/bob/preferences', {})).status, 403);
    assert.equal((await tokenCall(harness.baseUrl, APP.id, 'not-a-token', 'GET', '/users/ana/devices')).status, 401);
    assert.equal((await tokenCall(harness.baseUrl, APP.id, null, 'GET', '/users/ana/preferences')).status, 401);
  });

  it('answers 400 naming what is wrong with a device', async () => {
    const cases: [unknown, RegExp][] = [
      [{ kind: 'sms', token: 'x' }, /"kind"/],
      [{ kind: 'webpush' }, /"subscription"/],
      [{ kind: 'webpush', subscription: { endpoint: 'ftp://x/y', keys: { p256dh: 'a', auth: 'b' } } }, /endpoint/],
      [{ kind: 'webpush', subscription: { endpoint: 'https://push.example/x', keys: { p256dh: 'AAAA', auth: 'BBBB' } } }, /p256dh/],
      [{ kind: 'fcm', token: '' }, /"token"/],
      [{ kind: 'apns', token: 'has space' }, /"token"/],
      [{ kind: 'fcm', token: 't', colour: 1 }, /"colour"/],
    ];
    for (const [body, pattern] of cases) {
      const reply = await ana<{ error: string; code: string }>('POST', '/users/ana/devices', body);
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.match(reply.body.error, pattern);
    }
  });

  it('stores preferences and answers their effective result under the app categories', async () => {
    const initial = await ana('GET', '/users/ana/preferences');
    assert.equal(initial.status, 200);
    assert.deepEqual(initial.body, {
      push: true,
      categories: {},
      quiet_hours: null,
      effective: {
        push: true,
        categories: { marketing: { in_app: false, push: false, locked: false }, security: { in_app: true, push: true, locked: true } },
        quiet_hours: null,
        in_quiet_hours: false,
      },
    });
    const body = {
      push: true,
      categories: { security: { push: false }, marketing: { push: true, in_app: true }, billing: { push: false } },
      quiet_hours: { tz: 'America/New_York', start: '22:00', end: '07:00' },
    };
    const put = await ana('PUT', '/users/ana/preferences', body);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const got = await ana<typeof body & { effective: { categories: Record<string, unknown> } }>('GET', '/users/ana/preferences');
    assert.deepEqual({ push: got.body.push, categories: got.body.categories, quiet_hours: got.body.quiet_hours }, body);
    assert.deepEqual(got.body.effective.categories, {
      billing: { in_app: true, push: false, locked: false },
      marketing: { in_app: true, push: true, locked: false },
      security: { in_app: true, push: true, locked: true },
    });
    const bad = await ana<{ error: string }>('PUT', '/users/ana/preferences', { quiet_hours: { tz: 'Nowhere/Land', start: '22:00', end: '07:00' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /quiet_hours\.tz/);
    const backend = await signedCall(harness.baseUrl, harness.app, 'GET', '/users/ana/preferences');
    assert.equal(backend.status, 200, 'the backend reads any user');
  });
});
