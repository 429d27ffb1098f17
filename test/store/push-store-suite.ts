/** The PushStore contract (devices, preferences, VAPID keys, jobs, push outbox) as a suite run against every store. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { JobSettlement, NewDelivery, PushJob, PushJobSpec } from '../../src/store/push-store.js';
import type { InboxStore } from '../../src/store/store.js';
import { notification } from './store-suite.js';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const SPEC: PushJobSpec = { dueAt: at(60_000), policy: 'if_unseen', ttlSeconds: 3600, urgency: 'normal' };
const P256DH = 'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4';
const AUTH = 'BTBZMqHH6r4Tts7J_aSIgg';

function delivery(deviceId: string, userId = 'u1', overrides: Partial<NewDelivery> = {}): NewDelivery {
  return {
    appId: 'a',
    userId,
    deviceId,
    message: '{"id":"n1"}',
    urgency: 'normal',
    collapseKey: 'n1',
    expiresAt: at(3_600_000),
    createdAt: at(60_000),
    ...overrides,
  };
}

const settle = (jobs: PushJob[], deliveries: NewDelivery[] = []): JobSettlement => ({ done: jobs, held: [], deliveries });

/** Runs the contract; `createStore` gives a fresh, empty store for each test, `dispose` removes it. */
export function runPushStoreSuite(name: string, createStore: () => Promise<InboxStore>, dispose: (store: InboxStore) => Promise<void>): void {
  describe(`PushStore contract: ${name}`, () => {
    let store: InboxStore;
    beforeEach(async () => {
      store = await createStore();
      await store.migrate();
    });
    afterEach(() => dispose(store));

    it('keeps one device per subscription or token, moving it to the user who adds it again', async () => {
      const push = store.offline;
      const first = await push.addDevice('a', 'u1', { kind: 'webpush', endpoint: 'https://push.example/1', p256dh: P256DH, auth: AUTH }, T0);
      const again = await push.addDevice('a', 'u1', { kind: 'webpush', endpoint: 'https://push.example/1', p256dh: P256DH, auth: AUTH }, at(1));
      assert.equal(again.id, first.id);
      const fcm = await push.addDevice('a', 'u1', { kind: 'fcm', token: 'tok' }, at(2));
      const apns = await push.addDevice('a', 'u1', { kind: 'apns', token: 'tok' }, at(3));
      assert.notEqual(fcm.id, apns.id, 'the same token of two providers is two devices');
      assert.deepEqual((await push.listDevices('a', 'u1')).map((d) => d.id), [first.id, fcm.id, apns.id]);
      const moved = await push.addDevice('a', 'u2', { kind: 'fcm', token: 'tok' }, at(4));
      assert.equal(moved.id, fcm.id);
      assert.deepEqual((await push.listDevices('a', 'u1')).map((d) => d.id), [first.id, apns.id]);
      assert.equal(await push.removeDevice('a', 'u1', fcm.id), false, "another user's device is not removable");
      assert.equal(await push.removeDevice('a', 'u2', fcm.id), true);
      assert.deepEqual(await push.listDevices('a', 'u2'), []);
      assert.deepEqual(await push.listDevices('other-app', 'u1'), []);
    });

    it('stores preferences and the first VAPID key pair offered', async () => {
      const push = store.offline;
      assert.equal(await push.getPreferences('a', 'u1'), null);
      const preferences = { push: false, categories: { billing: { push: true } }, quiet_hours: { tz: 'Europe/Berlin', start: '22:00', end: '07:00' } };
      await push.putPreferences('a', 'u1', preferences, T0);
      assert.deepEqual(await push.getPreferences('a', 'u1'), preferences);
      const first = await push.vapidKeys('a', { publicKey: 'P1', privateKey: 'K1' }, T0);
      const second = await push.vapidKeys('a', { publicKey: 'P2', privateKey: 'K2' }, T0);
      assert.deepEqual([first, second], [{ publicKey: 'P1', privateKey: 'K1' }, { publicKey: 'P1', privateKey: 'K1' }]);
    });

    it("stores jobs in the push's transaction, only for users with a device", async () => {
      const push = store.offline;
      await push.addDevice('a', 'u1', { kind: 'fcm', token: 't1' }, T0);
      await store.push('a', ['u1', 'u2'], notification('n1'), null, T0, SPEC);
      await assert.rejects(store.push('a', ['u3', 'u1'], notification('n1'), null, T0, SPEC), /already exists/);
      assert.equal((await push.countPush()).jobs, 1);
      assert.deepEqual(await push.claimDueJobs(at(59_999), at(120_000), 10, 'node'), [], 'not due before its time');
      const jobs = await push.claimDueJobs(at(60_000), at(120_000), 10, 'node');
      assert.deepEqual(
        jobs.map((j) => [j.appId, j.userId, j.notificationId, j.dueAt.getTime(), j.policy, j.ttlSeconds, j.urgency]),
        [['a', 'u1', 'n1', SPEC.dueAt.getTime(), 'if_unseen', 3600, 'normal']],
      );
    });

    it('leases jobs to one claimer; a settlement needs the lease, and holds or removes them with their deliveries in one step', async () => {
      const push = store.offline;
      const device = await push.addDevice('a', 'u1', { kind: 'fcm', token: 't1' }, T0);
      await store.push('a', ['u1'], notification('n1'), null, T0, SPEC);
      await store.push('a', ['u1'], notification('n2'), null, T0, SPEC);
      const jobs = await push.claimDueJobs(at(60_000), at(120_000), 10, 'node-a');
      assert.equal(jobs.length, 2);
      assert.deepEqual(await push.claimDueJobs(at(60_000), at(120_000), 10, 'node-b'), [], 'leased to node-a');
      const stolen = await push.claimDueJobs(at(120_000), at(180_000), 10, 'node-b');
      assert.equal(stolen.length, 2, 'taken over once the lease ran out');
      assert.equal(await push.settleJobs(jobs[0].lease, settle(jobs, [delivery(device.id)])), false, 'the old lease settles nothing');
      assert.equal((await push.countPush()).pending, 0);
      const [n1, n2] = stolen;
      assert.equal(await push.settleJobs(n1.lease, { done: [n1], held: [{ job: n2, until: at(500_000) }], deliveries: [delivery(device.id)] }), true);
      assert.deepEqual(await push.countPush(), { jobs: 1, pending: 1, parked: 0 });
      assert.deepEqual(await push.claimDueJobs(at(499_999), at(600_000), 10, 'node-b'), []);
      assert.deepEqual((await push.claimDueJobs(at(500_000), at(600_000), 10, 'node-b')).map((j) => j.notificationId), ['n2']);
    });

    it('leases deliveries, completes, reschedules and parks them only under the lease', async () => {
      const push = store.offline;
      const device = await push.addDevice('a', 'u1', { kind: 'apns', token: 'abc' }, T0);
      await store.push('a', ['u1'], notification('n1'), null, T0, SPEC);
      const jobs = await push.claimDueJobs(at(60_000), at(120_000), 10, 'node');
      await push.settleJobs(jobs[0].lease, settle(jobs, [delivery(device.id), delivery(device.id, 'u1', { collapseKey: 'k2' })]));
      const claimed = await push.claimDeliveries(at(60_000), at(120_000), 10, 'node');
      assert.deepEqual(claimed.map((d) => [d.deviceId, d.collapseKey, d.attempts, d.device?.kind]), [
        [device.id, 'n1', 0, 'apns'],
        [device.id, 'k2', 0, 'apns'],
      ]);
      assert.deepEqual(await push.claimDeliveries(at(60_000), at(120_000), 10, 'other'), []);
      const [first, second] = claimed;
      assert.equal(await push.rescheduleDelivery(first.id, 'wrong', at(70_000), 1, 'boom'), false);
      assert.equal(await push.rescheduleDelivery(first.id, first.lease, at(70_000), 1, '500'), true);
      assert.equal(await push.parkDelivery(second.id, second.lease, 3, 'refused', at(60_000)), true);
      assert.deepEqual(await push.countPush(), { jobs: 0, pending: 1, parked: 1 });
      assert.deepEqual(await push.claimDeliveries(at(69_999), at(120_000), 10, 'node'), []);
      const retried = await push.claimDeliveries(at(70_000), at(130_000), 10, 'node');
      assert.deepEqual(retried.map((d) => [d.id, d.attempts]), [[first.id, 1]]);
      assert.equal(await push.completeDelivery(retried[0].id, retried[0].lease), true);
      assert.deepEqual(await push.countPush(), { jobs: 0, pending: 0, parked: 1 });
    });

    it('ends the leases of a restarted holder, and drops pending deliveries with a device reported gone', async () => {
      const push = store.offline;
      const gone = await push.addDevice('a', 'u1', { kind: 'fcm', token: 'gone' }, T0);
      const kept = await push.addDevice('a', 'u1', { kind: 'fcm', token: 'kept' }, T0);
      await store.push('a', ['u1'], notification('n1'), null, T0, SPEC);
      const jobs = await push.claimDueJobs(at(60_000), at(120_000), 10, 'node-a');
      assert.equal(await push.releasePushLeases('node-a'), 1);
      const again = await push.claimDueJobs(at(60_000), at(120_000), 10, 'node-a');
      assert.equal(again.length, 1, 'due again at once');
      assert.notEqual(again[0].lease, jobs[0].lease);
      await push.settleJobs(again[0].lease, settle(again, [delivery(gone.id), delivery(kept.id)]));
      const claimed = await push.claimDeliveries(at(60_000), at(120_000), 10, 'node-a');
      assert.equal(await push.releasePushLeases('node-a'), 2);
      assert.equal(await push.removeGoneDevice(gone.id), true);
      assert.deepEqual((await push.listDevices('a', 'u1')).map((d) => d.id), [kept.id]);
      const left = await push.claimDeliveries(at(60_000), at(120_000), 10, 'node-a');
      assert.deepEqual(left.map((d) => d.deviceId), [kept.id]);
      assert.equal(claimed.length, 2);
    });

    it('keeps the attempt marker of a delivery whose node died in flight, and clears it on an outcome', async () => {
      const push = store.offline;
      const device = await push.addDevice('a', 'u1', { kind: 'fcm', token: 't' }, T0);
      await store.push('a', ['u1'], notification('n1'), null, T0, SPEC);
      const jobs = await push.claimDueJobs(at(60_000), at(120_000), 10, 'node-a');
      await push.settleJobs(jobs[0].lease, settle(jobs, [delivery(device.id), delivery(device.id, 'u1', { collapseKey: 'k2' })]));
      const [first, second] = await push.claimDeliveries(at(60_000), at(120_000), 10, 'node-a');
      assert.deepEqual([first.uncertainSince, second.uncertainSince], [null, null]);
      assert.equal(await push.startAttempt(first.id, 'wrong', at(60_001)), false);
      assert.equal(await push.startAttempt(first.id, first.lease, at(60_001)), true);
      assert.equal(await push.startAttempt(second.id, second.lease, at(60_002)), true);
      // node-a answers for the second (a 500), then dies; the first was in flight.
      assert.equal(await push.rescheduleDelivery(second.id, second.lease, at(60_000), 1, '500'), true);
      assert.equal(await push.releasePushLeases('node-a'), 1);
      const again = await push.claimDeliveries(at(60_000), at(120_000), 10, 'node-a');
      assert.deepEqual(
        again.map((d) => [d.id, d.uncertainSince?.getTime() ?? null]),
        [
          [first.id, at(60_001).getTime()],
          [second.id, null],
        ],
      );
      assert.equal(await push.parkDelivery(again[0].id, again[0].lease, 1, 'refused', at(60_003)), true);
      assert.equal(await push.completeDelivery(again[1].id, again[1].lease), true);
      assert.deepEqual(await push.countPush(), { jobs: 0, pending: 0, parked: 1 });
    });
  });
}
