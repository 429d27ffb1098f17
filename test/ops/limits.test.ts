/** Per-app limits at their configured rates: 429 + Retry-After on HTTP, 4301 for client events, 4004, presence. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TokenBucket } from '../../src/limits/token-bucket.js';
import { ClientPushLimits } from '../../src/limits/client-push-limits.js';
import { defineApp } from '../../src/config/apps.js';
import { HttpError } from '../../src/protocol/errors.js';
import { signUserToken } from '../../src/inbox/user-tokens.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { signedRequest, type ApiResponse } from '../helpers/http.js';
import type { RawClient } from '../helpers/raw-client.js';

const LIMITED = {
  id: 'limited-app',
  key: 'limited-key',
  secret: 'limited-secret',
  client_events: true,
  client_event_rate: 4,
  max_backend_events_per_second: 5,
  max_read_requests_per_second: 3,
  max_connections: 3,
  max_presence_members: 2,
  max_presence_member_bytes: 100,
};
const SLOW = { id: 'slow-app', key: 'slow-key', secret: 'slow-secret', max_backend_events_per_second: 0.5 };
const UNLIMITED = { id: 'free-app', key: 'free-key', secret: 'free-secret', max_backend_events_per_second: null, max_read_requests_per_second: null };
/** An app that sets no limit: the defaults apply, and they are off, as on Pusher. */
const DEFAULTS = { id: 'default-app', key: 'default-key', secret: 'default-secret' };

describe('ClientPushLimits', () => {
  const app = defineApp({ id: 'cp', key: 'cp-key', secret: 'cp-secret', allow_client_push: true, client_push_max_recipients: 3, client_push_notifications_per_minute: 6 });
  const code = (call: () => void) => {
    try {
      call();
      return 'admitted';
    } catch (error) {
      return error instanceof HttpError ? `${error.status} ${error.code} ${error.headers['retry-after'] ?? ''}`.trim() : 'thrown';
    }
  };

  it('refuses more recipients than the cap, spending nothing', () => {
    const limits = new ClientPushLimits(() => 0);
    assert.equal(code(() => limits.take(app, 'u', 4)), '400 bad_request');
    assert.equal(code(() => limits.take(app, 'u', 3)), 'admitted');
  });

  it('spends one per recipient from a per-user minute budget, refilled over the minute', () => {
    let now = 0;
    const limits = new ClientPushLimits(() => now);
    assert.equal(code(() => limits.take(app, 'u', 3)), 'admitted');
    assert.equal(code(() => limits.take(app, 'u', 3)), 'admitted');
    assert.equal(code(() => limits.take(app, 'u', 1)), '429 rate_limited 10');
    assert.equal(code(() => limits.take(app, 'v', 3)), 'admitted', 'another user has a budget of its own');
    now += 10_000;
    assert.equal(code(() => limits.take(app, 'u', 1)), 'admitted');
  });
});

describe('TokenBucket', () => {
  it('admits the burst, then the rate, and says how long to wait', () => {
    const bucket = new TokenBucket(10, 10, 0);
    for (let i = 0; i < 10; i++) assert.equal(bucket.take(1, 0), 0);
    assert.equal(bucket.take(1, 0), 100);
    assert.equal(bucket.take(1, 100), 0);
    assert.equal(bucket.take(5, 100), 500);
    assert.equal(bucket.take(50, 1_100), 0, 'a cost above the capacity is charged as a full bucket');
    assert.equal(bucket.take(1, 1_000), 100, 'a clock stepping back refills nothing');
  });
});

