import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Pusher from 'pusher';
import type { Members, PresenceChannel } from 'pusher-js';
import { connected, sdkChannelAuth, subscribed } from '../helpers/auth.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { once, sleep, waitFor } from '../helpers/wait.js';

const PRESENCE_APP = { id: 'presence-app', key: 'presence-key', secret: 'presence-secret', max_presence_members: 2, max_presence_member_bytes: 256 };

describe('public and private channels', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(() => harness.close());

  it('subscribes a raw socket to a public channel with an empty subscription_succeeded', async () => {
    const raw = await harness.raw();
    await raw.established();
    const result = await raw.subscribe('lobby');
    assert.equal(result.event, 'pusher_internal:subscription_succeeded');
    assert.deepEqual(result.data, {});
    await harness.backend().trigger('lobby', 'news', { n: 1 });
    const event = await raw.next((f) => f.event === 'news' && f.channel === 'lobby');
    assert.deepEqual(event.data, { n: 1 });
  });

  it('stops delivering after pusher:unsubscribe', async () => {
    const raw = await harness.raw();
    await raw.established();
    await raw.subscribe('leaving');
    raw.send({ event: 'pusher:unsubscribe', data: { channel: 'leaving' } });
    await raw.roundTrip();
    await harness.backend().trigger('leaving', 'late', {});
    await raw.none('late', 200);
  });

  it('authorises a private channel with a pusher-js customHandler signing through the SDK', async () => {
    const backend = harness.backend();
    const client = harness.client({ channelAuthorization: sdkChannelAuth(backend) });
    const channel = await subscribed(client, 'private-orders');
    const received = once<unknown>((done) => channel.bind('created', done), 'private event');
    await backend.trigger('private-orders', 'created', { id: 7 });
    assert.deepEqual(await received, { id: 7 });
  });

  it('authorises a private channel whose authorisation carries channel_data, as the SDKs sign it when given data', async () => {
    const backend = harness.backend();
    // The seed's backend passes user data for every channel; the SDK then signs socket_id:channel:channel_data.
    const client = harness.client({ channelAuthorization: sdkChannelAuth(backend, { user_id: '42', user_info: { name: 'Ada' } }) });
    const channel = await subscribed(client, 'private-42');
    const received = once<unknown>((done) => channel.bind('Internal Notification', done), 'event on private-42');
    await backend.trigger('private-42', 'Internal Notification', { id: 'n1' });
    assert.deepEqual(await received, { id: 'n1' });
  });

  it('refuses a private subscription whose channel_data is not what was signed', async () => {
    const backend = harness.backend();
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    const signed = backend.authorizeChannel(socketId, 'private-42', { user_id: '42' });
    const tampered = await raw.subscribe('private-42', signed.auth, JSON.stringify({ user_id: '43' }));
    assert.equal(tampered.event, 'pusher:subscription_error');
    assert.equal((tampered.data as { status: number }).status, 401);
    const withoutData = await raw.subscribe('private-42', backend.authorizeChannel(socketId, 'private-42').auth, signed.channel_data);
    assert.equal(withoutData.event, 'pusher:subscription_error', 'a signature over socket:channel does not cover channel_data');
    const good = await raw.subscribe('private-42', signed.auth, signed.channel_data);
    assert.equal(good.event, 'pusher_internal:subscription_succeeded');
  });

  it('delivers pusher:subscription_error to pusher-js channel listeners on a bad signature', async () => {
    const client = harness.client({
      channelAuthorization: { customHandler: (_params, callback) => callback(null, { auth: `${harness.app.key}:${'0'.repeat(64)}` }) },
    });
    const channel = client.subscribe('private-forged');
    const error = await once<{ type: string; status: number }>((done) => channel.bind('pusher:subscription_error', done), 'subscription_error');
    assert.equal(error.status, 401);
    assert.equal(channel.subscribed, false);
  });

  it('refuses a private subscription without auth, with subscription_error and pusher:error 4009', async () => {
    const raw = await harness.raw();
    await raw.established();
    const result = await raw.subscribe('private-no-auth');
    assert.equal(result.event, 'pusher:subscription_error');
    assert.equal((result.data as { status: number }).status, 401);
    assert.equal((await raw.error()).code, 4009);
    await raw.roundTrip();
  });

  it('refuses a signature made for another socket id', async () => {
    const victim = await harness.raw();
    const attacker = await harness.raw();
    const { socketId: victimId } = await victim.established();
    await attacker.established();
    const { auth } = harness.backend().authorizeChannel(victimId, 'private-stolen');
    const result = await attacker.subscribe('private-stolen', auth);
    assert.equal(result.event, 'pusher:subscription_error');
    const own = await victim.subscribe('private-stolen', auth);
    assert.equal(own.event, 'pusher_internal:subscription_succeeded');
  });

  it('refuses a signature made with another secret, or for another channel', async () => {
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    const otherSecret = harness.backend({ ...harness.app, secret: 'not-the-secret' }).authorizeChannel(socketId, 'private-a').auth;
    assert.equal((await raw.subscribe('private-a', otherSecret)).event, 'pusher:subscription_error');
    const otherChannel = harness.backend().authorizeChannel(socketId, 'private-b').auth;
    assert.equal((await raw.subscribe('private-a', otherChannel)).event, 'pusher:subscription_error');
  });
});

