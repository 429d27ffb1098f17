/**
 * Nothing is retained after hostile traffic: the same workload (socket churn, subscribe floods,
 * junk frames, refused client events, bad HTTP requests, inbox traffic) run again and again leaves
 * the server's live heap where it was. Measured in-process, after forced garbage collections, so
 * the bound can be tight (the process-level tests in this folder bound RSS and heap generously).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startHarness, type Harness } from '../helpers/harness.js';
import { signedRequest } from '../helpers/http.js';
import { signedCall } from '../helpers/inbox.js';
import { RawClient } from '../helpers/raw-client.js';
import { channelAuth, mb } from './support.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Live heap after full collections (several: finalizers and weak maps free in steps). */
async function liveHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

describe('no memory retained after hostile traffic (in-process, forced GC)', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({
      apps: [{ id: 'leak-app', key: 'leak-key', secret: 'leak-secret', client_events: true, max_backend_events_per_second: null, max_read_requests_per_second: null }],
    });
  });
  after(() => harness.close());

  const url = () => `ws://127.0.0.1:${harness.port}/app/${harness.app.key}?protocol=7&client=leak&version=1`;

  /** Sends everything, then waits for the pong of a ping: all of it was handled. */
  async function drained(socket: RawClient): Promise<void> {
    const from = socket.frames.length;
    socket.send({ event: 'pusher:ping', data: {} });
    await socket.next((frame) => frame.event === 'pusher:pong' && socket.frames.indexOf(frame) >= from, 'pong', 20_000);
  }

  async function workload(round: number): Promise<void> {
    // Churn: 200 sockets connect, subscribe (public, private, presence) and leave.
    for (let batch = 0; batch < 2; batch++) {
      const sockets = await Promise.all(Array.from({ length: 100 }, () => RawClient.connect(url())));
      await Promise.all(
        sockets.map(async (socket, i) => {
          const { socketId } = await socket.established();
          await socket.subscribe(`room-${i % 10}`);
          await socket.subscribe(`private-${i}`, channelAuth(harness.app, socketId, `private-${i}`));
          const channelData = JSON.stringify({ user_id: `u${i}`, user_info: { round } });
          const lobby = `presence-lobby-${i % 10}`;
          await socket.subscribe(lobby, channelAuth(harness.app, socketId, lobby, channelData), channelData);
        }),
      );
      for (const socket of sockets) socket.close();
      await Promise.all(sockets.map((socket) => socket.closedWithin(5_000)));
    }
    // Floods on a few sockets: subscribe/unsubscribe, junk, refused client events, the channel cap.
    const flooders = await Promise.all(Array.from({ length: 2 }, () => RawClient.connect(url())));
    for (const [s, socket] of flooders.entries()) {
      const { socketId } = await socket.established();
      await socket.subscribe(`private-f${s}`, channelAuth(harness.app, socketId, `private-f${s}`));
      for (let i = 0; i < 1_000; i++) {
        socket.send({ event: 'pusher:subscribe', data: { channel: `churn-${round}-${s}-${i}` } });
        socket.send({ event: 'pusher:unsubscribe', data: { channel: `churn-${round}-${s}-${i}` } });
        socket.sendRaw(`{"event":"pusher:subscribe","data":${i}`);
        socket.send({ event: 'client-x', channel: `private-f${s}`, data: { i } });
      }
      for (let i = 0; i < 1_050; i++) socket.send({ event: 'pusher:subscribe', data: { channel: `hoard-${round}-${s}-${i}` } });
      socket.sendRaw(`{"event":"client-x","channel":"private-f${s}","data":${'['.repeat(5_000)}${']'.repeat(5_000)}}`);
      await drained(socket);
      socket.frames.length = 0;
    }
    for (const socket of flooders) socket.close();
    await Promise.all(flooders.map((socket) => socket.closedWithin(5_000)));
    // Bad HTTP: not JSON, too large, bad signature, unknown routes, deep bodies; and real inbox traffic.
    const app = harness.app;
    for (let i = 0; i < 20; i++) {
      await Promise.all([
        signedRequest(harness.baseUrl, app, { method: 'POST', path: '/events', body: '{"name": ' }),
        signedRequest(harness.baseUrl, app, { method: 'POST', path: '/events', body: i % 10 === 0 ? 'x'.repeat(1024 * 1024 + 1) : '[1, 2, 3]' }),
        signedRequest(harness.baseUrl, app, { method: 'POST', path: '/events', body: '{}', secret: 'wrong' }),
        signedRequest(harness.baseUrl, app, { method: 'GET', path: `/nowhere/${i}` }),
        signedRequest(harness.baseUrl, app, { method: 'POST', path: '/events', body: `{"name":"e","channel":"c","data":${'['.repeat(200)}${']'.repeat(200)}}` }),
        signedCall(harness.baseUrl, app, 'POST', '/notifications', { user_ids: [`inbox-${i % 20}`], notification: { content: `n ${round} ${i}` } }),
        signedCall(harness.baseUrl, app, 'POST', `/users/inbox-${i % 20}/notifications/open`, { all: true }),
        signedCall(harness.baseUrl, app, 'GET', `/users/inbox-${i % 20}/notifications?limit=5`),
      ]);
    }
  }

  it('keeps the live heap flat over repeated rounds of hostile traffic', { timeout: 60_000 }, async (t) => {
    await workload(0); // warm-up: JIT, pools, statement caches and maps at their working size
    const baseline = await liveHeap();
    const rounds = [];
    for (let round = 1; round <= 2; round++) {
      await workload(round);
      rounds.push(await liveHeap());
    }
    t.diagnostic(`live heap: ${mb(baseline)} after the warm-up round, then ${rounds.map(mb).join(', ')}`);
    const realtime = harness.server.realtime;
    assert.equal(realtime.connections, 0);
    assert.equal(realtime.hubOf(harness.app.id)?.channels.size, 0, 'no channel left behind');
    // Two rounds: 404 sockets, about 9,000 subscribes (200 refused at the cap), 8,000 junk or refused frames
    // and 320 HTTP requests. A leak of a few hundred bytes per socket, frame or request shows past this bound.
    assert.ok(rounds[1] - baseline < 1.5 * 1024 * 1024, `the live heap grew by ${mb(rounds[1] - baseline)} over two rounds`);
  });
});
