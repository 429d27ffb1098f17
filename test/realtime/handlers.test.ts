/**
 * The message handlers driven without a socket: frames in through `Connection.handleFrame`, the
 * exact text of every frame out read from a fake transport, time from a clock the test moves.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Errors } from '../../src/protocol/errors.js';
import { signChannel, signUser } from '../../src/protocol/signatures.js';
import { FakeTransport, fakeCore, type FakeClient } from '../helpers/fake-transport.js';

const subscribe = (channel: string, auth?: string, channelData?: string) => ({ event: 'pusher:subscribe', data: { channel, auth, channel_data: channelData } });
const signed = (client: FakeClient, channel: string, channelData?: string) => signChannel('key-0', 'secret-0', client.socketId, channel, channelData);
const member = (id: string, info: unknown = {}) => JSON.stringify({ user_id: id, user_info: info });

/** The `pusher:error` code and the subscription_error status a client got, and the registry entry it matches. */
function refusal(frames: ReturnType<FakeClient['take']>) {
  const error = frames.find((frame) => frame.event === 'pusher:error')?.data as { code: number | null; message: string } | undefined;
  const subscriptionError = frames.find((frame) => frame.event === 'pusher:subscription_error')?.data as { status: number; type: string } | undefined;
  return { code: error?.code, status: subscriptionError?.status, type: subscriptionError?.type, message: error?.message };
}

describe('connection admission', () => {
  it('sends connection_established with the socket id and activity timeout, byte for byte', () => {
    const core = fakeCore();
    const client = core.connect();
    assert.ok(!(client instanceof FakeTransport));
    assert.deepEqual(client.transport.sent, [
      `{"event":"pusher:connection_established","data":"{\\"socket_id\\":\\"${client.socketId}\\",\\"activity_timeout\\":120}"}`,
    ]);
  });

  it('refuses an unknown key, a disabled app, a foreign origin, a protocol it does not speak and the app quota, each with its code', () => {
    const core = fakeCore([{}, { enabled: false }, { allowed_origins: ['https://ok.example'] }, { max_connections: 1 }]);
    const refused = (transport: unknown) => {
      assert.ok(transport instanceof FakeTransport, 'refused');
      return [(JSON.parse(transport.sent[0]) as { data: { code: number } }).data.code, transport.closedWith?.[0]];
    };
    assert.deepEqual(refused(core.connect(9)), [Errors.appNotFound.pusherCode, 4001]);
    assert.deepEqual(refused(core.connect(1)), [Errors.appDisabled.pusherCode, 4003]);
    assert.deepEqual(refused(core.connect(2, { origin: 'https://evil.example' })), [4009, 4009]);
    assert.ok(!(core.connect(2, { origin: 'https://ok.example' }) instanceof FakeTransport));
    assert.deepEqual(refused(core.connect(0, { protocol: '8' })), [Errors.unsupportedProtocol.pusherCode, 4007]);
    assert.ok(!(core.connect(3) instanceof FakeTransport));
    assert.deepEqual(refused(core.connect(3)), [Errors.overQuota.pusherCode, 4004]);
  });

  it('counts max_connections_per_ip by address, and gives the slot back when the socket closes', async () => {
    const core = fakeCore([{ max_connections_per_ip: 1 }]);
    const first = core.connect(0, { address: '10.0.0.1' });
    assert.ok(!(first instanceof FakeTransport));
    assert.ok(core.connect(0, { address: '10.0.0.1' }) instanceof FakeTransport, 'second from the same address');
    assert.ok(!(core.connect(0, { address: '10.0.0.2' }) instanceof FakeTransport), 'another address');
    first.connection.onClosed();
    await first.connection.cleanedUp;
    assert.ok(!(core.connect(0, { address: '10.0.0.1' }) instanceof FakeTransport), 'the slot is free again');
  });
});

