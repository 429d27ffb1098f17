/** Accepts WebSocket upgrades on `/app/{key}` and hands each socket to the realtime core. */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { originAllowed } from '../config/apps.js';
import { Errors, type ProtocolError } from '../protocol/errors.js';
import { MAX_FRAME_BYTES } from '../protocol/limits.js';
import { errorMessage } from '../protocol/messages.js';
import { InFlight } from '../ops/in-flight.js';
import { outbound } from '../realtime/transport.js';
import type { Realtime } from '../realtime/realtime.js';
import { bindConnection, WsTransport } from './ws-transport.js';

const APP_PATH = /^\/app\/([^/?]+)\/?$/;
const SUPPORTED_PROTOCOLS = new Set(['5', '6', '7']);

/** How the endpoint sees its clients. */
export interface WebSocketEndpointOptions {
  /**
   * A reverse proxy in front appends the client's address to `X-Forwarded-For`: count
   * `max_connections_per_ip` by its last entry instead of by the proxy's address.
   */
  readonly trustProxy: boolean;
}

const kAddressSlot = Symbol('herald.addressSlot');
type SlotSocket = WebSocket & { [kAddressSlot]?: string };

/** The WebSocket endpoint of the server. */
export class WebSocketEndpoint {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });

  /** Sockets accepted and not yet closed (the close handshake done or the socket cut). */
  private readonly openSockets = new InFlight();
  /** Open sockets by app id and client address, for `max_connections_per_ip`. */
  private readonly perAddress = new Map<string, number>();
  /** One shared close listener (`this` is the socket) that gives its address slot back. */
  private readonly releaseSlot: (this: SlotSocket) => void;

  constructor(
    private readonly realtime: Realtime,
    private readonly options: WebSocketEndpointOptions = { trustProxy: false },
  ) {
    const perAddress = this.perAddress;
    this.releaseSlot = function (this: SlotSocket) {
      const slot = this[kAddressSlot];
      if (slot === undefined) return;
      const count = (perAddress.get(slot) ?? 1) - 1;
      if (count > 0) perAddress.set(slot, count);
      else perAddress.delete(slot);
    };
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
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, key, protocol));
  }

  private accept(ws: WebSocket, req: IncomingMessage, key: string, protocol: string | null): void {
    ws.on('error', ignoreSocketError);
    this.openSockets.started();
    ws.on('close', this.openSockets.finished); // emitted once; `once` would wrap the shared listener per socket
    // This runs inside the HTTP server's 'upgrade' event: a throw here would end the process.
    try {
      this.open(ws, req, key, protocol);
    } catch (error) {
      this.realtime.logger.error({ err: error }, 'unexpected error accepting a WebSocket');
      ws.terminate();
    }
  }

  private open(ws: WebSocket, req: IncomingMessage, key: string, protocol: string | null): void {
    const transport = new WsTransport(ws, this.realtime.traffic, this.realtime.options.maxBufferedBytes);
    if (protocol !== null && !SUPPORTED_PROTOCOLS.has(protocol)) {
      const error = Errors.unsupportedProtocol(protocol);
      transport.send(outbound(errorMessage(error.pusherCode, error.message)));
      transport.close(error.pusherCode ?? 0, error.closeReason);
      return;
    }
    // Unknown and disabled apps are refused by the realtime core (4001, 4003).
    const app = this.realtime.apps.findByKey(key);
    // Counted only for apps with a limit: no address lookup or map entry per socket otherwise.
    let slot: string | null = null;
    if (app?.enabled) {
      const origin = req.headers.origin;
      if (!originAllowed(app, origin)) {
        this.refuse(transport, key, Errors.originNotAllowed(String(origin)));
        return;
      }
      if (app.maxConnectionsPerIp !== null) {
        slot = `${app.id} ${clientAddress(req, this.options.trustProxy)}`;
        if ((this.perAddress.get(slot) ?? 0) >= app.maxConnectionsPerIp) {
          this.refuse(transport, key, Errors.tooManyFromAddress(app.maxConnectionsPerIp));
          return;
        }
      }
    }
    const connection = this.realtime.connect(key, transport);
    if (!connection) return;
    bindConnection(ws, connection);
    if (slot === null) return;
    this.perAddress.set(slot, (this.perAddress.get(slot) ?? 0) + 1);
    (ws as SlotSocket)[kAddressSlot] = slot;
    ws.on('close', this.releaseSlot); // emitted once
  }

  /** Refuses a socket with a `pusher:error` and the same close code, counted like the core's refusals. */
  private refuse(transport: WsTransport, key: string, error: ProtocolError): void {
    this.realtime.events.emit({ type: 'connection_refused', appKey: key, code: error.pusherCode ?? 0 });
    transport.send(outbound(errorMessage(error.pusherCode, error.message)));
    transport.close(error.pusherCode ?? 0, error.closeReason);
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