describe('per-app rate limits', () => {
  let harness: Harness;
  // A frozen clock, moved by hand: the rates are exact, whatever the machine's speed.
  let clock = Date.now();
  before(async () => {
    harness = await startHarness({ apps: [LIMITED, SLOW, UNLIMITED, DEFAULTS], deps: { now: () => clock } });
  });
  after(() => harness.close());

  const app = (id: string) => harness.apps.find((a) => a.id === id)!;
  const trigger = (id: string, channels: string[]) =>
    signedRequest(harness.baseUrl, app(id), { method: 'POST', path: '/events', body: JSON.stringify({ name: 'tick', channels, data: '{}' }) });
  const read = (id: string) => signedRequest(harness.baseUrl, app(id), { method: 'GET', path: '/channels' });

  function assertLimited(response: ApiResponse, retryAfter: string): void {
    assert.equal(response.status, 429, response.text);
    assert.equal(response.headers.get('retry-after'), retryAfter);
    assert.equal(response.body?.code, 'rate_limited');
    assert.match(String(response.body?.error), /per second/);
  }

  it('answers 429 with Retry-After past max_backend_events_per_second on /events, counting channels', async () => {
    clock += 10_000;
    for (let i = 0; i < 5; i++) assert.equal((await trigger('limited-app', ['a'])).status, 200);
    assertLimited(await trigger('limited-app', ['a']), '1');
    clock += 400; // two events' worth
    assert.equal((await trigger('limited-app', ['a', 'b'])).status, 200, 'a trigger on two channels spends two');
    assertLimited(await trigger('limited-app', ['a']), '1');
    clock += 1_000;
    assert.equal((await trigger('limited-app', ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'])).status, 200, 'more channels than the rate pass on a full bucket');
    assertLimited(await trigger('limited-app', ['a']), '1');
  });

  it('spends one event per batch entry on /batch_events and one per push on /notifications', async () => {
    clock += 10_000;
    const batch = (size: number) =>
      signedRequest(harness.baseUrl, app('limited-app'), {
        method: 'POST',
        path: '/batch_events',
        body: JSON.stringify({ batch: Array.from({ length: size }, (_, i) => ({ name: 'tick', channel: `c${i}`, data: '{}' })) }),
      });
    const push = () =>
      signedRequest(harness.baseUrl, app('limited-app'), {
        method: 'POST',
        path: '/notifications',
        body: JSON.stringify({ user_ids: ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'], notification: { content: 'hi' } }),
      });
    assert.equal((await batch(4)).status, 200);
    assert.equal((await push()).status, 200, 'six users, one event');
    assertLimited(await push(), '1');
    assertLimited(await batch(1), '1');
    clock += 1_000;
    assert.equal((await push()).status, 200);
  });

  it('answers 429 past max_read_requests_per_second on GET routes, whoever calls', async () => {
    clock += 10_000;
    const token = await signUserToken({ appSecret: LIMITED.secret, userId: 'reader', expiresInSeconds: 36_000 });
    const byToken = () =>
      fetch(`${harness.baseUrl}/apps/limited-app/users/reader/notifications/count`, { headers: { authorization: `Bearer ${token}` } }).then(async (response) => ({
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        body: (await response.json()) as { code?: string },
      }));
    assert.equal((await read('limited-app')).status, 200);
    assert.equal((await read('limited-app')).status, 200);
    assert.equal((await byToken()).status, 200);
    assertLimited(await read('limited-app'), '1');
    const refused = await byToken();
    assert.deepEqual([refused.status, refused.retryAfter, refused.body.code], [429, '1', 'rate_limited']);
    assert.equal((await trigger('limited-app', ['a'])).status, 200, 'reads and events are separate budgets');
    clock += 1_000;
    assert.equal((await read('limited-app')).status, 200);
  });

  it('rounds Retry-After up to whole seconds at slow rates', async () => {
    clock += 10_000;
    assert.equal((await trigger('slow-app', ['a'])).status, 200);
    assertLimited(await trigger('slow-app', ['a']), '2');
  });

  it('does not limit an app whose limits are null', async () => {
    clock += 10_000;
    const answers = await Promise.all(Array.from({ length: 40 }, () => trigger('free-app', ['a'])));
    assert.deepEqual(new Set(answers.map((answer) => answer.status)), new Set([200]));
    const reads = await Promise.all(Array.from({ length: 40 }, () => read('free-app')));
    assert.deepEqual(new Set(reads.map((answer) => answer.status)), new Set([200]));
  });

  it('does not limit backend events or reads by default: a Laravel-style burst of 200 batches of 10 events in one second', async () => {
    clock += 10_000;
    const batch = JSON.stringify({ batch: Array.from({ length: 10 }, (_, i) => ({ name: 'App\\Events\\OrderShipped', channel: `orders-${i}`, data: '{}' })) });
    const statuses = new Set<number>();
    for (let round = 0; round < 4; round++) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => signedRequest(harness.baseUrl, app('default-app'), { method: 'POST', path: '/batch_events', body: batch })),
      );
      for (const answer of answers) statuses.add(answer.status);
    }
    assert.deepEqual(statuses, new Set([200]), 'the clock did not move: 2,000 events in one second');
    for (let round = 0; round < 12; round++) {
      const reads = await Promise.all(Array.from({ length: 100 }, () => read('default-app')));
      for (const answer of reads) statuses.add(answer.status);
    }
    assert.deepEqual(statuses, new Set([200]), '1,200 reads in one second');
  });

  describe('on sockets', () => {
    async function member(channel: string, userId = 'u', userInfo: Record<string, unknown> = {}): Promise<{ raw: RawClient; result: string; data: unknown }> {
      const raw = await harness.raw({ key: LIMITED.key });
      const { socketId } = await raw.established();
      const presence = channel.startsWith('presence-') ? { user_id: userId, user_info: userInfo } : undefined;
      const { auth, channel_data: channelData } = harness.backend(app('limited-app')).authorizeChannel(socketId, channel, presence);
      const frame = await raw.subscribe(channel, auth, channelData);
      return { raw, result: frame.event, data: frame.data };
    }

    it('relays client_event_rate client events per second and refuses the next with 4301, without closing', async () => {
      clock += 10_000;
      const sender = await member('private-rate');
      const receiver = await member('private-rate');
      for (let i = 0; i < 5; i++) sender.raw.send({ event: 'client-tick', channel: 'private-rate', data: { i } });
      const error = await sender.raw.error();
      assert.equal(error.code, 4301);
      for (let i = 0; i < 4; i++) assert.deepEqual((await receiver.raw.next('client-tick')).data, { i });
      await receiver.raw.none('client-tick', 100);
      clock += 1_000;
      sender.raw.send({ event: 'client-tick', channel: 'private-rate', data: { i: 'later' } });
      assert.deepEqual((await receiver.raw.next('client-tick')).data, { i: 'later' });
      assert.equal(sender.raw.closeState, null);
      sender.raw.close();
      receiver.raw.close();
      await Promise.all([sender.raw.closed, receiver.raw.closed]);
    });

    it('refuses members past max_presence_members and member data past max_presence_member_bytes', async () => {
      const first = await member('presence-room', 'ann');
      const second = await member('presence-room', 'ben');
      assert.equal(first.result, 'pusher_internal:subscription_succeeded');
      assert.equal(second.result, 'pusher_internal:subscription_succeeded');
      const third = await member('presence-room', 'cat');
      assert.equal(third.result, 'pusher:subscription_error');
      assert.equal((third.data as { status: number }).status, 403);
      for (const { raw } of [first, second, third]) raw.close();
      await Promise.all([first, second, third].map(({ raw }) => raw.closed));
      const big = await member('presence-big', 'dan', { bio: 'x'.repeat(200) });
      assert.equal(big.result, 'pusher:subscription_error');
      assert.equal((big.data as { status: number }).status, 400);
      big.raw.close();
      await big.raw.closed;
    });

    it('refuses sockets past max_connections with 4004', async () => {
      const open = await Promise.all([0, 1, 2].map(() => harness.raw({ key: LIMITED.key })));
      for (const raw of open) await raw.established();
      const extra = await harness.raw({ key: LIMITED.key });
      assert.equal((await extra.error()).code, 4004);
      assert.equal((await extra.closedWithin()).code, 4004);
      for (const raw of open) raw.close();
    });
  });
});
