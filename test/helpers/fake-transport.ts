/** A realtime core driven without sockets: fake transports that record every frame as sent, and a clock the test moves. */
import { setImmediate as nextTurn } from 'node:timers/promises';
import pino from 'pino';
import { LocalAdapter } from '../../src/cluster/local-adapter.js';
import { AppRegistry, defineApp, type App } from '../../src/config/apps.js';
import type { Connection } from '../../src/realtime/connection.js';
import { Realtime, type RealtimeOptions } from '../../src/realtime/realtime.js';
import type { OutboundMessage, Transport } from '../../src/realtime/transport.js';

/** A write-only transport that keeps the text of every message sent, and how it was closed. */
export class FakeTransport implements Transport {
  readonly sent: string[] = [];
  closedWith: readonly [number, string] | null = null;
  pings = 0;
  bufferedAmount = 0;

  send(message: OutboundMessage): void {
    if (this.closedWith === null) this.sent.push(message.text);
  }

  ping(): void {
    this.pings++;
  }

  close(code: number, reason: string): void {
    this.closedWith ??= [code, reason];
  }

  /** Removes and returns everything sent so far. */
  take(): string[] {
    return this.sent.splice(0);
  }
}

/** One socket of the fake core: its connection and what it was sent. */
export interface FakeClient {
  readonly connection: Connection;
  readonly transport: FakeTransport;
  readonly socketId: string;
  /** Hands a frame to the connection, as the transport does with a text frame, and lets its handling finish. */
  send(frame: unknown): Promise<void>;
  /** Removes and returns the frames sent to this socket, parsed. */
  take(): { event: string; channel?: string; data?: unknown; user_id?: string }[];
}

/** A Realtime with the in-memory adapter, a silent logger and a clock the test sets. */
export function fakeCore(apps: readonly Partial<Parameters<typeof defineApp>[0]>[] = [{}], options: Partial<RealtimeOptions> = {}) {
  const clock = { now: 1_700_000_000_000 };
  const registry = new AppRegistry(apps.map((app, i) => defineApp({ id: `app-${i}`, key: `key-${i}`, secret: `secret-${i}`, ...app })));
  const realtime = new Realtime({
    apps: registry,
    adapter: new LocalAdapter(() => clock.now),
    logger: pino({ level: 'silent' }),
    now: () => clock.now,
    options,
  });
  const app = (index = 0): App => registry.all()[index];

  /** Connects a fake socket to an app (by index), or returns the refused transport. */
  function connect(index = 0, request: { protocol?: string | null; origin?: string; address?: string } = {}): FakeClient | FakeTransport {
    const transport = new FakeTransport();
    const connection = realtime.connect(
      { appKey: app(index)?.key ?? 'no-such-key', protocol: request.protocol ?? '7', origin: request.origin, address: () => request.address ?? '127.0.0.1' },
      transport,
    );
    if (!connection) return transport;
    return {
      connection,
      transport,
      socketId: connection.socketId,
      async send(frame: unknown) {
        connection.handleFrame(typeof frame === 'string' ? frame : JSON.stringify(frame));
        await settle();
      },
      take: () => transport.take().map((text) => JSON.parse(text) as { event: string; channel?: string; data?: unknown }),
    };
  }

  /** A connected client (fails the test if refused). */
  function client(index = 0): FakeClient {
    const connected = connect(index);
    if (connected instanceof FakeTransport) throw new Error(`refused: ${connected.sent.join(' ')}`);
    connected.take(); // connection_established
    return connected;
  }

  return { realtime, registry, clock, app, connect, client };
}

/** Lets the in-memory adapter's promises and the handlers after them run. */
export async function settle(): Promise<void> {
  await nextTurn();
}
