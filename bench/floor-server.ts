/**
 * The floor: the least a Pusher-compatible server can do for the benchmark's scenarios, to measure
 * Herald against. Bare `ws` on `node:http`: accepts `/app/{key}`, sends
 * `pusher:connection_established`, answers every subscribe with
 * `pusher_internal:subscription_succeeded` (no validation, no auth check), and handles
 * `POST /apps/{id}/events` and `/batch_events` (JSON parsed, no signature check) by framing each
 * event once and writing that one buffer to every subscriber's TCP socket.
 *
 * `node dist/bench/floor-server.js --host 127.0.0.1 --port 6002`
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

interface Subscriber {
  readonly socket: Socket;
  readonly channels: Set<string>;
}

const channels = new Map<string, Set<Subscriber>>();
let nextSocketId = 1;

/** One unmasked WebSocket text frame holding `text`. */
export function textFrame(text: string): Buffer {
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
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(text, header);
  return frame;
}

function publish(channel: unknown, name: unknown, data: unknown): void {
  if (typeof channel !== 'string') return;
  const subscribers = channels.get(channel);
  if (!subscribers) return;
  const frame = textFrame(JSON.stringify({ event: name, channel, data: typeof data === 'string' ? data : JSON.stringify(data) }));
  for (const subscriber of subscribers) subscriber.socket.write(frame);
}

function onClientMessage(subscriber: Subscriber, raw: RawData): void {
  let message: { event?: unknown; data?: { channel?: unknown } };
  try {
    message = JSON.parse(raw.toString()) as typeof message;
  } catch {
    return;
  }
  const channel = message.data?.channel;
  if (message.event === 'pusher:subscribe' && typeof channel === 'string') {
    let subscribers = channels.get(channel);
    if (!subscribers) channels.set(channel, (subscribers = new Set()));
    subscribers.add(subscriber);
    subscriber.channels.add(channel);
    subscriber.socket.write(textFrame(JSON.stringify({ event: 'pusher_internal:subscription_succeeded', channel, data: '{}' })));
  } else if (message.event === 'pusher:unsubscribe' && typeof channel === 'string') {
    leave(subscriber, channel);
  } else if (message.event === 'pusher:ping') {
    subscriber.socket.write(textFrame('{"event":"pusher:pong","data":"{}"}'));
  }
}

function leave(subscriber: Subscriber, channel: string): void {
  subscriber.channels.delete(channel);
  const subscribers = channels.get(channel);
  if (!subscribers) return;
  subscribers.delete(subscriber);
  if (subscribers.size === 0) channels.delete(channel);
}

function onConnection(ws: WebSocket): void {
  const socket = (ws as unknown as { _socket: Socket })._socket;
  const subscriber: Subscriber = { socket, channels: new Set() };
  ws.on('error', () => undefined);
  ws.on('message', (raw) => onClientMessage(subscriber, raw));
  ws.on('close', () => {
    for (const channel of [...subscriber.channels]) leave(subscriber, channel);
  });
  const socketId = `${process.pid}.${nextSocketId++}`;
  socket.write(textFrame(JSON.stringify({ event: 'pusher:connection_established', data: JSON.stringify({ socket_id: socketId, activity_timeout: 120 }) })));
}

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '').split('?')[0];
  if (req.method === 'GET' && path === '/health') {
    res.end('ok');
    return;
  }
  const match = /^\/apps\/[^/]+\/(events|batch_events)$/.exec(path);
  if (req.method !== 'POST' || !match) {
    res.writeHead(404).end('{"error":"not found"}');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let body: { name?: unknown; channel?: unknown; channels?: unknown; data?: unknown; batch?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString()) as typeof body;
    } catch {
      res.writeHead(400).end('{"error":"malformed JSON"}');
      return;
    }
    if (match[1] === 'events') {
      const list = Array.isArray(body.channels) ? (body.channels as unknown[]) : [body.channel];
      for (const channel of list) publish(channel, body.name, body.data);
    } else if (Array.isArray(body.batch)) {
      for (const event of body.batch as { name?: unknown; channel?: unknown; data?: unknown }[]) publish(event.channel, event.name, event.data);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
}

function main(): void {
  const { values } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '6002' } } });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  const server = createServer(onRequest);
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => undefined);
    if (!/^\/app\/[^/?]+\/?(\?|$)/.test(req.url ?? '')) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, onConnection);
  });
  server.listen(Number(values.port), values.host);
  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) main();
