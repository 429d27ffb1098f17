/**
 * The push rule end to end with an injected clock (design.md §6): a real node, a real Web Push
 * delivery to a local push service that checks VAPID and decrypts. Pushed when unseen, cancelled
 * when seen on another device, held in quiet hours and sent after, merged when several fall due,
 * `never` never, `always` even when opened.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { InboxStore } from '../../src/store/store.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { LocalPushService, type TestSubscription } from './local-push-service.js';
import { ManualClock, userCall, type UserCall } from './push-helpers.js';

const START = Date.parse('2030-06-03T10:00:00Z');
const APP = {
  id: 'rule-app',
  key: 'rule-key',
  secret: 'rule-secret',
  allow_client_push: true,
  push: { vapid: { subject: 'mailto:ops@example.com' }, default: { policy: 'if_unseen', delay_seconds: 60, ttl_seconds: 3600, urgency: 'normal' } },
};

const DATABASE_URL = process.env.HERALD_TEST_DATABASE_URL;

/** A store for one run: the harness's SQLite file, or a fresh PostgreSQL schema dropped afterwards. */
interface StoreChoice {
  readonly name: string;
  readonly skip: string | false;
  open(): { store?: InboxStore; dispose(): Promise<void> };
}

const STORES: StoreChoice[] = [
  { name: 'SQLite', skip: false, open: () => ({ dispose: async () => undefined }) },
  {
    name: 'PostgreSQL',
    skip: DATABASE_URL ? false : 'SKIP: HERALD_TEST_DATABASE_URL is not set',
    open() {
      const schema = `herald_rule_${randomBytes(6).toString('hex')}`;
      const store = PostgresStore.connect(DATABASE_URL!, { schema, poolSize: 4 });
      return {
        store,
        async dispose() {
          await store.close();
          const client = new pg.Client({ connectionString: DATABASE_URL });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await client.end();
        },
      };
    },
  },
];

