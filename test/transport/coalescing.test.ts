import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import fc from 'fast-check';
import * as wsModule from 'ws';
import type { WebSocket } from 'ws';
import type { Socket } from 'node:net';
import { TrafficCounters } from '../../src/realtime/traffic.js';
import { outbound } from '../../src/realtime/transport.js';
import { Errors } from '../../src/protocol/errors.js';
import { frameText, WriteQueue, WsTransport } from '../../src/transport/ws-transport.js';

// `Sender` is exported by ws's ES module entry but missing from @types/ws.
const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } };
const wsFrame = (text: string) => Buffer.concat(Sender.frame(Buffer.from(text), { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1: false }));

/** What a fake socket and WebSocket saw, in order. */
type Call = { write: Buffer } | { close: [number, string] } | { ping: true };

/** A WebSocket stand-in over a socket stand-in: records writes and closes, with a settable backlog. */
function fakeSocket(writableLength = 0) {
  const calls: Call[] = [];
  const socket = {
    writableLength,
    destroyed: false,
    write(data: Buffer) {
      calls.push({ write: data });
      return true;
    },
  };
  const ws = {
    readyState: 1,
    close(code: number, reason: string) {
      calls.push({ close: [code, reason] });
      this.readyState = 2;
    },
    ping() {
      calls.push({ ping: true });
    },
    terminate() {
      this.readyState = 3;
    },
  };
  return { calls, socket: socket as unknown as Socket, ws: ws as unknown as WebSocket, writes: () => calls.flatMap((call) => ('write' in call ? [call.write] : [])) };
}

type Fake = ReturnType<typeof fakeSocket>;

/** Transports over fake sockets, sharing one server's write queue. */
function transportsOf(fakes: readonly Fake[], maxBufferedBytes = 1 << 20, traffic = new TrafficCounters()): WsTransport[] {
  const queue = new WriteQueue(traffic, maxBufferedBytes);
  return fakes.map((fake) => new WsTransport(fake.ws, fake.socket, queue));
}

describe('frameText', () => {
  it('builds the same bytes as ws for every length class and for multi-byte text', () => {
    for (const text of ['', 'a', 'x'.repeat(125), 'x'.repeat(126), 'é'.repeat(63), 'é'.repeat(64), 'x'.repeat(65_535), 'x'.repeat(65_536), '😀'.repeat(20_000), 'x'.repeat(70_000)]) {
      assert.deepEqual(frameText(text), wsFrame(text), `length ${text.length}`);
    }
  });

  it('agrees with ws on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (text) => frameText(text).equals(wsFrame(text))));
  });
});

