/** The `ws` side of a client socket: pre-framed, coalesced writes, and frames fed into the connection. */
import type { Socket } from 'node:net';
import { WebSocket, type RawData } from 'ws';
import { Errors } from '../protocol/errors.js';
import type { Connection } from '../realtime/connection.js';
import type { TrafficCounters } from '../realtime/traffic.js';
import type { OutboundMessage, Transport } from '../realtime/transport.js';

/**
 * Frames a text message once as an unmasked, uncompressed, final WebSocket text frame (what `ws`'s
 * `Sender.frame` builds), in a single buffer: one allocation and one copy of the text.
 */
export function frameText(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(text, header, length, 'utf8');
  return frame;
}

/**
 * A Transport over a `ws` WebSocket. Messages are framed once (cached on the message) and written
 * straight to the TCP socket. That is safe because permessage-deflate is off, so `ws` itself
 * never queues data frames that these writes could overtake.
 *
 * Writes are coalesced: `send` queues the frame (a reference to the shared buffer, no copy), and one
 * flush per turn of the event loop, shared by every socket of the process, writes each socket's
 * queued frames with a single `socket.write`. Frames of one socket keep their order, and a close
 * writes what is queued before the close frame.
 *
 * A socket whose unsent bytes (queued here, plus what its `net.Socket` still holds) would pass
 * `maxBufferedBytes` is closed with 4100 at once, so a client that stops reading cannot make the
 * server buffer without bound, nor hold up the others (writes never block).
 */
export class WsTransport implements Transport {
  private readonly socket: Socket | undefined;
  private peer: string | undefined;
  /** This socket's queued frames: a chain through the shared `queue` (-1: none). */
  head = -1;
  tail = -1;
  queuedCount = 0;
  queuedBytes = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly traffic: TrafficCounters,
    private readonly maxBufferedBytes: number,
  ) {
    this.socket = (ws as unknown as { _socket?: Socket })._socket;
  }

  /** Remote address, read on first use (a `getpeername` call): '' once the socket is gone. */
  get remoteAddress(): string {
    return (this.peer ??= this.socket?.remoteAddress ?? '');
  }

  send(message: OutboundMessage): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const wire = (message.wire ??= frameText(message.text)) as Buffer;
    const socket = this.socket;
    if (socket === undefined) {
      this.traffic.messagesOut++;
      this.traffic.bytesOut += wire.length;
      this.ws.send(message.text);
      return;
    }
    const bytes = this.queuedBytes + wire.length;
    if (bytes + socket.writableLength > this.maxBufferedBytes) {
      this.tooSlow();
      return;
    }
    enqueue(this, wire);
    this.queuedBytes = bytes;
  }

  /** Writes the queued frames in one write: called by the shared flush, and before a close. */
  flush(): void {
    const count = this.queuedCount;
    if (count === 0) return;
    const bytes = this.queuedBytes;
    const wire = count === 1 ? queue.frames[this.head] : batch(this.head, count, bytes);
    this.head = this.tail = -1;
    this.queuedCount = this.queuedBytes = 0;
    const socket = this.socket!;
    if (socket.destroyed || this.ws.readyState !== WebSocket.OPEN) return;
    this.traffic.messagesOut += count;
    this.traffic.bytesOut += bytes;
    socket.write(wire);
  }

  ping(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.CLOSED || this.ws.readyState === WebSocket.CLOSING) return;
    this.flush();
    this.ws.close(code, closeReason(reason));
    // A peer that never answers the close handshake would hold the socket for ws's 30 s.
    setTimeout(terminate, CLOSE_HANDSHAKE_MS, this.ws).unref();
  }

  get bufferedAmount(): number {
    return this.socket ? this.socket.writableLength + this.queuedBytes : this.ws.bufferedAmount;
  }

  /** Drops what is queued and closes with 4100, through the connection so its state goes too. */
  private tooSlow(): void {
    this.head = this.tail = -1;
    this.queuedCount = this.queuedBytes = 0;
    this.traffic.slowConsumerCloses++;
    const connection = (this.ws as TaggedSocket)[kConnection];
    const error = Errors.slowConsumer();
    if (connection && !connection.closed) connection.close(error);
    else this.close(error.pusherCode ?? 0, error.closeReason);
  }
}

/**
 * The frames queued in this turn of the event loop, for every socket: one shared, reused store
 * (no array per socket, no allocation per frame). Entry i holds a frame and the index of the same
 * socket's next entry; each transport knows the first and last of its own. Cleared after the flush.
 */
const queue = {
  frames: [] as Buffer[],
  next: new Int32Array(1024),
  used: 0,
  /** Transports with queued frames, in the order they first queued one (a transport may appear twice). */
  transports: [] as (WsTransport | null)[],
  transportCount: 0,
  flushScheduled: false,
};
const EMPTY = Buffer.alloc(0);
/** Slots of the shared store kept between turns; a larger store is dropped after its flush. */
const MAX_KEPT_ENTRIES = 1 << 16;

