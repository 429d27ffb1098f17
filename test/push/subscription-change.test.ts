/**
 * The service worker's `pushsubscriptionchange` steps (src/client/push-registration.ts) against a
 * real Herald: the new subscription becomes the user's device and the old device is removed. The
 * browser's part (subscribe, IndexedDB) is injected; the event itself cannot be fired in headless
 * Chromium without a vendor push service.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { renewSubscription, type PushRegistration, type RegistrationStore } from '../../src/client/push-registration.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { LocalPushService } from './local-push-service.js';
import { longToken, userCall } from './push-helpers.js';

const APP = { id: 'renew-app', key: 'renew-key', secret: 'renew-secret' };

/** A registration kept in memory (IndexedDB in the browser). */
class MemoryRegistrations implements RegistrationStore {
  constructor(public value: PushRegistration | null) {}
  async get(): Promise<PushRegistration | null> {
    return this.value;
  }
  async put(registration: PushRegistration): Promise<void> {
    this.value = registration;
  }
}

describe('pushsubscriptionchange: renewing a Web Push device', () => {
  const service = new LocalPushService();
  let harness: Harness;
  before(async () => {
    await service.start();
    harness = await startHarness({ apps: [APP] });
  });
  after(async () => {
    await harness?.close();
    await service.close();
  });

  /** A user with one registered device, and what enableWebPush stored for it. */
  async function enabled(user: string, token?: string): Promise<MemoryRegistrations> {
    const call = await userCall(harness, user);
    const reply = await call<{ id: string }>('POST', `/users/${user}/devices`, { kind: 'webpush', subscription: service.subscribe().json });
    assert.equal(reply.status, 201);
    return new MemoryRegistrations({ heraldUrl: harness.baseUrl, appId: APP.id, userId: user, deviceId: reply.body.id, token: token ?? (await longToken(harness.app, user)) });
  }

  async function devicesOf(user: string): Promise<{ id: string; endpoint: string }[]> {
    const reply = await (await userCall(harness, user))<{ devices: { id: string; endpoint: string }[] }>('GET', `/users/${user}/devices`);
    return reply.body.devices;
  }

  it('registers the subscription the event carries and removes the old device', async () => {
    const store = await enabled('ana');
    const old = store.value!.deviceId;
    const fresh = service.subscribe();
    const result = await renewSubscription({ store, newSubscription: fresh.json, oldKey: null, subscribe: () => assert.fail('no subscribe needed'), fetch });
    assert.equal(result.kind, 'renewed');
    assert.deepEqual((await devicesOf('ana')).map((d) => d.endpoint), [fresh.json.endpoint]);
    assert.notEqual(store.value!.deviceId, old);
    assert.deepEqual(result, { kind: 'renewed', deviceId: store.value!.deviceId, removed: old });
  });

  it("subscribes again with the app's VAPID key when the event carries no new subscription", async () => {
    const store = await enabled('ben');
    const fresh = service.subscribe();
    const { public_key: publicKey } = (await (await fetch(`${harness.baseUrl}/apps/${APP.id}/push/vapid-public-key`)).json()) as { public_key: string };
    let usedKey = '';
    const result = await renewSubscription({
      store,
      newSubscription: null,
      oldKey: null,
      subscribe: async (key) => {
        usedKey = Buffer.from(key as Uint8Array).toString('base64url');
        return fresh.json;
      },
      fetch,
    });
    assert.equal(result.kind, 'renewed');
    assert.equal(usedKey, publicKey);
    assert.deepEqual((await devicesOf('ben')).map((d) => d.endpoint), [fresh.json.endpoint]);
  });

  it('uses the old subscription key when the event has it', async () => {
    const store = await enabled('cai');
    const key = new Uint8Array([4, 1, 2, 3]).buffer;
    let given: unknown = null;
    const result = await renewSubscription({ store, newSubscription: null, oldKey: key, subscribe: async (k) => ((given = k), service.subscribe().json), fetch });
    assert.equal(result.kind, 'renewed');
    assert.equal(given, key);
  });

  it('keeps the old device when Herald refuses the stored token, and does nothing when push was never enabled', async () => {
    const store = await enabled('dee', 'not-a-token');
    const before = await devicesOf('dee');
    const result = await renewSubscription({ store, newSubscription: service.subscribe().json, oldKey: null, subscribe: () => assert.fail('not asked'), fetch });
    assert.deepEqual(result, { kind: 'failed', error: 'registering the new subscription answered 401' });
    assert.deepEqual(await devicesOf('dee'), before);
    assert.deepEqual(await renewSubscription({ store: new MemoryRegistrations(null), newSubscription: null, oldKey: null, subscribe: () => assert.fail('not asked'), fetch }), { kind: 'not_enabled' });
  });
});
