/**
 * Hostile WebSocket input against the real server process: random and malformed frames
 * (fast-check), invalid UTF-8, deeply nested JSON, oversize frames, subscribe and unsubscribe
 * floods, huge channel_data, client event floods. Each gets its protocol answer, the server stays
 * up and serves a normal client afterwards, and its memory comes back down.
 */
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { signedRequest } from '../helpers/http.js';
import type { HeraldProcess } from '../helpers/herald-process.js';
import type { Frame, RawClient } from '../helpers/raw-client.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { channelAuth, mb, memoryOf, metricsOf, rawSocket, startWithApps, type Memory } from './support.js';

const APP = { id: 'hostile-app', key: 'hostile-key', secret: 'hostile-secret' };
const FRAME_LIMIT = 256 * 1024;
const CHANNEL_CAP = 1000;
const FLOODERS = 10;
/** Generous bounds on growth after the floods, against the baseline taken after a warm-up. */
const HEAP_BOUND = 48 * 1024 * 1024;
const RSS_BOUND = 200 * 1024 * 1024;

/** Events the server may send in answer to anything a client sends. */
const ANSWERS = new Set([
  'pusher:error',
  'pusher:pong',
  'pusher:subscription_error',
  'pusher_internal:subscription_succeeded',
  'pusher:cache_miss',
  'pusher_internal:subscription_count',
]);
/** `pusher:error` codes a client can provoke: null (malformed), 4009 (bad sign-in), 4100 (channel cap), 4301 (client event), 4302 (watchlist). */
const ERROR_CODES = new Set([null, 4009, 4100, 4301, 4302]);
/** Close codes a client can provoke: 1007 (invalid UTF-8), 1009 (too big), 4009 (bad sign-in signature). */
const CLOSE_CODES = new Set([1007, 1009, 4009]);