function enqueue(transport: WsTransport, frame: Buffer): void {
  const index = queue.used++;
  if (index === queue.next.length) {
    const grown = new Int32Array(queue.next.length * 2);
    grown.set(queue.next);
    queue.next = grown;
  }
  queue.frames[index] = frame;
  queue.next[index] = -1;
  if (transport.queuedCount === 0) {
    transport.head = index;
    queue.transports[queue.transportCount++] = transport;
    if (!queue.flushScheduled) {
      queue.flushScheduled = true;
      setImmediate(flushAll);
    }
  } else {
    queue.next[transport.tail] = index;
  }
  transport.tail = index;
  transport.queuedCount++;
}

/** The shared flush: once per turn of the event loop that queued anything, after its I/O callbacks. */
function flushAll(): void {
  // Sends made while flushing (a close handler, say) append to the queue and are flushed here too.
  for (let i = 0; i < queue.transportCount; i++) {
    const transport = queue.transports[i]!;
    queue.transports[i] = null;
    try {
      transport.flush();
    } catch {
      // A socket torn down under us: its frames are dropped, the others still go out.
    }
  }
  for (let i = 0; i < queue.used; i++) queue.frames[i] = EMPTY;
  if (queue.next.length > MAX_KEPT_ENTRIES) {
    // A one-off burst (a large fan-out in one turn) does not keep its megabytes of slots.
    queue.frames = [];
    queue.next = new Int32Array(1024);
  }
  queue.used = 0;
  queue.transportCount = 0;
  queue.flushScheduled = false;
  for (let i = 0; i < lastBatch.count; i++) lastBatch.frames[i] = EMPTY;
  lastBatch.count = 0;
  lastBatch.wire = EMPTY;
}

/**
 * The last batch built, shared with the next socket that queued the very same frames: the
 * subscribers of one channel get the same events in the same order, so a burst on a channel is
 * concatenated once, not once per subscriber.
 */
const lastBatch = { frames: [] as Buffer[], count: 0, wire: EMPTY };

/** One buffer holding the `count` frames chained from `head` (`bytes` in all). */
function batch(head: number, count: number, bytes: number): Buffer {
  const { frames, next } = queue;
  if (count === lastBatch.count) {
    let index = head;
    let k = 0;
    while (k < count && frames[index] === lastBatch.frames[k]) {
      index = next[index];
      k++;
    }
    if (k === count) return lastBatch.wire;
  }
  const wire = Buffer.allocUnsafe(bytes);
  let offset = 0;
  let index = head;
  for (let k = 0; k < count; k++) {
    const frame = frames[index];
    frame.copy(wire, offset);
    offset += frame.length;
    lastBatch.frames[k] = frame;
    index = next[index];
  }
  for (let k = count; k < lastBatch.count; k++) lastBatch.frames[k] = EMPTY;
  lastBatch.count = count;
  lastBatch.wire = wire;
  return wire;
}

const CLOSE_HANDSHAKE_MS = 2_000;
/** Close reasons are limited to 123 bytes by the WebSocket protocol; `ws` throws beyond that. */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * A close reason cut to 123 bytes on a character boundary. Cutting inside a multi-byte character
 * would decode to U+FFFD and grow the reason past the limit (reasons can echo client input, such
 * as an unknown app key).
 */
export function closeReason(reason: string): string {
  const bytes = Buffer.from(reason);
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return reason;
  let end = MAX_CLOSE_REASON_BYTES;
  // Back up while the first byte left out is a UTF-8 continuation byte (0b10xxxxxx).
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString();
}

function terminate(ws: WebSocket): void {
  if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
}

const kConnection = Symbol('herald.connection');
type TaggedSocket = WebSocket & { [kConnection]?: Connection };

/** Links a WebSocket to its connection and installs the shared listeners. */
export function bindConnection(ws: WebSocket, connection: Connection): void {
  (ws as TaggedSocket)[kConnection] = connection;
  ws.on('message', onMessage);
  ws.on('ping', onLiveness);
  ws.on('pong', onLiveness);
  ws.on('close', onClose);
}

// Shared listeners (called with `this` = the WebSocket): no closure per connection.
function onMessage(this: TaggedSocket, data: RawData, isBinary: boolean): void {
  const connection = this[kConnection];
  if (!connection) return;
  const traffic = connection.realtime.traffic;
  traffic.messagesIn++;
  traffic.bytesIn += Array.isArray(data) ? data.reduce((sum, part) => sum + part.length, 0) : data.byteLength;
  if (isBinary) {
    connection.touch();
    connection.fail(Errors.binaryFrame());
    return;
  }
  connection.handleFrame(Array.isArray(data) ? Buffer.concat(data).toString() : data.toString());
}

function onLiveness(this: TaggedSocket): void {
  this[kConnection]?.touch();
}

function onClose(this: TaggedSocket): void {
  this[kConnection]?.onClosed();
}
