/**
 * The push rule over inbox v2 states (design.md §5, §6), with an injected clock and a local Web
 * Push service: seen on another device cancels `if_unseen` but not `if_unread`; archived, snoozed
 * and expired are not live; a category turned off (or off by default) is not pushed, a locked one
 * is; `critical` ignores quiet hours.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../helpers/harness.js';
import { LocalPushService, type TestSubscription } from './local-push-service.js';
import { ManualClock, userCall, type UserCall } from './push-helpers.js';

const APP = {
  id: 'rule-v2-app',
  key: 'rule-v2-key',
  secret: 'rule-v2-secret',
  allow_client_push: true,
  push: { vapid: { subject: 'mailto:ops@example.com' }, default: { policy: 'if_unseen', delay_seconds: 60, ttl_seconds: 3600, urgency: 'normal' } },
  categories: { security: { locked: true }, marketing: { default: false } },
};

describe('push rule over inbox v2 states', () => {
  const clock = new ManualClock(Date.parse('2030-06-03T10:00:00Z'));
  const service = new LocalPushService(clock.now);
  let harness: Harness;
  let phone: UserCall;
  let subscription: TestSubscription;
  let pushes = 0;

  before(async () => {
    await service.start();
    harness = await startHarness({ apps: [APP], deps: { now: clock.now, push: { pollIntervalMs: 3_600_000 } } });
    phone = await userCall(harness, 'ana');
    subscription = service.subscribe();
    assert.equal((await phone('POST', '/users/ana/devices', { kind: 'webpush', subscription: subscription.json })).status, 201);
  });
  after(async () => {
    await harness?.close();
    await service.close();
  });

  async function push(notification: Record<string, unknown>): Promise<string> {
    const reply = await phone<{ notifications: { id: string }[] }>('POST', '/notifications', {
      user_ids: ['ana'],
      notification: { content: `v2 push ${++pushes}`, ...notification },
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body.notifications[0].id;
  }

  async function at(seconds: number): Promise<unknown[]> {
    const before = service.delivered(subscription).length;
    clock.advance(seconds * 1000);
    await harness.server.pushWorker.tick();
    return service.delivered(subscription).slice(before).map((body) => (body.id === null ? body.ids : body.id));
  }

  async function bulk(action: string, ids: string[], extra: Record<string, unknown> = {}): Promise<void> {
    const reply = await phone('POST', '/users/ana/notifications/bulk', { action, ids, ...extra });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
  }

  it('cancels if_unseen when seen on another device, but not if_unread', async () => {
    const unseen = await push({});
    const unread = await push({ push: { policy: 'if_unread' } });
    await bulk('seen', [unseen, unread]);
    assert.deepEqual(await at(60), [unread]);
    await bulk('open', [unread]);
  });

  it('does not push what is archived, snoozed or expired when due', async () => {
    const archived = await push({});
    const snoozed = await push({});
    const expiring = await push({ ttl_seconds: 30 });
    await bulk('archive', [archived]);
    await bulk('snooze', [snoozed], { until: new Date(clock.now() + 3_600_000).toISOString() });
    assert.deepEqual(await at(60), [], `nothing of ${[archived, snoozed, expiring].join(', ')}`);
  });

  it('follows category preferences: off by default, turned off, locked', async () => {
    const marketing = await push({ category: 'marketing' });
    assert.deepEqual(await at(60), [], `${marketing}: marketing is off by default`);
    await phone('PUT', '/users/ana/preferences', { categories: { billing: { push: false }, security: { push: false } } });
    await push({ category: 'billing' });
    const security = await push({ category: 'security' });
    assert.deepEqual(await at(60), [security], 'billing turned off, security locked on');
    await phone('PUT', '/users/ana/preferences', {});
    await bulk('open', [security]);
  });

  it('sends critical notifications in quiet hours, holds the others', async () => {
    clock.ms = Date.parse('2030-06-03T10:00:00Z');
    await phone('PUT', '/users/ana/preferences', { quiet_hours: { tz: 'Europe/Berlin', start: '12:00', end: '13:00' } });
    const normal = await push({});
    const critical = await push({ priority: 'critical' });
    assert.deepEqual(await at(60), [critical]);
    assert.equal(service.received.at(-1)!.headers.urgency, 'high', 'critical goes out urgent');
    assert.deepEqual(await at(59 * 60), [normal], 'the other at 13:00 Berlin time');
    await phone('PUT', '/users/ana/preferences', {});
  });
});
