/** The `ws` side of a client socket: pre-framed writes, and frames fed into the connection. */
import type { Socket } from 'node:net';
import * as wsModule from 'ws';
import { WebSocket, type RawData } from 'ws';
import type { Connection } from '../realtime/connection.js';
import type { TrafficCounters } from '../realtime/traffic.js';
import type { OutboundMessage, Transport } from '../realtime/transport.js';

// `Sender` is exported by ws's ES module entry but missing from @types/ws.
const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } };
const FRAME_OPTIONS = { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1: false } as const;

/** Frames a text message once as an unmasked, uncompressed WebSocket text frame. */
export function frameText(text: string): Buffer {
  const parts = Sender.frame(Buffer.from(text), FRAME_OPTIONS);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/**
 * A Transport over a `ws` WebSocket. Messages are framed once (cached on the message) and written
 * straight to the TCP socket. That is safe because permessage-deflate is off, so `ws` itself
 * never queues data frames that these writes could overtake.
 */
export class WsTransport implements Transport {
  readonly remoteAddress: string;
  private readonly socket: Socket | undefined;

  constructor(
    private readonly ws: WebSocket,
    remoteAddress: string | undefined,
    private readonly traffic: TrafficCounters,
  ) {
    this.remoteAddress = remoteAddress ?? '';
    this.socket = (ws as unknown as { _socket?: Socket })._socket;
  }

  send(message: OutboundMessage): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const wire = (message.wire ??= frameText(message.text)) as Buffer;
    this.traffic.messagesOut++;
    this.traffic.bytesOut += wire.length;
    if (this.socket && !this.socket.destroyed) this.socket.write(wire);
    else this.ws.send(message.text);
  }

  ping(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.CLOSED || this.ws.readyState === WebSocket.CLOSING) return;
    this.ws.close(code, closeReason(reason));
    // A peer that never answers the close handshake would hold the socket for ws's 30 s.
    setTimeout(terminate, CLOSE_HANDSHAKE_MS, this.ws).unref();
  }

  get bufferedAmount(): number {
    return this.socket ? this.socket.writableLength : this.ws.bufferedAmount;
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
    connection.sendError(null, 'Binary frames are not supported: send JSON text frames');
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
