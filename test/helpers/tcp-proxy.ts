/**
 * A TCP proxy for network-fault tests: forwards bytes both ways, and can pause (a black hole:
 * nothing is forwarded, nothing is closed), resume, kill every socket it holds, or add latency.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** A pair of sockets: the client's side and the upstream side. */
interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
}

/** A running proxy on 127.0.0.1 in front of one upstream port. */
export class TcpProxy {
  private readonly links = new Set<Link>();
  private paused = false;
  /** Connections accepted so far (reconnects show up here). */
  accepted = 0;
  /** Milliseconds every chunk (and every end) waits before it is forwarded, in order, either way. */
  latencyMs = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Starts a proxy on a free loopback port forwarding to `127.0.0.1:{upstreamPort}`. */
  static async start(upstreamPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | null = null;
    const server = createServer((client) => proxy?.adopt(client, upstreamPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('tcp proxy has no port');
    proxy = new TcpProxy(server, address.port);
    return proxy;
  }

  /** Open links (client and upstream socket pairs). */
  get connections(): number {
    return this.links.size;
  }

  /** Stops forwarding both ways without closing anything; new connections are accepted and held too. */
  pause(): void {
    this.paused = true;
    for (const { client, upstream } of this.links) {
      client.pause();
      upstream.pause();
    }
  }

  /** Forwards again, including whatever was held while paused. */
  resume(): void {
    this.paused = false;
    for (const { client, upstream } of this.links) {
      client.resume();
      upstream.resume();
    }
  }

  /** Destroys every socket, as a network reset would (the proxy keeps listening). */
  killAll(): void {
    for (const { client, upstream } of this.links) {
      client.destroy();
      upstream.destroy();
    }
    this.links.clear();
  }

  /** Kills every socket and stops listening. */
  async close(): Promise<void> {
    this.killAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private adopt(client: Socket, upstreamPort: number): void {
    this.accepted++;
    const upstream = connect(upstreamPort, '127.0.0.1');
    const link: Link = { client, upstream };
    this.links.add(link);
    // Timers of one duration fire in the order they were set, so delayed chunks keep their order.
    const later = (action: () => void) => (this.latencyMs > 0 ? setTimeout(action, this.latencyMs) : action());
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        later(() => {
          if (!to.destroyed && !to.write(chunk)) from.pause();
        });
      });
      to.on('drain', () => {
        if (!this.paused) from.resume();
      });
      from.on('end', () => later(() => to.end()));
    };
    forward(client, upstream);
    forward(upstream, client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.links.delete(link);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    if (this.paused) {
      client.pause();
      upstream.pause();
    }
  }
}
