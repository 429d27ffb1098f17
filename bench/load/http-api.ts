/** A minimal Pusher HTTP API client for the load: keep-alive, requests signed locally from the app secret. */
import { Agent, request } from 'node:http';
import { md5Hex, signHttpRequest } from '../../src/protocol/signatures.js';
import type { AppCredentials } from '../server-process.js';

const REQUEST_TIMEOUT_MS = 30_000;

/** The answer to one request. */
export interface ApiAnswer {
  readonly status: number;
  /** The body, read only for failures (the first 300 characters). */
  readonly error: string | null;
}

export class PusherHttpApi {
  private readonly agent: Agent;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly app: AppCredentials,
    maxSockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  /**
   * `POST /apps/{id}/{resource}` with a JSON body, signed as Pusher's server SDKs do. A request
   * that fails because the server had just closed the idle keep-alive connection it went out on
   * is sent once more on a fresh one, as HTTP clients do.
   */
  async post(resource: string, body: string): Promise<ApiAnswer> {
    const first = await this.attempt(resource, body);
    return first.retry ? (await this.attempt(resource, body)).answer : first.answer;
  }

  private attempt(resource: string, body: string): Promise<{ answer: ApiAnswer; retry: boolean }> {
    const path = `/apps/${this.app.id}/${resource}`;
    const query: [string, string][] = [
      ['auth_key', this.app.key],
      ['auth_timestamp', String(Math.floor(Date.now() / 1000))],
      ['auth_version', '1.0'],
      ['body_md5', md5Hex(body)],
    ];
    const signature = signHttpRequest(this.app.secret, 'POST', path, query);
    const search = new URLSearchParams([...query, ['auth_signature', signature]]).toString();
    return new Promise((resolve) => {
      const req = request(
        { host: this.host, port: this.port, method: 'POST', path: `${path}?${search}`, agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            res.resume();
            res.once('end', () => resolve({ answer: { status, error: null }, retry: false }));
            return;
          }
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.once('end', () => resolve({ answer: { status, error: text.slice(0, 300) }, retry: false }));
        },
      );
      req.once('error', (error: NodeJS.ErrnoException) => {
        const stale = req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
        resolve({ answer: { status: 0, error: error.message }, retry: stale });
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