describe('presence channels', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ apps: [PRESENCE_APP] });
  });
  after(() => harness.close());

  const presenceClient = (userId: string, userInfo: Record<string, unknown> = { name: userId }) =>
    harness.client({ channelAuthorization: sdkChannelAuth(harness.backend(), { user_id: userId, user_info: userInfo }) });

  async function join(userId: string, channelName: string) {
    const client = presenceClient(userId);
    const channel = (await subscribed(client, channelName)) as PresenceChannel;
    return { client, channel };
  }

  it('sends members (ids, count, me) with subscription_succeeded', async () => {
    const alice = await join('alice', 'presence-room');
    const bob = await join('bob', 'presence-room');
    const members: Members = bob.channel.members;
    assert.equal(members.count, 2);
    assert.deepEqual(members.me, { id: 'bob', info: { name: 'bob' } });
    const ids: string[] = [];
    members.each((member: { id: string }) => ids.push(member.id));
    assert.deepEqual(ids.sort(), ['alice', 'bob']);
    assert.deepEqual(members.get('alice'), { id: 'alice', info: { name: 'alice' } });
    await waitFor(() => alice.channel.members.count === 2, 'alice to see bob');
  });

  it('sends member_added on a user\'s first socket only, and member_removed after its last', async () => {
    const watcher = await join('watcher', 'presence-multi');
    const added: string[] = [];
    const removed: string[] = [];
    watcher.channel.bind('pusher:member_added', (m: { id: string }) => added.push(m.id));
    watcher.channel.bind('pusher:member_removed', (m: { id: string }) => removed.push(m.id));

    const first = await join('carol', 'presence-multi');
    await waitFor(() => added.length === 1, 'member_added for carol');
    const second = await join('carol', 'presence-multi');
    assert.equal(second.channel.members.count, 2, 'carol counts once');
    await sleep(100);
    assert.deepEqual(added, ['carol']);

    first.client.disconnect();
    await sleep(150);
    assert.deepEqual(removed, [], 'carol still has a socket');
    assert.equal(watcher.channel.members.count, 2);
    second.client.unsubscribe('presence-multi');
    await waitFor(() => removed.length === 1, 'member_removed for carol');
    assert.deepEqual(removed, ['carol']);
    assert.equal(watcher.channel.members.count, 1);
  });

  it('refuses a new member over max_presence_members, but admits another socket of a member', async () => {
    await join('m1', 'presence-full');
    await join('m2', 'presence-full');
    const third = presenceClient('m3');
    const channel = third.subscribe('presence-full');
    const error = await once<{ status: number }>((done) => channel.bind('pusher:subscription_error', done), 'full channel error');
    assert.equal(error.status, 403);
    const again = await join('m1', 'presence-full');
    assert.equal(again.channel.members.count, 2);
  });

  it('refuses channel_data larger than max_presence_member_bytes', async () => {
    const raw = await harness.raw({ key: PRESENCE_APP.key });
    const { socketId } = await raw.established();
    const data = { user_id: 'big', user_info: { bio: 'x'.repeat(400) } };
    const { auth, channel_data } = harness.backend().authorizeChannel(socketId, 'presence-big', data);
    const result = await raw.subscribe('presence-big', auth, channel_data);
    assert.equal(result.event, 'pusher:subscription_error');
    assert.equal((result.data as { status: number }).status, 400);
    await raw.roundTrip();
  });

  it('refuses presence without channel_data, and channel_data that differs from what was signed', async () => {
    const raw = await harness.raw({ key: PRESENCE_APP.key });
    const { socketId } = await raw.established();
    const { auth } = harness.backend().authorizeChannel(socketId, 'presence-signed', { user_id: 'honest' });
    assert.equal((await raw.subscribe('presence-signed', auth)).event, 'pusher:subscription_error');
    const forged = JSON.stringify({ user_id: 'admin' });
    assert.equal((await raw.subscribe('presence-signed', auth, forged)).event, 'pusher:subscription_error');
  });

  it('accepts a numeric user_id and reports it as a string', async () => {
    const raw = await harness.raw({ key: PRESENCE_APP.key });
    const { socketId } = await raw.established();
    // Pusher accepts numeric user ids in channel_data; the SDK's type only allows strings.
    const numeric = { user_id: 42 as unknown as string, user_info: { n: 1 } };
    const signed = harness.backend().authorizeChannel(socketId, 'presence-numeric', numeric);
    const result = await raw.subscribe('presence-numeric', signed.auth, signed.channel_data);
    assert.equal(result.event, 'pusher_internal:subscription_succeeded');
    const presence = (result.data as { presence: { ids: string[]; count: number } }).presence;
    assert.deepEqual(presence.ids, ['42']);
    assert.equal(presence.count, 1);
  });

  it('keeps a member whose user id is "__proto__" in the presence hash', async () => {
    const raw = await harness.raw({ key: PRESENCE_APP.key });
    const { socketId } = await raw.established();
    const signed = harness.backend().authorizeChannel(socketId, 'presence-proto', { user_id: '__proto__', user_info: { odd: true } });
    const result = await raw.subscribe('presence-proto', signed.auth, signed.channel_data);
    const { presence } = JSON.parse(JSON.parse(result.raw).data) as { presence: { ids: string[]; hash: Record<string, unknown> } };
    assert.deepEqual(presence.ids, ['__proto__']);
    assert.ok(Object.hasOwn(presence.hash, '__proto__'), 'the hash has the member');
    assert.deepEqual(presence.hash['__proto__'], { odd: true });
  });
});

