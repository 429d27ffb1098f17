/** The `ws` side of a client socket: pre-framed, coalesced writes, and frames fed into the connection. */
import type { Socket } from 'node:net';
import { WebSocket, type RawData } from 'ws';
import { Errors } from '../protocol/errors.js';
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

/** Where the reads of a socket go: its connection, as the transport sees it. */
export interface Inbound {
  handleFrame(text: string): void;
  handleBinaryFrame(): void;
  /** A WebSocket ping or pong: a sign of life. */
  touch(): void;
  /** The socket is gone (closed by either side, or cut off as too slow). */
  onClosed(): void;
}

/**
 * The WebSocket class the server creates (`WebSocketServer`'s `WebSocket` option): `ws`'s own, plus
 * the typed link the shared listeners need from a socket to its transport and its reader.
 */
export class HeraldSocket extends WebSocket {
  transport: WsTransport | null = null;
  inbound: Inbound | null = null;
}

/**
 * A Transport over a `ws` WebSocket, write-only: `send`, `ping`, `close`, `bufferedAmount`. Messages
 * are framed once (cached on the message) and written straight to the TCP socket the upgrade came
 * on. That is safe because permessage-deflate is off, so `ws` itself never queues data frames that
 * these writes could overtake.
 *
 * Writes are coalesced through the server's WriteQueue: `send` queues the frame (a reference to the
 * shared buffer, no copy), and one flush per turn of the event loop writes each socket's queued
 * frames with a single `socket.write`. Frames of one socket keep their order, and a close writes
 * what is queued before the close frame.
 *
 * A socket whose unsent bytes (queued here, plus what its `net.Socket` still holds) would pass the
 * queue's `maxBufferedBytes` is closed with 4100 at once, so a client that stops reading cannot make
 * the server buffer without bound, nor hold up the others (writes never block).
 */
export class WsTransport implements Transport {
  /** This socket's queued frames: a chain through its queue's store (-1: none). */
  head = -1;
  tail = -1;
  queuedCount = 0;
  queuedBytes = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Socket,
    private readonly queue: WriteQueue,
  ) {}

  /** The counters of the server this socket belongs to. */
  get traffic(): TrafficCounters {
    return this.queue.traffic;
  }

  send(message: OutboundMessage): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const wire = (message.wire ??= frameText(message.text)) as Buffer;
    const bytes = this.queuedBytes + wire.length;
    if (bytes + this.socket.writableLength > this.queue.maxBufferedBytes) {
      this.tooSlow();
      return;
    }
    this.queue.enqueue(this, wire);
    this.queuedBytes = bytes;
  }

  /** Writes the queued frames in one write: called by the queue's flush, and before a close. */
  flush(): void {
    const count = this.queuedCount;
    if (count === 0) return;
    const bytes = this.queuedBytes;
    const wire = this.queue.frames(this.head, count, bytes);
    this.head = this.tail = -1;
    this.queuedCount = this.queuedBytes = 0;
    const socket = this.socket;
    if (socket.destroyed || this.ws.readyState !== WebSocket.OPEN) return;
    const traffic = this.queue.traffic;
    traffic.messagesOut += count;
    traffic.bytesOut += bytes;
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
    return this.socket.writableLength + this.queuedBytes;
  }

  /** Drops what is queued, closes with 4100 and tells the reader the socket is gone, so its state goes too. */
  private tooSlow(): void {
    this.head = this.tail = -1;
    this.queuedCount = this.queuedBytes = 0;
    this.queue.traffic.slowConsumerCloses++;
    const error = Errors.slowConsumer();
    this.close(error.pusherCode ?? 0, error.closeReason);
    (this.ws as HeraldSocket).inbound?.onClosed();
  }
}

const EMPTY = Buffer.alloc(0);
/** Slots of the store kept between turns; a larger store is dropped after its flush. */
const MAX_KEPT_ENTRIES = 1 << 16;

/**
 * The write state of one server: the frames queued in this turn of the event loop for all of its
 * sockets, its traffic counters and its buffer bound. The store is shared and reused (no array per
 * socket, no allocation per frame): entry i holds a frame and the index of the same socket's next
 * entry; each transport knows the first and last of its own. Cleared after the flush.
 */
