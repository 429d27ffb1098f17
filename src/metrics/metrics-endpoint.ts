/** Serves `GET /metrics`: on the main port, or only on a port of its own when one is configured. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpApi } from '../http/http-api.js';
import type { HeraldMetrics } from './metrics.js';

/** The `/metrics` endpoint of a node. */
export class MetricsEndpoint {
  private server: Server | null = null;

  /**
   * With `port` null, `/metrics` is a route of the main HTTP API; otherwise it is served on that
   * port only; with false, nowhere (the metrics are read over IPC by a cluster primary).
   */
  constructor(
    private readonly metrics: HeraldMetrics,
    api: HttpApi,
    readonly port: number | null | false,
  ) {
    if (port === null) api.route('GET', '/metrics', (ctx) => this.write(ctx.res), { auth: 'none' });
  }

  /** Listens on the metrics port (when there is one) on `host`. */
  async listen(host: string): Promise<void> {
    const port = this.port;
    if (port === null || port === false || this.server) return;
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** The bound address of the metrics port, or null when `/metrics` is on the main port. */
  address(): AddressInfo | null {
    return (this.server?.address() as AddressInfo | null | undefined) ?? null;
  }

  /** Stops the metrics port. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return json(res, 404, { error: `No route for ${req.method} ${path}: this port serves GET /metrics only`, code: 'not_found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: `${req.method} is not allowed on /metrics; use GET`, code: 'method_not_allowed' });
    try {
      await this.write(res);
    } catch {
      json(res, 500, { error: 'Internal server error', code: 'internal_error' });
    }
  }

  private async write(res: ServerResponse): Promise<void> {
    const text = await this.metrics.text();
    res.writeHead(200, { 'content-type': this.metrics.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
