/** The pure parts of the webhooks: event shapes, filters, signing and headers, the leave delay and the batcher. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Pusher from 'pusher';
import { defineApp } from '../../src/config/apps.js';
import type { NewWebhookBatch } from '../../src/store/store.js';
import { Batcher } from '../../src/webhooks/batcher.js';
import { LeaveDelay, type AppEvent } from '../../src/webhooks/leave-delay.js';
import { ignoredHeaders, signBody, webhookHeaders } from '../../src/webhooks/signature.js';
import { fromRealtimeEvent, wants, type WebhookEvent } from '../../src/webhooks/webhook-events.js';

const app = defineApp({ id: 'unit-app', key: 'unit-key', secret: 'unit-secret' });

describe('webhook event shapes', () => {
  it('maps realtime events to Pusher\'s webhook events, and skips the others', () => {
    assert.deepEqual(fromRealtimeEvent({ type: 'channel_occupied', app, channel: 'c' }), { name: 'channel_occupied', channel: 'c' });
    assert.deepEqual(fromRealtimeEvent({ type: 'member_removed', app, channel: 'presence-c', userId: 'u' }), { name: 'member_removed', channel: 'presence-c', user_id: 'u' });
    assert.deepEqual(fromRealtimeEvent({ type: 'subscription_count', app, channel: 'c', count: 3 }), { name: 'subscription_count', channel: 'c', subscription_count: 3 });
    assert.deepEqual(
      fromRealtimeEvent({ type: 'client_event', app, channel: 'private-c', event: 'client-x', data: { a: [1] }, socketId: '1.2', userId: null }),
      { name: 'client_event', channel: 'private-c', event: 'client-x', data: '{"a":[1]}', socket_id: '1.2' },
    );
    assert.deepEqual(
      fromRealtimeEvent({ type: 'client_event', app, channel: 'presence-c', event: 'client-x', data: 'raw', socketId: '1.2', userId: 'u' }),
      { name: 'client_event', channel: 'presence-c', event: 'client-x', data: 'raw', socket_id: '1.2', user_id: 'u' },
    );
    assert.equal(fromRealtimeEvent({ type: 'connection_opened', app, socketId: '1.2' }), null);
    assert.equal(fromRealtimeEvent({ type: 'connection_refused', appKey: 'k', code: 4001 }), null);
  });

  it('filters by event name, then by channel prefix and suffix; channel-less events pass the channel filter', () => {
    const occupied: WebhookEvent = { name: 'channel_occupied', channel: 'private-room-x' };
    const deleted: WebhookEvent = { name: 'notification_deleted', user_id: 'u', id: 'n' };
    assert.equal(wants({ url: 'http://h' }, occupied), true);
    assert.equal(wants({ url: 'http://h', events: ['channel_vacated'] }, occupied), false);
    assert.equal(wants({ url: 'http://h', events: [] }, occupied), false);
    assert.equal(wants({ url: 'http://h', filter: { channel_name_starts_with: 'private-' } }, occupied), true);
    assert.equal(wants({ url: 'http://h', filter: { channel_name_starts_with: 'presence-' } }, occupied), false);
    assert.equal(wants({ url: 'http://h', filter: { channel_name_ends_with: '-x' } }, occupied), true);
    assert.equal(wants({ url: 'http://h', filter: { channel_name_starts_with: 'private-', channel_name_ends_with: '-y' } }, occupied), false);
    assert.equal(wants({ url: 'http://h', filter: { channel_name_starts_with: 'presence-' } }, deleted), true);
    assert.equal(wants({ url: 'http://h', events: ['channel_occupied'], filter: { channel_name_starts_with: 'presence-' } }, deleted), false);
  });
});

describe('webhook signing and headers', () => {
  const body = JSON.stringify({ time_ms: 1, events: [{ name: 'channel_occupied', channel: 'ü' }] });

  it('signs so that the pusher SDK verifies, and nothing else does', () => {
    const headers = webhookHeaders(app, body);
    assert.deepEqual(Object.keys(headers).sort(), ['content-type', 'x-pusher-key', 'x-pusher-signature']);
    const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });
    assert.equal(sdk.webhook({ headers, rawBody: body }).isValid(), true);
    assert.equal(sdk.webhook({ headers, rawBody: `${body} ` }).isValid(), false);
    const other = new Pusher({ appId: app.id, key: app.key, secret: 'other', host: '127.0.0.1' });
    assert.equal(other.webhook({ headers, rawBody: body }).isValid(), false);
    assert.equal(headers['x-pusher-signature'], signBody(app.secret, body));
    assert.match(headers['x-pusher-signature'], /^[0-9a-f]{64}$/);
  });

  it('adds extra headers but never lets them replace the signature, key, content type or framing', () => {
    const extra = {
      'X-Token': 'secret-token',
      'X-Pusher-Signature': 'forged',
      'x-pusher-key': 'other',
      'Content-Type': 'text/plain',
      'Content-Length': '1',
      Host: 'evil.example',
      'Bad Name': 'x',
      'X-Split': 'a\r\nInjected: yes',
    };
    const headers = webhookHeaders(app, body, extra);
    assert.deepEqual(headers, { 'x-token': 'secret-token', 'content-type': 'application/json', 'x-pusher-key': app.key, 'x-pusher-signature': signBody(app.secret, body) });
    assert.deepEqual(ignoredHeaders(extra).sort(), ['Bad Name', 'Content-Length', 'Content-Type', 'Host', 'X-Pusher-Signature', 'X-Split', 'x-pusher-key'].sort());
    assert.deepEqual(ignoredHeaders(undefined), []);
  });
});

describe('LeaveDelay', () => {
  const item = (event: WebhookEvent, appId = 'a'): AppEvent => ({ appId, event });

  it('releases a leave after the delay, and drops a leave undone in time together with its come-back', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const released: AppEvent[] = [];
    const delay = new LeaveDelay(60, (e) => released.push(e));
    assert.equal(delay.offer(item({ name: 'channel_occupied', channel: 'c' })), false, 'a come-back with nothing held passes');
    assert.equal(delay.offer(item({ name: 'channel_vacated', channel: 'c' })), true);
    assert.equal(delay.offer(item({ name: 'member_removed', channel: 'p', user_id: 'u' })), true);
    assert.equal(delay.offer(item({ name: 'member_removed', channel: 'p', user_id: 'v' })), true);
    assert.equal(delay.offer(item({ name: 'channel_vacated', channel: 'c' }, 'other-app')), true);
    assert.equal(delay.size, 4);
    assert.equal(delay.offer(item({ name: 'channel_occupied', channel: 'c' })), true, 'occupied again: both dropped');
    assert.equal(delay.offer(item({ name: 'member_added', channel: 'p', user_id: 'u' })), true, 'member back: both dropped');
    assert.equal(delay.offer(item({ name: 'cache_miss', channel: 'c' })), false);
    assert.equal(delay.size, 2);
    t.mock.timers.tick(59);
    assert.deepEqual(released, [], 'nothing before the delay ran out');
    t.mock.timers.tick(1);
    assert.deepEqual(released, [item({ name: 'member_removed', channel: 'p', user_id: 'v' }), item({ name: 'channel_vacated', channel: 'c' }, 'other-app')]);
    assert.equal(delay.size, 0);
  });

  it('flushes every held leave at once (shutdown)', () => {
    const released: AppEvent[] = [];
    const delay = new LeaveDelay(60_000, (e) => released.push(e));
    delay.offer(item({ name: 'channel_vacated', channel: 'c1' }));
    delay.offer(item({ name: 'channel_vacated', channel: 'c2' }));
    delay.flush();
    assert.deepEqual(released.map((e) => (e.event as { channel: string }).channel), ['c1', 'c2']);
    assert.equal(delay.size, 0);
  });
});

describe('Batcher', () => {
  it('makes one batch per app and target per window, and a full batch at once', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const batches: NewWebhookBatch[] = [];
    let now = 1_000;
    const batcher = new Batcher(50, 3, () => now, (b) => batches.push(b));
    const event = (channel: string): WebhookEvent => ({ name: 'cache_miss', channel });
    batcher.add('a', 't1', event('1'));
    batcher.add('a', 't1', event('2'));
    batcher.add('a', 't2', event('3'));
    batcher.add('b', 't1', event('4'));
    assert.equal(batcher.bufferedEvents, 4);
    batcher.add('a', 't1', event('5'));
    assert.equal(batches.length, 1, 'the third event filled t1\'s batch');
    assert.deepEqual(JSON.parse(batches[0].body), { time_ms: 1_000, events: [event('1'), event('2'), event('5')] });
    now = 1_050;
    t.mock.timers.tick(50);
    assert.deepEqual(
      batches.map((b) => [b.appId, b.target, JSON.parse(b.body).events.length, b.createdAt.getTime(), b.nextAttemptAt.getTime()]),
      [
        ['a', 't1', 3, 1_000, 1_000],
        ['a', 't2', 1, 1_050, 1_050],
        ['b', 't1', 1, 1_050, 1_050],
      ],
    );
    assert.equal(batcher.bufferedEvents, 0);
    batcher.add('a', 't1', event('6'));
    batcher.flushAll();
    assert.equal(batches.length, 4);
    assert.equal(batcher.bufferedEvents, 0);
  });
});