for (const choice of STORES) describe(`push rule on ${choice.name} (injected clock, local Web Push service)`, { skip: choice.skip }, () => {
  const clock = new ManualClock(START);
  const service = new LocalPushService(clock.now);
  let harness: Harness;
  let phone: UserCall;
  let laptop: UserCall;
  let subscription: TestSubscription;
  let pushes = 0;
  let opened: ReturnType<StoreChoice['open']>;

  before(async () => {
    await service.start();
    opened = choice.open();
    harness = await startHarness({ apps: [APP], deps: { now: clock.now, push: { pollIntervalMs: 3_600_000 }, ...(opened.store ? { store: opened.store } : {}) } });
    phone = await userCall(harness, 'ana');
    laptop = await userCall(harness, 'ana');
    subscription = service.subscribe();
    const added = await laptop('POST', '/users/ana/devices', { kind: 'webpush', subscription: subscription.json });
    assert.equal(added.status, 201, JSON.stringify(added.body));
  });
  after(async () => {
    await harness?.close();
    await opened?.dispose();
    await service.close();
  });

  async function push(notification: Record<string, unknown>): Promise<string> {
    const reply = await phone<{ notifications: { id: string }[] }>('POST', '/notifications', {
      user_ids: ['ana'],
      notification: { content: `push ${++pushes}`, ...notification },
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body.notifications[0].id;
  }

  /** Moves the clock and runs one pass of the push worker; returns the bodies delivered during it. */
  async function at(secondsFromNow: number): Promise<Record<string, unknown>[]> {
    const before = service.delivered(subscription).length;
    clock.advance(secondsFromNow * 1000);
    await harness.server.pushWorker.tick();
    return service.delivered(subscription).slice(before);
  }

  it('pushes an unseen notification when its delay has passed, as the notification JSON plus the badge', async () => {
    const id = await push({ heading: 'Hello', buttons: [{ id: 'ok', text: 'OK' }] });
    assert.deepEqual(await at(59), []);
    const [body, ...rest] = await at(1);
    assert.deepEqual(rest, []);
    assert.equal(body.id, id);
    assert.equal(body.heading, 'Hello');
    assert.equal(body.content, 'push 1');
    assert.deepEqual(body.buttons, [{ id: 'ok', text: 'OK', icon: null }]);
    assert.equal(body.badge, 1);
    assert.equal(body.tag, id);
    assert.equal(typeof body.receipt, 'string');
    const headers = service.received.at(-1)!.headers;
    assert.equal(headers.urgency, 'normal');
    assert.ok(Number(headers.ttl) > 3500 && Number(headers.ttl) <= 3600, `TTL ${headers.ttl}`);
    assert.equal(service.rejected.length, 0, service.rejected.join('; '));
    assert.deepEqual(await at(3600), [], 'once');
    await phone('POST', '/users/ana/notifications/open', { all: true });
  });

  it('cancels the push when the notification is seen (opened) on another device first', async () => {
    const id = await push({});
    assert.equal((await laptop('POST', '/users/ana/notifications/open', { ids: [id] })).status, 200);
    assert.deepEqual(await at(120), []);
    assert.equal((await harness.server.store.offline.countPush()).jobs, 0, 'the job is settled, not left behind');
  });

  it('holds a push in quiet hours and sends it when they end (DST-correct local time)', async () => {
    // 12:00 in Berlin (CEST, UTC+2) is 10:00 UTC: quiet from 12:00 to 12:30 local.
    clock.ms = Date.parse('2030-06-03T10:00:00Z');
    const put = await phone('PUT', '/users/ana/preferences', { quiet_hours: { tz: 'Europe/Berlin', start: '12:00', end: '12:30' } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal((put.body.effective as { in_quiet_hours: boolean }).in_quiet_hours, true);
    const id = await push({});
    assert.deepEqual(await at(60), [], 'due at 12:01, quiet');
    assert.deepEqual(await at(60 * 28), [], '12:29, still quiet');
    const [body] = await at(60);
    assert.equal(body?.id, id, 'sent at 12:30');
    await phone('PUT', '/users/ana/preferences', {});
    await phone('POST', '/users/ana/notifications/open', { all: true });
  });

  it('merges several pushes due at once into one, with the unread badge', async () => {
    const ids = [await push({}), await push({}), await push({})];
    const delivered = await at(60);
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0].content, '3 new notifications');
    assert.deepEqual(delivered[0].ids, ids);
    assert.equal(delivered[0].badge, 3);
    assert.equal(delivered[0].tag, 'herald-summary');
    await phone('POST', '/users/ana/notifications/open', { all: true });
  });

  it('never pushes with policy never, and pushes with always even when opened', async () => {
    await push({ push: { policy: 'never', delay_seconds: 0 } });
    assert.equal((await harness.server.store.offline.countPush()).jobs, 0, 'no job at all');
    assert.deepEqual(await at(3600), []);
    const always = await push({ push: { policy: 'always', delay_seconds: 5, urgency: 'high' } });
    await phone('POST', '/users/ana/notifications/open', { ids: [always] });
    const [body] = await at(5);
    assert.equal(body?.id, always);
    assert.equal(service.received.at(-1)!.headers.urgency, 'high');
  });

  it('does not push a notification deleted before it was due, nor one whose user turned push off', async () => {
    const deleted = await push({});
    assert.equal((await phone('DELETE', `/users/ana/notifications/${deleted}`)).status, 200);
    assert.deepEqual(await at(60), []);
    await phone('PUT', '/users/ana/preferences', { push: false });
    await push({});
    assert.deepEqual(await at(60), []);
    await phone('PUT', '/users/ana/preferences', {});
  });

  it('counts what it did', async () => {
    const counters = harness.server.pushWorker.counters;
    assert.ok(counters.sent >= 4 && counters.cancelled >= 3 && counters.held >= 1, JSON.stringify(counters));
    const metrics = await (await fetch(`${harness.baseUrl}/metrics`)).text();
    assert.match(metrics, /herald_push_sent_total \d+/);
  });
});