describe('subscribe and unsubscribe, every channel kind', () => {
  it('subscribes a public channel, byte for byte, delivers to it, and stops after unsubscribe', async () => {
    const core = fakeCore();
    const client = core.client();
    await client.send(subscribe('news'));
    assert.deepEqual(client.transport.take(), ['{"event":"pusher_internal:subscription_succeeded","channel":"news","data":"{}"}']);
    core.realtime.publish(core.app(), 'news', 'headline', { n: 1 }, null);
    assert.deepEqual(client.transport.take(), ['{"event":"headline","channel":"news","data":{"n":1}}']);
    await client.send({ event: 'pusher:unsubscribe', data: { channel: 'news' } });
    core.realtime.publish(core.app(), 'news', 'headline', { n: 2 }, null);
    assert.deepEqual(client.take(), []);
    assert.equal(core.realtime.hubOf('app-0')?.channels.has('news'), false, 'the empty channel is dropped');
  });

  it('refuses a bad channel name with a 400 subscription_error and a code-less pusher:error', async () => {
    const core = fakeCore();
    const client = core.client();
    await client.send(subscribe('bad name'));
    const refused = refusal(client.take());
    assert.deepEqual([refused.code, refused.status, refused.type], [Errors.invalidChannelName.pusherCode, Errors.invalidChannelName.status, 'AuthError']);
    assert.equal(client.connection.subscriptionCount, 0);
  });

  it('checks the signature of a private channel (with and without channel_data) and refuses a bad one with 401 / 4009', async () => {
    const core = fakeCore();
    const client = core.client();
    await client.send(subscribe('private-a', signed(client, 'private-a')));
    assert.equal(client.take()[0].event, 'pusher_internal:subscription_succeeded');
    const data = JSON.stringify({ extra: true });
    await client.send(subscribe('private-b', signed(client, 'private-b', data), data));
    assert.equal(client.take()[0].event, 'pusher_internal:subscription_succeeded');
    await client.send(subscribe('private-c', signed(client, 'private-other')));
    const refused = refusal(client.take());
    assert.deepEqual([refused.code, refused.status], [Errors.invalidChannelSignature.pusherCode, Errors.invalidChannelSignature.status]);
    assert.equal(client.connection.subscription('private-c'), undefined);
    assert.equal(client.transport.closedWith, null, 'the socket stays open');
  });

  it('joins and leaves presence channels: members on success, member_added once per user, member_removed after its last socket', async () => {
    const core = fakeCore();
    const [ada, bob, bobAgain] = [core.client(), core.client(), core.client()];
    await ada.send(subscribe('presence-room', signed(ada, 'presence-room', member('ada', { n: 'Ada' })), member('ada', { n: 'Ada' })));
    assert.deepEqual(ada.transport.take(), [
      '{"event":"pusher_internal:subscription_succeeded","channel":"presence-room","data":"{\\"presence\\":{\\"ids\\":[\\"ada\\"],\\"hash\\":{\\"ada\\":{\\"n\\":\\"Ada\\"}},\\"count\\":1}}"}',
    ]);
    await bob.send(subscribe('presence-room', signed(bob, 'presence-room', member('bob')), member('bob')));
    assert.deepEqual(ada.transport.take(), ['{"event":"pusher_internal:member_added","channel":"presence-room","data":"{\\"user_id\\":\\"bob\\",\\"user_info\\":{}}"}']);
    assert.deepEqual((bob.take()[0].data as string).length > 0, true);
    await bobAgain.send(subscribe('presence-room', signed(bobAgain, 'presence-room', member('bob')), member('bob')));
    assert.deepEqual(ada.take(), [], 'a second socket of the same user is no new member');
    await bob.send({ event: 'pusher:unsubscribe', data: { channel: 'presence-room' } });
    assert.deepEqual(ada.take(), [], 'bob still has a socket');
    bobAgain.connection.onClosed();
    await bobAgain.connection.cleanedUp;
    assert.deepEqual(ada.transport.take(), ['{"event":"pusher_internal:member_removed","channel":"presence-room","data":"{\\"user_id\\":\\"bob\\"}"}']);
  });

  it('refuses presence without valid channel_data, and a full presence channel with 403 / 4100', async () => {
    const core = fakeCore([{ max_presence_members: 1 }]);
    const [ada, bob] = [core.client(), core.client()];
    await ada.send(subscribe('presence-room', signed(ada, 'presence-room', '[]'), '[]'));
    assert.deepEqual(refusal(ada.take()).status, Errors.invalidChannelData.status);
    await ada.send(subscribe('presence-room', signed(ada, 'presence-room', member('ada')), member('ada')));
    ada.take();
    await bob.send(subscribe('presence-room', signed(bob, 'presence-room', member('bob')), member('bob')));
    const refused = refusal(bob.take());
    assert.deepEqual([refused.code, refused.status], [Errors.presenceChannelFull.pusherCode, Errors.presenceChannelFull.status]);
  });

  it('replays a cache channel: a miss first, the last event after a publish', async () => {
    const core = fakeCore();
    const first = core.client();
    await first.send(subscribe('cache-prices'));
    assert.deepEqual(first.transport.take().slice(1), ['{"event":"pusher:cache_miss","channel":"cache-prices"}']);
    core.realtime.publish(core.app(), 'cache-prices', 'price', { eur: 1 }, null);
    await core.realtime.adapter.cacheGet('app-0', 'cache-prices'); // the cache write is under way; let it land
    const second = core.client();
    await second.send(subscribe('cache-prices'));
    assert.deepEqual(second.transport.take().slice(1), ['{"event":"price","channel":"cache-prices","data":{"eur":1}}']);
  });

  it('lets only the signed-in user subscribe its #server-to-user- channel', async () => {
    const core = fakeCore();
    const client = core.client();
    await client.send(subscribe('#server-to-user-ada'));
    assert.deepEqual(refusal(client.take()).status, Errors.serverToUserForbidden.status);
    const userData = JSON.stringify({ id: 'ada' });
    await client.send({ event: 'pusher:signin', data: { auth: signUser('key-0', 'secret-0', client.socketId, userData), user_data: userData } });
    client.take();
    await client.send(subscribe('#server-to-user-ada'));
    assert.equal(client.take()[0].event, 'pusher_internal:subscription_succeeded');
  });

  it('refuses one channel more than max_channels_per_connection with 403 / 4100, keeping the socket open', async () => {
    const core = fakeCore([{ max_channels_per_connection: 2 }]);
    const client = core.client();
    await client.send(subscribe('a'));
    await client.send(subscribe('b'));
    client.take();
    await client.send(subscribe('c'));
    const refused = refusal(client.take());
    assert.deepEqual([refused.code, refused.status], [Errors.tooManyChannels.pusherCode, Errors.tooManyChannels.status]);
    await client.send(subscribe('a'));
    assert.equal(client.take()[0].event, 'pusher_internal:subscription_succeeded', 'a repeated subscribe is answered again');
  });
});

