/** channel_vacated and member_removed wait 3 s: dropped when the channel or member is back by then, delivered otherwise. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sdkChannelAuth, subscribed } from '../helpers/auth.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { Receiver, verified, type HookEvent } from './receiver.js';

// The two tests use their own channels and wait seconds each: they run side by side.
describe('webhook leave delay', { concurrency: 2 }, () => {
  let receiver: Receiver;
  let harness: Harness;

  before(async () => {
    receiver = await Receiver.start();
    harness = await startHarness({
      apps: [{ id: 'leave-app', key: 'leave-key', secret: 'leave-secret', webhooks: [{ url: receiver.url(), events: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'] }] }],
    });
  });

  after(async () => {
    await harness.close();
    await receiver.down();
  });

  const member = (userId: string) =>
    harness.client({ channelAuthorization: sdkChannelAuth(harness.backend(), (channel) => (channel.startsWith('presence-') ? { user_id: userId } : undefined)) });

  /** The events about `channel`, with the time each delivery arrived. */
  function about(channel: string): (HookEvent & { at: number })[] {
    return receiver.accepted().flatMap((d) => verified(harness.backend(), d).events.filter((e) => e.channel === channel).map((e) => ({ ...e, at: d.at })));
  }

  it('drops a vacated channel occupied again, and a removed member back, within 3 s', async () => {
    const client = harness.client();
    await subscribed(client, 'flap');
    client.unsubscribe('flap');
    await sleep(300);
    await subscribed(client, 'flap');

    const eve = member('eve');
    await subscribed(eve, 'presence-flap');
    const dave = member('dave');
    await subscribed(dave, 'presence-flap');
    dave.disconnect();
    await sleep(500);
    await subscribed(member('dave'), 'presence-flap');

    await waitFor(() => about('presence-flap').length >= 3, 'the presence events');
    await sleep(3_500);
    assert.deepEqual(about('flap').map((e) => e.name), ['channel_occupied'], 'one occupied, no vacated, no second occupied');
    assert.deepEqual(
      about('presence-flap').map((e) => [e.name, e.user_id]),
      [
        ['member_added', 'eve'],
        ['channel_occupied', undefined],
        ['member_added', 'dave'],
      ],
      'dave\'s leave and return are both dropped',
    );
  });

  it('delivers channel_vacated and member_removed after 3 s when nobody came back', async () => {
    const stay = member('frank');
    await subscribed(stay, 'presence-gone');
    const leaver = member('gina');
    await subscribed(leaver, 'presence-gone');
    const client = harness.client();
    await subscribed(client, 'gone');
    await waitFor(() => about('gone').length === 1 && about('presence-gone').length === 3, 'joins delivered');

    const leftAt = Date.now();
    client.unsubscribe('gone');
    leaver.unsubscribe('presence-gone');
    await waitFor(() => about('gone').length === 2 && about('presence-gone').length === 4, 'vacated and member_removed', 6_000);
    const vacated = about('gone')[1];
    const removed = about('presence-gone')[3];
    assert.deepEqual([vacated.name, removed.name, removed.user_id], ['channel_vacated', 'member_removed', 'gina']);
    for (const event of [vacated, removed]) {
      assert.ok(event.at - leftAt >= 3_000, `${event.name} waited ${event.at - leftAt} ms`);
      assert.ok(event.at - leftAt < 5_000, `${event.name} came ${event.at - leftAt} ms after`);
    }
  });
});