export class WriteQueue {
  private store: Buffer[] = [];
  private next = new Int32Array(1024);
  private used = 0;
  /** Transports with queued frames, in the order they first queued one (a transport may appear twice). */
  private readonly transports: (WsTransport | null)[] = [];
  private transportCount = 0;
  private flushScheduled = false;
  /**
   * The last batch built, shared with the next socket that queued the very same frames: the
   * subscribers of one channel get the same events in the same order, so a burst on a channel is
   * concatenated once, not once per subscriber.
   */
  private readonly lastFrames: Buffer[] = [];
  private lastCount = 0;
  private lastWire = EMPTY;
  /** The flush, bound once. */
  private readonly flushAll = () => this.flush();

  constructor(
    readonly traffic: TrafficCounters,
    /** Unsent bytes of one socket after which it is closed with 4100. */
    readonly maxBufferedBytes: number,
  ) {}

  enqueue(transport: WsTransport, frame: Buffer): void {
    const index = this.used++;
    if (index === this.next.length) {
      const grown = new Int32Array(this.next.length * 2);
      grown.set(this.next);
      this.next = grown;
    }
    this.store[index] = frame;
    this.next[index] = -1;
    if (transport.queuedCount === 0) {
      transport.head = index;
      this.transports[this.transportCount++] = transport;
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushAll);
      }
    } else {
      this.next[transport.tail] = index;
    }
    transport.tail = index;
    transport.queuedCount++;
  }

  /** One buffer holding the `count` frames chained from `head` (`bytes` in all): the frame itself when alone. */
  frames(head: number, count: number, bytes: number): Buffer {
    const { store, next } = this;
    if (count === 1) return store[head];
    const last = this.lastFrames;
    if (count === this.lastCount) {
      let index = head;
      let k = 0;
      while (k < count && store[index] === last[k]) {
        index = next[index];
        k++;
      }
      if (k === count) return this.lastWire;
    }
    const wire = Buffer.allocUnsafe(bytes);
    let offset = 0;
    let index = head;
    for (let k = 0; k < count; k++) {
      const frame = store[index];
      frame.copy(wire, offset);
      offset += frame.length;
      last[k] = frame;
      index = next[index];
    }
    for (let k = count; k < this.lastCount; k++) last[k] = EMPTY;
    this.lastCount = count;
    this.lastWire = wire;
    return wire;
  }

  /** Once per turn of the event loop that queued anything, after its I/O callbacks. */
  private flush(): void {
    // Sends made while flushing (a close handler, say) append to the queue and are flushed here too.
    for (let i = 0; i < this.transportCount; i++) {
      const transport = this.transports[i]!;
      this.transports[i] = null;
      try {
        transport.flush();
      } catch {
        // A socket torn down under us: its frames are dropped, the others still go out.
      }
    }
    for (let i = 0; i < this.used; i++) this.store[i] = EMPTY;
    if (this.next.length > MAX_KEPT_ENTRIES) {
      // A one-off burst (a large fan-out in one turn) does not keep its megabytes of slots.
      this.store = [];
      this.next = new Int32Array(1024);
    }
    this.used = 0;
    this.transportCount = 0;
    this.flushScheduled = false;
    for (let i = 0; i < this.lastCount; i++) this.lastFrames[i] = EMPTY;
    this.lastCount = 0;
    this.lastWire = EMPTY;
  }
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

/** Links a socket to its transport and its reader, and installs the shared listeners. */
export function bindSocket(ws: HeraldSocket, transport: WsTransport, inbound: Inbound): void {
  ws.transport = transport;
  ws.inbound = inbound;
  ws.on('message', onMessage);
  ws.on('ping', onLiveness);
  ws.on('pong', onLiveness);
  ws.on('close', onClose);
}

// Shared listeners (called with `this` = the WebSocket): no closure per connection.
// `ws` types `this` as its WebSocket; the server creates HeraldSockets only.
function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const { inbound, transport } = this as HeraldSocket;
  if (!inbound || !transport) return;
  const traffic = transport.traffic;
  traffic.messagesIn++;
  traffic.bytesIn += Array.isArray(data) ? data.reduce((sum, part) => sum + part.length, 0) : data.byteLength;
  if (isBinary) inbound.handleBinaryFrame();
  else inbound.handleFrame(Array.isArray(data) ? Buffer.concat(data).toString() : data.toString());
}

function onLiveness(this: WebSocket): void {
  (this as HeraldSocket).inbound?.touch();
}

function onClose(this: WebSocket): void {
  (this as HeraldSocket).inbound?.onClosed();
}
