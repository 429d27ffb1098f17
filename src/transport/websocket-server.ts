/** Accepts WebSocket upgrades on `/app/{key}` and hands each socket to the realtime core. */
import type { IncomingMessage } from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { MAX_FRAME_BYTES } from '../protocol/limits.js';
import { InFlight } from '../ops/in-flight.js';
import type { Realtime } from '../realtime/realtime.js';
import { bindSocket, HeraldSocket, WriteQueue, WsTransport } from './ws-transport.js';

const APP_PATH = /^\/app\/([^/?]+)\/?$/;

/** How the endpoint sees its clients. */
export interface WebSocketEndpointOptions {
  /**
   * A reverse proxy in front appends the client's address to `X-Forwarded-For`: count
   * `max_connections_per_ip` by its last entry instead of by the proxy's address.
   */
  readonly trustProxy: boolean;
}

/** The WebSocket endpoint of the server: upgrades, and the write state of its sockets. */
export class WebSocketEndpoint {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
    WebSocket: HeraldSocket,
  });

  /** Sockets accepted and not yet closed (the close handshake done or the socket cut). */
  private readonly openSockets = new InFlight();
  /** This server's coalesced writes: its own, not shared with another server of the process. */
  private readonly writes: WriteQueue;

  constructor(
    private readonly realtime: Realtime,
    private readonly options: WebSocketEndpointOptions = { trustProxy: false },
  ) {
    this.writes = new WriteQueue(realtime.traffic, realtime.options.maxBufferedBytes);
  }

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
    // The upgrade comes on the server's own TCP (or TLS) socket: the one the transport writes to.
    const tcp = socket as Socket;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws as HeraldSocket, tcp, req, key, protocol));
  }

  private accept(ws: HeraldSocket, socket: Socket, req: IncomingMessage, key: string, protocol: string | null): void {
    ws.on('error', ignoreSocketError);
    this.openSockets.started();
    ws.on('close', this.openSockets.finished); // emitted once; `once` would wrap the shared listener per socket
    // This runs inside the HTTP server's 'upgrade' event: a throw here would end the process.
    try {
      const transport = new WsTransport(ws, socket, this.writes);
      const trustProxy = this.options.trustProxy;
      const connection = this.realtime.connect(
        { appKey: key, protocol, origin: req.headers.origin, address: () => clientAddress(req, trustProxy) },
        transport,
      );
      if (connection) bindSocket(ws, transport, connection);
    } catch (error) {
      this.realtime.logger.error({ err: error }, 'unexpected error accepting a WebSocket');
      ws.terminate();
    }
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
    return this.openSockets.settled(timeoutMs);
  }
}

/**
 * The client's address: the socket's peer, or behind a trusted proxy the last `X-Forwarded-For`
 * entry (the one the proxy appended; earlier entries come from the client and prove nothing).
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  const peer = req.socket.remoteAddress ?? '';
  if (!trustProxy) return peer;
  const header = req.headers['x-forwarded-for'];
  const last = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').pop()?.trim() ?? '';
  return isIP(last) ? last : peer;
}

// Peers that vanish mid-frame raise ECONNRESET and friends: nothing to do but let them go.
function ignoreSocketError(): void {}