describe('WsTransport: coalesced writes', () => {
  it('writes the events of one turn of the event loop in one write, in order', async () => {
    const traffic = new TrafficCounters();
    const fake = fakeSocket();
    const [transport] = transportsOf([fake], 1 << 20, traffic);
    const texts = ['{"event":"a"}', '{"event":"b"}', '{"event":"c"}'];
    for (const text of texts) transport.send(outbound(text));
    assert.equal(fake.writes().length, 0, 'nothing is written before the flush');
    await nextTurn();
    assert.deepEqual(fake.writes(), [Buffer.concat(texts.map(frameText))]);
    assert.equal(traffic.messagesOut, 3);
    assert.equal(traffic.bytesOut, fake.writes()[0].length);
  });

  it('writes a lone event as the shared frame itself, with no copy', async () => {
    const fakes = [fakeSocket(), fakeSocket()];
    const transports = transportsOf(fakes);
    const message = outbound('{"event":"solo"}');
    for (const transport of transports) transport.send(message);
    await nextTurn();
    assert.equal(fakes[0].writes()[0], message.wire);
    assert.equal(fakes[1].writes()[0], message.wire);
  });

  it('concatenates a burst once for every socket that gets the same events, and apart for one that does not', async () => {
    const fakes = [fakeSocket(), fakeSocket(), fakeSocket()];
    const transports = transportsOf(fakes);
    const [a, b, c] = ['{"n":1}', '{"n":2}', '{"n":3}'].map(outbound);
    for (const message of [a, b]) for (const transport of transports.slice(0, 2)) transport.send(message);
    transports[2].send(a);
    transports[2].send(c);
    await nextTurn();
    const [first, second, third] = fakes.map((fake) => fake.writes());
    assert.equal(first.length, 1);
    assert.equal(first[0], second[0], 'one buffer shared by both sockets');
    assert.deepEqual(first[0], Buffer.concat([frameText('{"n":1}'), frameText('{"n":2}')]));
    assert.deepEqual(third, [Buffer.concat([frameText('{"n":1}'), frameText('{"n":3}')])]);
  });

  it('keeps each socket on its own order when sockets interleave', async () => {
    const fakes = Array.from({ length: 5 }, () => fakeSocket());
    const transports = transportsOf(fakes);
    const expected: string[][] = fakes.map(() => []);
    for (let i = 0; i < 200; i++) {
      const who = (i * 7) % 5;
      const text = `{"i":${i}}`;
      transports[who].send(outbound(text));
      expected[who].push(text);
    }
    await nextTurn();
    fakes.forEach((fake, k) => assert.deepEqual(fake.writes(), [Buffer.concat(expected[k].map(frameText))]));
  });

  it('writes what is queued before the close frame', async () => {
    const fake = fakeSocket();
    const [transport] = transportsOf([fake]);
    transport.send(outbound('{"event":"last-words"}'));
    transport.send(outbound('{"event":"pusher:error"}'));
    transport.close(4200, 'bye');
    assert.deepEqual(fake.calls, [{ write: Buffer.concat([frameText('{"event":"last-words"}'), frameText('{"event":"pusher:error"}')]) }, { close: [4200, 'bye'] }]);
    await nextTurn();
    assert.equal(fake.calls.length, 2, 'nothing more once closed');
  });

  it('drops what is queued for a socket closed meanwhile', async () => {
    const fake = fakeSocket();
    const [transport] = transportsOf([fake]);
    transport.send(outbound('{"event":"x"}'));
    (fake.socket as { destroyed: boolean }).destroyed = true;
    await nextTurn();
    assert.deepEqual(fake.calls, []);
  });

  it('handles a burst larger than the shared store, and works on after it', async () => {
    const fakes = Array.from({ length: 200 }, () => fakeSocket());
    const transports = transportsOf(fakes, 1 << 30);
    const messages = Array.from({ length: 500 }, (_, i) => outbound(`{"i":${i}}`));
    for (const message of messages) for (const transport of transports) transport.send(message);
    await nextTurn();
    const expected = Buffer.concat(messages.map((message) => message.wire as Buffer));
    for (const fake of fakes) assert.deepEqual(fake.writes(), [expected]);
    transports[0].send(outbound('{"after":true}'));
    await nextTurn();
    assert.deepEqual(fakes[0].writes()[1], frameText('{"after":true}'));
  });

  it('keeps the write state of each server apart: its own queue, batches and counters', async () => {
    const [a, b] = [fakeSocket(), fakeSocket()];
    const [trafficA, trafficB] = [new TrafficCounters(), new TrafficCounters()];
    const [first] = transportsOf([a], 1 << 20, trafficA);
    const [second] = transportsOf([b], 1 << 20, trafficB);
    const burst = ['{"n":1}', '{"n":2}'].map(outbound);
    for (const message of burst) {
      first.send(message);
      second.send(message);
    }
    await nextTurn();
    assert.deepEqual(a.writes(), b.writes());
    assert.notEqual(a.writes()[0], b.writes()[0], 'each server concatenates its own batch');
    assert.deepEqual([trafficA.messagesOut, trafficB.messagesOut], [2, 2]);
  });

  it('starts a new batch in the next turn', async () => {
    const fake = fakeSocket();
    const [transport] = transportsOf([fake]);
    transport.send(outbound('{"turn":1}'));
    await nextTurn();
    transport.send(outbound('{"turn":2}'));
    await nextTurn();
    assert.deepEqual(fake.writes(), [frameText('{"turn":1}'), frameText('{"turn":2}')]);
  });
});

describe('WsTransport: slow consumers', () => {
  it('closes with 4100 at the send that would pass the bound, counts it, and writes nothing more', async () => {
    const traffic = new TrafficCounters();
    const fake = fakeSocket(900);
    const [transport] = transportsOf([fake], 1000, traffic);
    const message = outbound(JSON.stringify({ event: 'e', data: 'x'.repeat(40) }));
    transport.send(message); // 900 + ~60 bytes: under the bound
    assert.equal(traffic.slowConsumerCloses, 0);
    transport.send(message); // 900 + ~120: over it
    assert.equal(traffic.slowConsumerCloses, 1);
    assert.deepEqual(fake.calls, [{ close: [4100, Errors.slowConsumer().closeReason] }], 'the queued event is dropped, not written before the close');
    transport.send(message);
    await nextTurn();
    assert.equal(fake.calls.length, 1);
    assert.equal(traffic.slowConsumerCloses, 1);
  });

  it('counts queued bytes in bufferedAmount until the flush', async () => {
    const fake = fakeSocket(100);
    const [transport] = transportsOf([fake]);
    const message = outbound('{"event":"e"}');
    transport.send(message);
    assert.equal(transport.bufferedAmount, 100 + (message.wire as Buffer).length);
    await nextTurn();
    assert.equal(transport.bufferedAmount, 100);
  });
});
