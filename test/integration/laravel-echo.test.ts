/**
 * Laravel Echo 2 (the `pusher` broadcaster, on pusher-js) against Herald, with a Laravel-shaped
 * auth backend and the official `pusher` SDK broadcasting as Laravel's PusherBroadcaster does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Echo from 'laravel-echo';
import { PusherJs } from '../../src/client/pusher-js.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { startLaravelBackend, type LaravelBackend, type LaravelUser } from '../helpers/laravel-backend.js';
import { once, sleep, waitFor } from '../helpers/wait.js';

type EchoPusherOption = NonNullable<ConstructorParameters<typeof Echo<'pusher'>>[0]['Pusher']>;

const ADA: LaravelUser = { id: 7, name: 'Ada' };
const BOB: LaravelUser = { id: 8, name: 'Bob' };

describe('Laravel Echo (pusher broadcaster)', () => {
  let harness: Harness;
  let laravel: LaravelBackend;
  const echoes: Echo<'pusher'>[] = [];

  before(async () => {
    harness = await startHarness();
    laravel = await startLaravelBackend(harness.backend(), [ADA, BOB]);
  });
  after(async () => {
    for (const echo of echoes) echo.disconnect();
    await laravel.close();
    await harness.close();
  });

  /** An Echo instance as a Laravel front end configures it, signed in to the app as `user`. */
  async function echoFor(user: LaravelUser): Promise<Echo<'pusher'>> {
    const echo = new Echo({
      broadcaster: 'pusher',
      key: harness.app.key,
      cluster: 'mt1',
      wsHost: '127.0.0.1',
      wsPort: harness.port,
      forceTLS: false,
      enabledTransports: ['ws'],
      disableStats: true,
      authEndpoint: laravel.authEndpoint,
      auth: { headers: { 'X-User-Id': String(user.id) } },
      // Echo's types describe the pusher-js module object; at run time it needs the class, as `window.Pusher` is.
      Pusher: PusherJs as unknown as EchoPusherOption,
    });
    echoes.push(echo);
    const pusher = echo.connector.pusher;
    await waitFor(() => pusher.connection.state === 'connected', 'Echo connected');
    return echo;
  }

  /** Resolves once Echo's channel is subscribed on the server. */
  function subscribed(channel: { subscribed(callback: () => void): unknown }, what: string): Promise<void> {
    return once<void>((done) => channel.subscribed(() => done()), what);
  }

  it('channel().listen() receives an event broadcast under the App\\Events namespace', async () => {
    const echo = await echoFor(ADA);
    const channel = echo.channel('orders');
    await subscribed(channel, 'orders');
    const received = once<unknown>((done) => channel.listen('OrderShipped', done), 'OrderShipped');
    await harness.backend().trigger('orders', 'App\\Events\\OrderShipped', { order: { id: 1042 } });
    assert.deepEqual(await received, { order: { id: 1042 } });
  });

  it('channel().listen() with a leading dot receives a broadcastAs name as is', async () => {
    const echo = await echoFor(ADA);
    const channel = echo.channel('shipments');
    await subscribed(channel, 'shipments');
    const received = once<unknown>((done) => channel.listen('.shipment.left', done), '.shipment.left');
    await harness.backend().trigger('shipments', 'shipment.left', { id: 3 });
    assert.deepEqual(await received, { id: 3 });
  });

  it('private().notification() receives BroadcastNotificationCreated on private-App.Models.User.{id}', async () => {
    const echo = await echoFor(ADA);
    const channel = echo.private(`App.Models.User.${ADA.id}`);
    await subscribed(channel, 'the user channel');
    const received = once<Record<string, unknown>>((done) => channel.notification(done), 'notification');
    const payload = { id: '9a1f', type: 'App\\Notifications\\InvoicePaid', amount: 30 };
    await harness.backend().trigger(`private-App.Models.User.${ADA.id}`, 'Illuminate\\Notifications\\Events\\BroadcastNotificationCreated', payload);
    assert.deepEqual(await received, payload);
  });

  it('private() of another user is refused by the app and never subscribes', async () => {
    const echo = await echoFor(BOB);
    const channel = echo.private(`App.Models.User.${ADA.id}`);
    const error = await once<{ status: number }>((done) => channel.error(done), 'subscription error');
    assert.equal(error.status, 403);
    assert.equal(channel.subscription.subscribed, false);
  });

  it('join() reports here, joining and leaving with Laravel presence data { id, name }', async () => {
    const ada = await echoFor(ADA);
    const room = ada.join('chat.1');
    const here = once<unknown[]>((done) => room.here(done), 'here');
    const joining = once<unknown>((done) => room.joining(done), 'joining');
    const leaving = once<unknown>((done) => room.leaving(done), 'leaving');
    assert.deepEqual(await here, [{ id: ADA.id, name: ADA.name }]);

    const bob = await echoFor(BOB);
    const bobHere = once<unknown[]>((done) => bob.join('chat.1').here(done), 'Bob here');
    const members = (await bobHere) as { id: number }[];
    assert.deepEqual(members.map((member) => member.id).sort(), [ADA.id, BOB.id]);
    assert.deepEqual(await joining, { id: BOB.id, name: BOB.name });

    bob.leave('chat.1');
    assert.deepEqual(await leaving, { id: BOB.id, name: BOB.name });
  });

  it('whisper() reaches listenForWhisper() of the other members, not the sender', async () => {
    const ada = await echoFor(ADA);
    const bob = await echoFor(BOB);
    const adaRoom = ada.private('typing.5');
    const bobRoom = bob.private('typing.5');
    await Promise.all([subscribed(adaRoom, 'Ada typing room'), subscribed(bobRoom, 'Bob typing room')]);
    const echoed: unknown[] = [];
    adaRoom.listenForWhisper('typing', (data: unknown) => echoed.push(data));
    const heard = once<unknown>((done) => bobRoom.listenForWhisper('typing', done), 'whisper');
    adaRoom.whisper('typing', { name: ADA.name });
    assert.deepEqual(await heard, { name: ADA.name });
    await sleep(100);
    assert.deepEqual(echoed, [], 'client events are not echoed to their sender');
  });

  it('toOthers(): an event broadcast with the sender socket id skips only that socket', async () => {
    const sender = await echoFor(ADA);
    const other = await echoFor(BOB);
    const senderChannel = sender.channel('board');
    const otherChannel = other.channel('board');
    await Promise.all([subscribed(senderChannel, 'sender board'), subscribed(otherChannel, 'other board')]);
    const atSender: unknown[] = [];
    senderChannel.listen('CardMoved', (data: unknown) => atSender.push(data));
    const atOther = once<unknown>((done) => otherChannel.listen('CardMoved', done), 'CardMoved at the other socket');
    // Laravel sends the X-Socket-ID of the request (Echo's socketId()) as socket_id.
    const socketId = sender.socketId();
    assert.ok(socketId, 'Echo knows its socket id');
    await harness.backend().trigger('board', 'App\\Events\\CardMoved', { card: 1 }, { socket_id: socketId });
    assert.deepEqual(await atOther, { card: 1 });
    await sleep(100);
    assert.deepEqual(atSender, []);
  });

  it('leave() unsubscribes: the channel is vacated and no event arrives', async () => {
    const echo = await echoFor(ADA);
    const channel = echo.channel('leavers');
    await subscribed(channel, 'leavers');
    const late: unknown[] = [];
    channel.listen('Late', (data: unknown) => late.push(data));
    echo.leave('leavers');
    const deadline = Date.now() + 5_000;
    let occupied = true;
    while (occupied && Date.now() < deadline) {
      const response = await harness.backend().get({ path: '/channels/leavers' });
      occupied = ((await response.json()) as { occupied: boolean }).occupied;
      if (occupied) await sleep(20);
    }
    assert.equal(occupied, false, 'the server saw the unsubscribe');
    await harness.backend().trigger('leavers', 'App\\Events\\Late', {});
    await sleep(100);
    assert.deepEqual(late, []);
  });
});
