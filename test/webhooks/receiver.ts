/** A real webhook receiver for tests: node:http on a loopback port, recording every request and verifying it with the `pusher` SDK. */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Pusher from 'pusher';
import { waitFor } from '../helpers/wait.js';

/** One request the receiver got. */
export interface Delivery {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** The status it answered. */
  readonly status: number;
  readonly at: number;
}

/** An event of a webhook body, loosely typed for assertions. */
export type HookEvent = Record<string, unknown> & { name: string };

/** Records requests; answers what `respond` says (200 by default). */
export class Receiver {
  readonly deliveries: Delivery[] = [];
  /** Decides the status of each request. */
  respond: (path: string) => number = () => 200;
  private server: Server | null = null;

  private constructor(public port: number) {}

  /** Starts on a free port (or the given one). */
  static async start(port = 0): Promise<Receiver> {
    const receiver = new Receiver(port);
    await receiver.up();
    return receiver;
  }

  /** The URL of a path on this receiver. */
  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Requests answered 2xx, optionally only those to one path. */
  accepted(path?: string): Delivery[] {
    return this.deliveries.filter((d) => d.status >= 200 && d.status < 300 && (path === undefined || d.path === path));
  }

  /** Listens (again, on the same port after `down`). */
  async up(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = req.url ?? '/';
        const status = this.respond(path);
        this.deliveries.push({ path, headers: req.headers, rawBody: Buffer.concat(chunks).toString('utf8'), status, at: Date.now() });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops open connections: deliveries fail with connection errors meanwhile. */
  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** Waits until the accepted bodies hold events matching `predicate`; returns those events. */
  async waitForEvents(backend: Pusher, predicate: (events: HookEvent[]) => boolean, what: string, timeoutMs = 8_000, path?: string): Promise<HookEvent[]> {
    let events: HookEvent[] = [];
    await waitFor(() => predicate((events = this.events(backend, path))), what, timeoutMs);
    return events;
  }

  /** Every event of the accepted deliveries, in arrival order, each delivery verified by the SDK. */
  events(backend: Pusher, path?: string): HookEvent[] {
    return this.accepted(path).flatMap((delivery) => verified(backend, delivery).events);
  }
}

/** Checks a delivery with the official SDK's webhook verifier; returns its parsed body. */
export function verified(backend: Pusher, delivery: Delivery): { time_ms: number; events: HookEvent[] } {
  const webhook = backend.webhook({ headers: delivery.headers, rawBody: delivery.rawBody });
  assert.equal(webhook.isValid(), true, `the SDK accepts the signature of ${delivery.rawBody}`);
  const data = webhook.getData() as unknown as { time_ms: number; events: HookEvent[] };
  assert.equal(typeof data.time_ms, 'number');
  assert.deepEqual(webhook.getTime(), new Date(data.time_ms));
  assert.deepEqual(webhook.getEvents(), data.events);
  return data;
}

/** The events of one name. */
export function named(events: readonly HookEvent[], name: string): HookEvent[] {
  return events.filter((event) => event.name === name);
}