describe('encrypted channels', () => {
  const masterKey = Buffer.alloc(32, 7).toString('base64');
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(() => harness.close());

  const encryptingBackend = () => {
    const { id, key, secret } = harness.app;
    return new Pusher({
      appId: id,
      key,
      secret,
      host: '127.0.0.1',
      port: String(harness.port),
      useTLS: false,
      encryptionMasterKeyBase64: masterKey,
    });
  };

  it('relays an SDK-encrypted event that pusher-js decrypts, and shows raw subscribers only ciphertext', async () => {
    const backend = encryptingBackend();
    const client = harness.client({ channelAuthorization: sdkChannelAuth(backend) });
    await connected(client);
    const channel = await subscribed(client, 'private-encrypted-vault');
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    await raw.subscribe('private-encrypted-vault', backend.authorizeChannel(socketId, 'private-encrypted-vault').auth);

    const decrypted = once<unknown>((done) => channel.bind('secret', done), 'decrypted event');
    await backend.trigger('private-encrypted-vault', 'secret', { pin: '1234' });
    assert.deepEqual(await decrypted, { pin: '1234' });
    const relayed = await raw.next('secret');
    const envelope = relayed.data as { nonce: string; ciphertext: string };
    assert.equal(typeof envelope.nonce, 'string');
    assert.equal(typeof envelope.ciphertext, 'string');
    assert.ok(!relayed.raw.includes('1234'), 'the server never sees the plaintext');
  });
});