describe('client events', () => {
  async function pair(options: Record<string, unknown> = { client_events: true }) {
    const core = fakeCore([options]);
    const [sender, receiver] = [core.client(), core.client()];
    for (const client of [sender, receiver]) {
      await client.send(subscribe('private-chat', signed(client, 'private-chat')));
      await client.send(subscribe('presence-chat', signed(client, 'presence-chat', member(`u-${client.socketId}`)), member(`u-${client.socketId}`)));
      await client.send(subscribe('public'));
      await client.send(subscribe('private-encrypted-x', signed(client, 'private-encrypted-x')));
    }
    sender.take();
    receiver.take();
    return { core, sender, receiver };
  }
  const clientEvent = (channel: string, data: unknown = { hi: 1 }) => ({ event: 'client-typing', channel, data });
  const refusedCode = (client: FakeClient) => (client.take().find((frame) => frame.event === 'pusher:error')?.data as { code: number }).code;

  it('relays to the other subscribers, not back to the sender, with user_id on presence channels', async () => {
    const { sender, receiver } = await pair();
    await sender.send(clientEvent('private-chat'));
    assert.deepEqual(receiver.transport.take(), ['{"event":"client-typing","channel":"private-chat","data":{"hi":1}}']);
    await sender.send(clientEvent('presence-chat'));
    assert.deepEqual(receiver.transport.take(), [`{"event":"client-typing","channel":"presence-chat","data":{"hi":1},"user_id":"u-${sender.socketId}"}`]);
    assert.deepEqual(sender.take(), []);
  });

  it('refuses, with 4301 and the socket open: disabled, public, encrypted, not subscribed, too large', async () => {
    const { sender: off } = await pair({ client_events: false });
    await off.send(clientEvent('private-chat'));
    assert.equal(refusedCode(off), Errors.clientEventsDisabled.pusherCode);
    const { sender } = await pair({ client_events: true, max_event_payload_bytes: 100 });
    for (const event of [clientEvent('public'), clientEvent('private-encrypted-x'), clientEvent('private-other'), clientEvent('private-chat', 'x'.repeat(200))]) {
      await sender.send(event);
      assert.equal(refusedCode(sender), 4301, JSON.stringify(event).slice(0, 60));
    }
    assert.equal(sender.transport.closedWith, null);
  });

  it('limits the rate per socket per second of the injected clock', async () => {
    const { core, sender, receiver } = await pair({ client_events: true, client_event_rate: 3 });
    for (let i = 0; i < 3; i++) await sender.send(clientEvent('private-chat', { i }));
    await sender.send(clientEvent('private-chat', { i: 3 }));
    assert.equal(refusedCode(sender), Errors.clientEventRateLimited.pusherCode);
    assert.equal(receiver.take().length, 3);
    core.clock.now += 1000;
    await sender.send(clientEvent('private-chat', { i: 4 }));
    assert.deepEqual(sender.take(), []);
    assert.equal(receiver.take().length, 1);
  });
});

