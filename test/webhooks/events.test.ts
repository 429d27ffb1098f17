/** Every webhook event type reaches a real receiver, signed so the `pusher` SDK accepts it; filters and headers per target. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connected, sdkChannelAuth, subscribed } from '../helpers/auth.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { backendCaller, sdkPush } from '../helpers/inbox.js';
import { sleep } from '../helpers/wait.js';
import { named, Receiver, verified, type HookEvent } from './receiver.js';

describe('webhook events', () => {
  let receiver: Receiver;
  let harness: Harness;

  before(async () => {
    receiver = await Receiver.start();
    harness = await startHarness({
      apps: [
        {
          id: 'hook-app',
          key: 'hook-key',
          secret: 'hook-secret',
          client_events: true,
          webhooks: [
            { url: receiver.url('/all') },
            {
              url: receiver.url('/presence-only'),
              events: ['channel_occupied', 'member_added', 'notification_deleted'],
              filter: { channel_name_starts_with: 'presence-' },
            },
            {
              url: receiver.url('/suffix'),
              filter: { channel_name_ends_with: '-x' },
              headers: { 'X-Custom': 'yes', 'X-Pusher-Signature': 'forged', 'Content-Type': 'text/plain', 'x-pusher-key': 'other-key' },
            },
          ],
        },
      ],
    });
  });

  after(async () => {
    await harness.close();
    await receiver.down();
  });

  it('delivers every event type in Pusher\'s shapes, verified by the pusher SDK', async () => {
    const backend = harness.backend();
    const as = (userId: string) => sdkChannelAuth(backend, (channel) => (channel.startsWith('presence-') ? { user_id: userId } : undefined));
    const alice = harness.client({ channelAuthorization: as('alice') });
    const bob = harness.client({ channelAuthorization: as('bob') });
    const aliceSocket = await connected(alice);
    const room = await subscribed(alice, 'presence-room');
    const aliceChat = await subscribed(alice, 'private-chat');
    await subscribed(bob, 'private-chat');
    aliceChat.trigger('client-typing', { typing: true, text: 'héllo' });
    room.trigger('client-wave', 'just a string');
    await subscribed(alice, 'cache-news');

    const pushed = await sdkPush(backend, {
      user_ids: ['carol'],
      notification: { id: 'n1', content: 'Hello', buttons: [{ id: 'ok', text: 'OK' }] },
    });
    assert.equal(pushed.notifications.length, 1);
    const call = backendCaller(harness);
    assert.equal((await call('POST', '/users/carol/notifications/open', { ids: ['n1'] })).status, 200);
    assert.equal((await call('POST', '/users/carol/notifications/n1/actions/ok')).status, 200);
    assert.equal((await call('DELETE', '/users/carol/notifications/n1')).status, 200);
    await sdkPush(backend, { user_ids: ['carol'], notification: { id: 'n2', content: 'Again' } });
    assert.equal((await call('POST', '/users/carol/notifications/open', { all: true })).status, 200);
    assert.equal((await call('POST', '/users/carol/notifications/open', { all: true })).status, 200, 'nothing left to open');

    alice.unsubscribe('presence-room');

    const has = (events: HookEvent[], name: string) => named(events, name).length > 0;
    const events = await receiver.waitForEvents(
      backend,
      (list) => has(list, 'channel_vacated') && has(list, 'member_removed') && named(list, 'notification_opened').length === 2,
      'every event type, vacated and member_removed after their 3 s wait',
      10_000,
      '/all',
    );

    const find = (name: string, where: Partial<HookEvent> = {}) =>
      named(events, name).filter((e) => Object.entries(where).every(([k, v]) => JSON.stringify(e[k]) === JSON.stringify(v)));
    assert.deepEqual(find('channel_occupied', { channel: 'presence-room' }), [{ name: 'channel_occupied', channel: 'presence-room' }]);
    assert.deepEqual(find('member_added'), [{ name: 'member_added', channel: 'presence-room', user_id: 'alice' }]);
    assert.deepEqual(find('client_event', { event: 'client-typing' }), [
      { name: 'client_event', channel: 'private-chat', event: 'client-typing', data: JSON.stringify({ typing: true, text: 'héllo' }), socket_id: aliceSocket },
    ]);
    assert.deepEqual(find('client_event', { event: 'client-wave' }), [
      { name: 'client_event', channel: 'presence-room', event: 'client-wave', data: 'just a string', socket_id: aliceSocket, user_id: 'alice' },
    ]);
    assert.deepEqual(find('cache_miss'), [{ name: 'cache_miss', channel: 'cache-news' }]);
    assert.deepEqual(find('subscription_count', { channel: 'private-chat' }).at(-1), { name: 'subscription_count', channel: 'private-chat', subscription_count: 2 });
    assert.deepEqual(find('notification_opened'), [
      { name: 'notification_opened', user_id: 'carol', ids: ['n1'], all: false },
      { name: 'notification_opened', user_id: 'carol', ids: ['n2'], all: true },
    ]);
    assert.deepEqual(find('notification_action'), [{ name: 'notification_action', user_id: 'carol', id: 'n1', button_id: 'ok' }]);
    assert.deepEqual(find('notification_deleted'), [{ name: 'notification_deleted', user_id: 'carol', id: 'n1' }]);
    assert.deepEqual(find('member_removed'), [{ name: 'member_removed', channel: 'presence-room', user_id: 'alice' }]);
    assert.deepEqual(find('channel_vacated'), [{ name: 'channel_vacated', channel: 'presence-room' }]);

    for (const delivery of receiver.accepted('/all')) {
      assert.equal(delivery.headers['content-type'], 'application/json');
      assert.equal(delivery.headers['x-pusher-key'], 'hook-key');
      const body = verified(backend, delivery);
      assert.ok(body.events.length >= 1);
      assert.ok(Math.abs(body.time_ms - Date.now()) < 60_000);
    }
    const forged = harness.backend({ ...harness.app, secret: 'another-secret' });
    assert.equal(forged.webhook({ headers: receiver.accepted('/all')[0].headers, rawBody: receiver.accepted('/all')[0].rawBody }).isValid(), false, 'another secret does not verify');

    // The filtered target: only its event names, only presence- channels; inbox events have no channel.
    // (The core reports a presence channel's first member before the channel's occupation.)
    const filtered = receiver.events(backend, '/presence-only').sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(filtered, [
      { name: 'channel_occupied', channel: 'presence-room' },
      { name: 'member_added', channel: 'presence-room', user_id: 'alice' },
      { name: 'notification_deleted', user_id: 'carol', id: 'n1' },
    ]);
  });

  it('applies channel_name_ends_with, sends extra headers, and never lets them replace the signature or content type', async () => {
    const backend = harness.backend();
    const before = receiver.accepted('/suffix').length;
    const client = harness.client();
    await subscribed(client, 'news-x');
    await subscribed(client, 'news-y');
    const events = await receiver.waitForEvents(backend, (list) => named(list, 'channel_occupied').some((e) => e.channel === 'news-x'), 'news-x occupied', 5_000, '/suffix');
    await sleep(400);
    const channels = new Set(receiver.events(backend, '/suffix').flatMap((e) => (typeof e.channel === 'string' ? [e.channel] : [])));
    assert.deepEqual([...channels], ['news-x'], 'only channels ending in -x');
    assert.ok(events.some((e) => e.name === 'subscription_count' && e.channel === 'news-x'));
    const deliveries = receiver.accepted('/suffix').slice(before);
    assert.ok(deliveries.length >= 1);
    for (const delivery of deliveries) {
      assert.equal(delivery.headers['x-custom'], 'yes');
      assert.equal(delivery.headers['content-type'], 'application/json');
      assert.equal(delivery.headers['x-pusher-key'], 'hook-key');
      verified(backend, delivery);
    }
  });
});
