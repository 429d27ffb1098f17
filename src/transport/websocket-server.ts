/** Accepts WebSocket upgrades on `/app/{key}` and hands each socket to the realtime core. */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode } from '../protocol/errors.js';
import { MAX_FRAME_BYTES } from '../protocol/limits.js';
import { errorMessage } from '../protocol/messages.js';
import { outbound } from '../realtime/transport.js';
import type { Realtime } from '../realtime/realtime.js';
import { bindConnection, WsTransport } from './ws-transport.js';

const APP_PATH = /^\/app\/([^/?]+)\/?$/;
const SUPPORTED_PROTOCOLS = new Set(['5', '6', '7']);

/** The WebSocket endpoint of the server. */
export class WebSocketEndpoint {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });

  /** Sockets accepted and not yet closed (the close handshake done or the socket cut). */
  private openSockets = 0;
  private allClosed: (() => void) | null = null;

  constructor(private readonly realtime: Realtime) {}

  /** Handles an HTTP upgrade request; anything but `/app/{key}` is refused with 404. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignoreSocketError);
    const url = req.url ?? '';
    const queryStart = url.indexOf('?');
    const match = APP_PATH.exec(queryStart === -1 ? url : url.slice(0, queryStart));
    if (!match) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    let key: string;
    try {
      key = decodeURIComponent(match[1]);
    } catch {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const protocol = new URLSearchParams(queryStart === -1 ? '' : url.slice(queryStart + 1)).get('protocol');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, key, protocol));
  }

  private accept(ws: WebSocket, req: IncomingMessage, key: string, protocol: string | null): void {
    ws.on('error', ignoreSocketError);
    this.openSockets++;
    ws.once('close', this.socketClosed);
    // This runs inside the HTTP server's 'upgrade' event: a throw here would end the process.
    try {
      this.open(ws, req, key, protocol);
    } catch (error) {
      this.realtime.logger.error({ err: error }, 'unexpected error accepting a WebSocket');
      ws.terminate();
    }
  }

  private open(ws: WebSocket, req: IncomingMessage, key: string, protocol: string | null): void {
    const transport = new WsTransport(ws, req.socket.remoteAddress, this.realtime.traffic);
    if (protocol !== null && !SUPPORTED_PROTOCOLS.has(protocol)) {
      transport.send(outbound(errorMessage(ErrorCode.UnsupportedProtocol, `Unsupported protocol version ${protocol}: use 7`)));
      transport.close(ErrorCode.UnsupportedProtocol, 'Unsupported protocol version');
      return;
    }
    const connection = this.realtime.connect(key, transport);
    if (connection) bindConnection(ws, connection);
  }

  /** Stops accepting upgrades. */
  close(): void {
    this.wss.close();
  }

  /**
   * Resolves once every socket is closed, at most `timeoutMs`: a process that exits earlier could
   * drop close frames still queued behind other data, and clients would see 1006 instead of 4200.
   */
  closed(timeoutMs: number): Promise<void> {
    if (this.openSockets === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, timeoutMs);
      timer.unref();
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
      this.allClosed = finish;
    });
  }

  // One shared listener for every socket (no closure per connection).
  private readonly socketClosed = (): void => {
    this.openSockets--;
    if (this.openSockets === 0 && this.allClosed) {
      const allClosed = this.allClosed;
      this.allClosed = null;
      allClosed();
    }
  };
}

// Peers that vanish mid-frame raise ECONNRESET and friends: nothing to do but let them go.
function ignoreSocketError(): void {}