describe('hostile WebSocket input (real process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-hardening-ws-'));
  const children = new Set<ChildProcess>();
  const sockets = new Set<RawClient>();
  let node: HeraldProcess;
  let baseline: Memory;

  before(async () => {
    node = await startWithApps({
      dir,
      tracker: children,
      apps: [{ ...APP, client_events: true, client_event_rate: 10, max_backend_events_per_second: null, max_read_requests_per_second: null }],
    });
    // Warm up (JIT, pools) before the memory baseline.
    for (let i = 0; i < 20; i++) {
      const socket = await open();
      await socket.subscribe(`warm-${i}`);
      socket.close();
    }
    await sleep(300);
    baseline = await memoryOf(node);
  });
  after(() => {
    for (const socket of sockets) socket.close();
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(): Promise<RawClient> {
    const socket = await rawSocket(node.port, APP.key);
    sockets.add(socket);
    void socket.closed.then(() => sockets.delete(socket));
    await socket.established();
    return socket;
  }

  /** A fresh client connects, subscribes and receives an event triggered over HTTP: the server still serves. */
  async function stillServing(): Promise<void> {
    const socket = await open();
    assert.equal((await socket.subscribe('control')).event, 'pusher_internal:subscription_succeeded');
    const reply = await signedRequest(node.baseUrl, APP, { method: 'POST', path: '/events', body: JSON.stringify({ name: 'alive', channel: 'control', data: '{}' }) });
    assert.equal(reply.status, 200, reply.text);
    await socket.next('alive');
    socket.close();
  }

  /** Checks what a socket received after `from`: only protocol answers, never an internal error. */
  function assertAnswers(socket: RawClient, from: number, what: string): void {
    for (const frame of socket.frames.slice(from)) {
      assert.ok(ANSWERS.has(frame.event), `${what}: unexpected ${frame.raw.slice(0, 300)}`);
      if (frame.event !== 'pusher:error') continue;
      const { code, message } = frame.data as { code: number | null; message: string };
      assert.ok(ERROR_CODES.has(code), `${what}: error code ${code} (${message})`);
      assert.ok(!/internal server error/i.test(message), `${what}: the server failed inside: ${message}`);
    }
  }

  /**
   * Sends one frame and a ping after it (frames are handled in order, so the pong means the frame
   * was). Returns the close code if the server closed the socket instead.
   */
  async function probe(state: { socket: RawClient | null }, send: (socket: RawClient) => void, what: string): Promise<number | null> {
    const socket = (state.socket ??= await open());
    const from = socket.frames.length;
    send(socket);
    socket.send({ event: 'pusher:ping', data: {} });
    const outcome = await Promise.race([
      socket.next((frame) => frame.event === 'pusher:pong' && socket.frames.indexOf(frame) >= from, 'pong', 5_000).then(() => null),
      socket.closed.then((closed) => closed.code),
    ]);
    assertAnswers(socket, from, what);
    if (outcome !== null) state.socket = null;
    return outcome;
  }

  const channelName = fc.oneof(
    fc.constantFrom('public', 'private-a', 'presence-a', 'private-encrypted-a', 'cache-a', 'private-cache-a', '#server-to-user-x', 'private-', '#x', ''),
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
  );
  const eventName = fc.oneof(
    fc.constantFrom('pusher:subscribe', 'pusher:unsubscribe', 'pusher:signin', 'pusher:ping', 'pusher:pong', 'client-x', 'client-', 'pusher:', 'pusher_internal:member_added'),
    fc.string({ maxLength: 250 }),
  );
  const data = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }),
    fc.record(
      {
        channel: channelName,
        auth: fc.oneof(fc.string(), fc.constant(`${APP.key}:${'0'.repeat(64)}`), fc.jsonValue({ maxDepth: 2 })),
        channel_data: fc.oneof(fc.string(), fc.json({ maxDepth: 3 })),
        user_data: fc.oneof(fc.string(), fc.json({ maxDepth: 3 })),
      },
      { requiredKeys: [] },
    ),
    fc.string({ maxLength: 100 }),
  );
  const message = fc.record({ event: eventName, data, channel: channelName }, { requiredKeys: [] }).map((value) => JSON.stringify(value));
  const text = fc.oneof(message, message, fc.json({ maxDepth: 3 }), fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }));

  it('answers random frames with protocol answers only, never failing inside', { timeout: 30_000 }, async () => {
    const state: { socket: RawClient | null } = { socket: null };
    let closes = 0;
    await fc.assert(
      fc.asyncProperty(text, async (frame) => {
        const code = await probe(state, (socket) => socket.sendRaw(frame), `frame ${JSON.stringify(frame).slice(0, 200)}`);
        if (code !== null) {
          closes++;
          assert.ok(CLOSE_CODES.has(code), `closed with ${code} after ${JSON.stringify(frame).slice(0, 200)}`);
        }
      }),
      { numRuns: 250 },
    );
    assert.ok(closes < 50, `most random frames leave the socket open (${closes} closed it)`);
    await stillServing();
  });

  it('closes with 1007 exactly when a text frame is not valid UTF-8', { timeout: 30_000 }, async () => {
    const state: { socket: RawClient | null } = { socket: null };
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.tuple(fc.string({ maxLength: 50 }), fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82])).map(([prefix, bad]) =>
        Buffer.concat([Buffer.from(`{"event":"client-x","channel":"private-a","data":"${prefix.replace(/["\\]/g, '')}`), Buffer.from(bad), Buffer.from('"}')]),
      ),
    );
    let invalid = 0;
    await fc.assert(
      fc.asyncProperty(bytes, async (payload) => {
        const buffer = Buffer.from(payload);
        const code = await probe(state, (socket) => socket.ws.send(buffer, { binary: false }), `bytes ${buffer.toString('hex').slice(0, 120)}`);
        if (isUtf8(buffer)) assert.equal(code, null, `valid UTF-8 ${buffer.toString('hex').slice(0, 120)} keeps the socket open`);
        else {
          invalid++;
          assert.equal(code, 1007, `invalid UTF-8 ${buffer.toString('hex').slice(0, 120)} closes with 1007`);
        }
      }),
      { numRuns: 120 },
    );
    assert.ok(invalid > 20, `the property saw invalid UTF-8 (${invalid} times)`);
    await stillServing();
  });

  it('refuses deeply nested JSON with a clear error, whatever the depth', async () => {
    const socket = await open();
    const { socket_id: socketId } = socket.frames[0].data as { socket_id: string };
    assert.equal((await socket.subscribe('private-deep', channelAuth(APP, socketId, 'private-deep'))).event, 'pusher_internal:subscription_succeeded');
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    for (const depth of [101, 5_000, 100_000]) {
      socket.sendRaw(`{"event":"client-deep","channel":"private-deep","data":${nested(depth)}}`);
      const error = await socket.error();
      assert.equal(error.code, 4301, `depth ${depth}`);
      assert.match(error.message, /nested more than 100 levels/);
      // Deep data where a pusher: event wants strings is refused for its type.
      socket.sendRaw(`{"event":"pusher:subscribe","data":{"channel":${nested(depth)}}}`);
      assert.equal((await socket.error()).code, null);
    }
    // 100 levels is the limit, and allowed.
    socket.sendRaw(`{"event":"client-deep","channel":"private-deep","data":${nested(100)}}`);
    await socket.none('pusher:error', 200);
    await socket.roundTrip();
    await stillServing();
  });

  it('closes a socket sending a frame over maxPayload (256 KB) with 1009, and takes one at the limit', async () => {
    const big = await open();
    big.sendRaw(JSON.stringify({ event: 'client-big', channel: 'private-x', data: 'x'.repeat(FRAME_LIMIT) }));
    assert.equal((await big.closedWithin(5_000)).code, 1009);
    const fits = await open();
    const envelope = JSON.stringify({ event: 'client-big', channel: 'private-x', data: '' });
    fits.sendRaw(JSON.stringify({ event: 'client-big', channel: 'private-x', data: 'x'.repeat(FRAME_LIMIT - envelope.length) }));
    assert.equal((await fits.error()).code, 4301, 'handled (refused as a client event), not closed');
    await fits.roundTrip();
    await stillServing();
  });

  it('refuses huge channel_data on a presence channel, even when signed', async () => {
    const socket = await open();
    const { socket_id: socketId } = socket.frames[0].data as { socket_id: string };
    const channelData = JSON.stringify({ user_id: 'u', user_info: { blob: 'x'.repeat(200 * 1024) } });
    const result = await socket.subscribe('presence-huge', channelAuth(APP, socketId, 'presence-huge', channelData), channelData);
    assert.equal(result.event, 'pusher:subscription_error');
    assert.match((result.data as { error: string }).error, /larger than 1024 bytes/);
    await socket.roundTrip();
  });

  it('rate-limits a client event flood with 4301 and keeps the socket', async () => {
    const sender = await open();
    const listener = await open();
    for (const socket of [sender, listener]) {
      const { socket_id: socketId } = socket.frames[0].data as { socket_id: string };
      assert.equal((await socket.subscribe('private-flood', channelAuth(APP, socketId, 'private-flood'))).event, 'pusher_internal:subscription_succeeded');
    }
    const from = sender.frames.length;
    for (let i = 0; i < 500; i++) sender.send({ event: 'client-flood', channel: 'private-flood', data: { i } });
    await sender.roundTrip();
    const errors = sender.frames.slice(from).filter((frame) => frame.event === 'pusher:error');
    assert.ok(errors.length >= 450, `most of the flood refused (${errors.length})`);
    assert.ok(errors.every((frame) => (frame.data as { code: number }).code === 4301));
    await sleep(100);
    const relayed = listener.frames.filter((frame) => frame.event === 'client-flood').length;
    assert.ok(relayed >= 1 && relayed <= 30, `about one second's worth relayed (${relayed})`);
  });

  /** Waits until everything sent so far on a socket was handled (the pong of a ping sent now). */
  async function drained(socket: RawClient, timeoutMs = 30_000): Promise<void> {
    const from = socket.frames.length;
    socket.send({ event: 'pusher:ping', data: {} });
    await socket.next((frame) => frame.event === 'pusher:pong' && socket.frames.indexOf(frame) >= from, 'pong after a flood', timeoutMs);
  }

  const count = (socket: RawClient, event: string) => socket.frames.filter((frame: Frame) => frame.event === event).length;

  it('survives subscribe, unsubscribe and junk floods with its memory back near the baseline', { timeout: 60_000 }, async (t) => {
    for (const socket of sockets) socket.close();
    await waitFor(() => sockets.size === 0, 'earlier sockets closed', 5_000);
    const channels = async () => (await metricsOf(node)).get(`herald_channels{app="${APP.id}"}`);
    assert.equal(await channels(), 0, 'no channel before the floods');
    const flooders = await Promise.all(Array.from({ length: FLOODERS }, () => open()));
    // 1. Churn: 10 sockets x 2,000 subscribe + unsubscribe pairs on distinct public channels.
    const pairs = 2_000;
    for (const [s, socket] of flooders.entries()) {
      for (let i = 0; i < pairs; i++) {
        socket.send({ event: 'pusher:subscribe', data: { channel: `churn-${s}-${i}` } });
        socket.send({ event: 'pusher:unsubscribe', data: { channel: `churn-${s}-${i}` } });
      }
    }
    for (const socket of flooders) {
      await drained(socket);
      assert.equal(count(socket, 'pusher_internal:subscription_succeeded'), pairs, 'every subscribe of the churn answered');
      socket.frames.length = 0;
    }
    assert.equal(await channels(), 0, 'every channel of the churn is gone');

    // 2. Distinct channels past the per-socket cap: refused with 4100, and all freed on close.
    for (const [s, socket] of flooders.entries()) {
      for (let i = 0; i < CHANNEL_CAP + 200; i++) socket.send({ event: 'pusher:subscribe', data: { channel: `hoard-${s}-${i}-${'y'.repeat(100)}` } });
    }
    for (const socket of flooders) {
      await drained(socket);
      assert.equal(count(socket, 'pusher_internal:subscription_succeeded'), CHANNEL_CAP);
      assert.equal(count(socket, 'pusher:subscription_error'), 200, 'the subscriptions past the cap are refused');
      const codes = socket.frames.filter((frame) => frame.event === 'pusher:error').map((frame) => (frame.data as { code: number }).code);
      assert.ok(codes.length === 200 && codes.every((code) => code === 4100), 'with pusher:error 4100');
      socket.frames.length = 0;
    }
    assert.equal(await channels(), FLOODERS * CHANNEL_CAP);

    // 3. Junk: 10 sockets x 2,000 malformed frames, each answered with pusher:error.
    for (const socket of flooders) for (let i = 0; i < 2_000; i++) socket.sendRaw(i % 2 === 0 ? `{"event": ${i}` : `["pusher:subscribe", ${i}]`);
    for (const socket of flooders) {
      await drained(socket);
      assert.equal(count(socket, 'pusher:error'), 2_000);
      socket.frames.length = 0;
    }
    // 4. Oversize frames on 20 more sockets, each closed with 1009.
    const oversize = await Promise.all(Array.from({ length: 20 }, () => open()));
    for (const socket of oversize) socket.sendRaw('x'.repeat(FRAME_LIMIT + 1));
    for (const socket of oversize) assert.equal((await socket.closedWithin(5_000)).code, 1009);

    for (const socket of flooders) socket.close();
    await waitFor(() => sockets.size === 0, 'flood sockets closed', 5_000);
    // Garbage waits for the next major GC: give the heap a few seconds to come back.
    let after: Memory = await memoryOf(node);
    const deadline = Date.now() + 10_000;
    while (after.heapUsedBytes - baseline.heapUsedBytes > HEAP_BOUND && Date.now() < deadline) {
      await sleep(500);
      after = await memoryOf(node);
    }
    const samples = await metricsOf(node);
    assert.equal(samples.get(`herald_channels{app="${APP.id}"}`), 0, 'every hoarded channel freed');
    assert.equal(samples.get(`herald_connections{app="${APP.id}"}`), 0, 'every flood socket gone');
    t.diagnostic(`heap used ${mb(baseline.heapUsedBytes)} -> ${mb(after.heapUsedBytes)}, RSS ${mb(baseline.rssBytes)} -> ${mb(after.rssBytes)}`);
    assert.ok(after.heapUsedBytes - baseline.heapUsedBytes < HEAP_BOUND, `heap grew by ${mb(after.heapUsedBytes - baseline.heapUsedBytes)}`);
    assert.ok(after.rssBytes - baseline.rssBytes < RSS_BOUND, `RSS grew by ${mb(after.rssBytes - baseline.rssBytes)}`);
    await stillServing();
  });
});