describe('pusher:signin', () => {
  const signin = (client: FakeClient, user: Record<string, unknown>, secret = 'secret-0') => {
    const userData = JSON.stringify(user);
    return { event: 'pusher:signin', data: { auth: signUser('key-0', secret, client.socketId, userData), user_data: userData } };
  };

  it('answers signin_success byte for byte, and tells watchers when a watched user comes and goes', async () => {
    const core = fakeCore();
    const [watcher, ada] = [core.client(), core.client()];
    await watcher.send(signin(watcher, { id: 'w', watchlist: ['ada'] }));
    assert.deepEqual(watcher.transport.take(), ['{"event":"pusher:signin_success","data":"{\\"user_data\\":\\"{\\\\\\"id\\\\\\":\\\\\\"w\\\\\\",\\\\\\"watchlist\\\\\\":[\\\\\\"ada\\\\\\"]}\\"}"}']);
    await ada.send(signin(ada, { id: 'ada' }));
    assert.deepEqual(watcher.transport.take(), ['{"event":"pusher_internal:watchlist_events","data":"{\\"events\\":[{\\"name\\":\\"online\\",\\"user_ids\\":[\\"ada\\"]}]}"}']);
    ada.connection.onClosed();
    await ada.connection.cleanedUp;
    assert.deepEqual(watcher.take().map((frame) => JSON.parse(frame.data as string)), [{ events: [{ name: 'offline', user_ids: ['ada'] }] }]);
  });

  it('closes with 4009 on a bad signature; refuses bad user_data and a second user without closing', async () => {
    const core = fakeCore();
    const bad = core.client();
    await bad.send(signin(bad, { id: 'ada' }, 'wrong-secret'));
    assert.equal(refusal(bad.take()).code, Errors.invalidSigninSignature.pusherCode);
    assert.deepEqual(bad.transport.closedWith?.[0], 4009);
    assert.equal(bad.connection.closed, true);

    const client = core.client();
    await client.send(signin(client, { watchlist: [] }));
    assert.equal(refusal(client.take()).code, Errors.invalidUserData.pusherCode);
    await client.send(signin(client, { id: 'ada', watchlist: Array.from({ length: 101 }, (_, i) => `u${i}`) }));
    assert.equal(refusal(client.take()).code, Errors.watchlistTooLong.pusherCode);
    await client.send(signin(client, { id: 'ada' }));
    assert.equal(client.take()[0].event, 'pusher:signin_success');
    assert.equal(client.connection.userId, 'ada');
    await client.send(signin(client, { id: 'bob' }));
    assert.equal(refusal(client.take()).code, Errors.signedInAsOther.pusherCode);
    assert.equal(client.connection.userId, 'ada');
    assert.equal(client.transport.closedWith, null);
  });
});

describe('liveness, on the injected clock', () => {
  it('pings a silent client after the activity timeout and closes it with 4201 after the pong timeout', () => {
    const core = fakeCore([{}], { activityTimeoutSeconds: 10, pongTimeoutMs: 5_000 });
    const client = core.client();
    core.clock.now += 9_999;
    client.connection.checkLiveness(core.clock.now);
    assert.deepEqual(client.take(), []);
    core.clock.now += 1;
    client.connection.checkLiveness(core.clock.now);
    assert.deepEqual(client.transport.take(), ['{"event":"pusher:ping","data":"{}"}']);
    assert.equal(client.transport.pings, 1);
    core.clock.now += 5_000;
    client.connection.checkLiveness(core.clock.now);
    assert.deepEqual(client.transport.closedWith?.[0], Errors.pongTimeout.pusherCode);
  });

  it('answers pusher:ping, and any frame puts off the next ping', async () => {
    const core = fakeCore([{}], { activityTimeoutSeconds: 10 });
    const client = core.client();
    core.clock.now += 8_000;
    await client.send({ event: 'pusher:ping', data: {} });
    assert.deepEqual(client.transport.take(), ['{"event":"pusher:pong","data":"{}"}']);
    core.clock.now += 8_000;
    client.connection.checkLiveness(core.clock.now);
    assert.deepEqual(client.take(), []);
  });

  it('closes an unauthorised socket with 4009 after the grace period in authorised-connections mode', async () => {
    const core = fakeCore([{ authorised_connections: true }, { authorised_connections: true }], { authorisedGraceMs: 30_000 });
    const [idle, authorised] = [core.client(0), core.client(0)];
    await authorised.send(subscribe('private-a', signed(authorised, 'private-a')));
    core.clock.now += 30_000;
    idle.connection.checkLiveness(core.clock.now);
    authorised.connection.checkLiveness(core.clock.now);
    assert.deepEqual(idle.transport.closedWith?.[0], Errors.notAuthorisedInTime.pusherCode);
    assert.equal(authorised.transport.closedWith, null);
  });
});
