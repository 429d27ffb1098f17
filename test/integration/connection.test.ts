import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connected } from '../helpers/auth.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { once, sleep, waitFor } from '../helpers/wait.js';

const FAST_LIVENESS = { activityTimeoutSeconds: 1, pongTimeoutMs: 300, sweepIntervalMs: 50 };

describe('connection handshake and liveness', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ realtime: FAST_LIVENESS });
  });
  after(() => harness.close());

  it('sends pusher:connection_established with a unique N.N socket id and the activity timeout', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const raw = await harness.raw();
      const { socketId, activityTimeout } = await raw.established();
      assert.match(socketId, /^\d+\.\d+$/);
      assert.equal(activityTimeout, 1);
      ids.add(socketId);
    }
    const client = harness.client();
    const socketId = await connected(client);
    assert.match(socketId, /^\d+\.\d+$/);
    ids.add(socketId);
    assert.equal(ids.size, 6, 'every socket id is different');
  });

  it('answers pusher:ping with pusher:pong', async () => {
    const raw = await harness.raw();
    await raw.established();
    raw.send({ event: 'pusher:ping', data: {} });
    const pong = await raw.next('pusher:pong');
    assert.equal(pong.channel, undefined);
  });

  it('answers WebSocket ping frames with pong frames', async () => {
    const raw = await harness.raw();
    await raw.established();
    const pong = once<string>((done) => raw.ws.once('pong', (payload) => done(payload.toString())), 'WebSocket pong');
    raw.ws.ping('are-you-there');
    assert.equal(await pong, 'are-you-there');
  });

  it('pings a silent client with pusher:ping and a ping frame, then closes it with 4201', async () => {
    const raw = await harness.raw({ autoPong: false });
    await raw.established();
    await raw.next('pusher:ping', 'pusher:ping', 2_500);
    assert.ok(raw.pings > 0, 'a WebSocket ping frame was sent too');
    const closed = await raw.closedWithin(2_000);
    assert.equal(closed.code, 4201);
  });

  it('keeps a client that answers pusher:ping with pusher:pong', async () => {
    const raw = await harness.raw({ autoPong: false });
    await raw.established();
    await raw.next('pusher:ping', 'pusher:ping', 2_500);
    raw.send({ event: 'pusher:pong', data: {} });
    await sleep(600);
    assert.equal(raw.closeState, null, 'still open after the pong timeout');
    await raw.roundTrip();
  });

  it('keeps a pusher-js client connected across several activity timeouts', async () => {
    const client = harness.client();
    const socketId = await connected(client);
    await sleep(1_500);
    assert.equal(client.connection.state, 'connected');
    assert.equal(client.connection.socket_id, socketId);
  });
});

describe('connection refusals', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({
      apps: [
        TEST_APP,
        { id: 'off-app', key: 'off-key', secret: 'off-secret', enabled: false },
        { id: 'small-app', key: 'small-key', secret: 'small-secret', max_connections: 2 },
      ],
    });
  });
  after(() => harness.close());

  it('refuses an unknown app key with pusher:error 4001, then close code 4001', async () => {
    const raw = await harness.raw({ key: 'no-such-key' });
    assert.equal((await raw.error()).code, 4001);
    assert.equal((await raw.closedWithin()).code, 4001);
  });

  it('refuses unknown keys whose close reason would cut a multi-byte character, and keeps serving', async () => {
    // "App key " + 114 bytes puts the 3-byte "€" across the 123-byte close-reason limit.
    for (const key of [`${'a'.repeat(114)}€`, `${'b'.repeat(113)}😀`, '€'.repeat(300)]) {
      const raw = await harness.raw({ key: encodeURIComponent(key) });
      assert.equal((await raw.error()).code, 4001);
      const closed = await raw.closedWithin();
      assert.equal(closed.code, 4001);
      assert.ok(Buffer.byteLength(closed.reason) <= 123);
    }
    await (await harness.raw()).established();
  });

  it('reports 4001 to pusher-js as a connection error', async () => {
    const client = harness.client({ key: 'no-such-key' });
    const error = await once<{ data?: { code?: number } }>((done) => client.connection.bind('error', (e: { error: { data?: { code?: number } } }) => done(e.error)), 'pusher-js error');
    assert.equal(error.data?.code, 4001);
  });

  it('refuses a disabled app with 4003', async () => {
    const raw = await harness.raw({ key: 'off-key' });
    assert.equal((await raw.error()).code, 4003);
    assert.equal((await raw.closedWithin()).code, 4003);
  });

  it('refuses a connection over the app max_connections with 4004, and accepts again after one closes', async () => {
    const first = await harness.raw({ key: 'small-key' });
    const second = await harness.raw({ key: 'small-key' });
    await first.established();
    await second.established();
    const third = await harness.raw({ key: 'small-key' });
    assert.equal((await third.error()).code, 4004);
    assert.equal((await third.closedWithin()).code, 4004);

    const before = harness.server.realtime.connections;
    first.close();
    await waitFor(() => harness.server.realtime.connections < before, 'the server to forget the closed socket');
    const fourth = await harness.raw({ key: 'small-key' });
    await fourth.established();
  });

  it('refuses an unsupported protocol version with 4007', async () => {
    const raw = await harness.raw({ query: 'protocol=3' });
    assert.equal((await raw.error()).code, 4007);
    assert.equal((await raw.closedWithin()).code, 4007);
  });

  it('accepts protocol 7', async () => {
    const raw = await harness.raw({ query: 'protocol=7' });
    await raw.established();
  });
});

describe('server capacity and shutdown', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ realtime: { maxConnections: 2 } });
  });
  after(() => harness.close());

  it('refuses a connection over the server maxConnections with 4100', async () => {
    const first = await harness.raw();
    const second = await harness.raw();
    await first.established();
    await second.established();
    const third = await harness.raw();
    assert.equal((await third.error()).code, 4100);
    assert.equal((await third.closedWithin()).code, 4100);
    first.close();
    second.close();
    await waitFor(() => harness.server.realtime.connections === 0, 'the server to forget the closed sockets');
  });

  it('closes open sockets with 4200 when the server closes', async () => {
    const raw = await harness.raw();
    await raw.established();
    await harness.server.close();
    assert.equal((await raw.closedWithin()).code, 4200);
  });
});

describe('authorised-connections mode', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({
      apps: [{ ...TEST_APP, authorised_connections: true }],
      realtime: { authorisedGraceMs: 300, sweepIntervalMs: 50 },
    });
  });
  after(() => harness.close());

  it('closes a socket that neither signs in nor joins an authorised channel with 4009', async () => {
    const raw = await harness.raw();
    await raw.established();
    await raw.subscribe('public-only');
    assert.equal((await raw.error(2_000)).code, 4009);
    assert.equal((await raw.closedWithin()).code, 4009);
  });

  it('keeps a socket that signs in within the grace period', async () => {
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    const user = harness.backend().authenticateUser(socketId, { id: 'grace-user' });
    raw.send({ event: 'pusher:signin', data: user });
    await raw.next('pusher:signin_success');
    await sleep(500);
    assert.equal(raw.closeState, null);
    await raw.roundTrip();
  });

  it('keeps a socket that joins a private channel within the grace period', async () => {
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    const { auth } = harness.backend().authorizeChannel(socketId, 'private-grace');
    const result = await raw.subscribe('private-grace', auth);
    assert.equal(result.event, 'pusher_internal:subscription_succeeded');
    await sleep(500);
    assert.equal(raw.closeState, null);
    await raw.roundTrip();
  });
});
