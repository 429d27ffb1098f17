/**
 * Local stand-ins for FCM HTTP v1 (OAuth2 token endpoint and send) and APNs (HTTP/2, cleartext),
 * each checking what Herald sends (the JWT grant, the provider token, headers and payloads) and
 * answering what the test scripts per device token: success, or 404/410/429/500.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';

/** A scripted answer. */
export interface ProviderAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly retryAfter?: string;
}

/** One request a local provider got. */
export interface ProviderRequest {
  readonly token: string;
  readonly status: number;
  readonly headers: IncomingHttpHeaders | http2.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

/** Keys and scripts shared by both stand-ins. */
abstract class LocalProvider {
  readonly requests: ProviderRequest[] = [];
  /** Requests refused for what Herald sent (bad token, headers); the tests expect none. */
  readonly rejected: string[] = [];
  private readonly scripts = new Map<string, ProviderAnswer[]>();

  script(token: string, ...answers: ProviderAnswer[]): void {
    this.scripts.set(token, [...(this.scripts.get(token) ?? []), ...answers]);
  }

  /** The bodies accepted for a device token. */
  accepted(token: string): Record<string, unknown>[] {
    return this.requests.filter((r) => r.token === token && r.status === 200).map((r) => r.body);
  }

  protected next(token: string): ProviderAnswer {
    return this.scripts.get(token)?.shift() ?? { status: 200, body: {} };
  }
}

/** FCM: `POST /token` (JWT bearer grant) and `POST /v1/projects/{id}/messages:send`. */
export class LocalFcm extends LocalProvider {
  readonly projectId = 'herald-test';
  readonly clientEmail = 'herald@herald-test.iam.gserviceaccount.com';
  readonly privateKeyPem: string;
  private readonly publicKey: KeyObject;
  private server: Server | null = null;
  private issued = 0;
  private readonly validTokens = new Set<string>();
  baseUrl = '';
  /** Token requests made. */
  tokenRequests = 0;

  constructor() {
    super();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    this.publicKey = publicKey;
  }

  /** The apps file's `push.fcm`. */
  get options(): { project_id: string; client_email: string; private_key: string; token_uri: string; base_url: string } {
    return { project_id: this.projectId, client_email: this.clientEmail, private_key: this.privateKeyPem, token_uri: `${this.baseUrl}/token`, base_url: this.baseUrl };
  }

  /** Revokes every access token issued so far (the next send answers 401). */
  revokeTokens(): void {
    this.validTokens.clear();
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.handle(req.url ?? '', req.headers, Buffer.concat(chunks).toString('utf8')).then(
          ({ status, body, retryAfter }) => {
            res.writeHead(status, { 'content-type': 'application/json', ...(retryAfter ? { 'retry-after': retryAfter } : {}) });
            res.end(JSON.stringify(body ?? {}));
          },
          (error: Error) => {
            this.rejected.push(error.message);
            res.writeHead(400, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: { status: 'INVALID_ARGUMENT', message: error.message } }));
          },
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(url: string, headers: IncomingHttpHeaders, text: string): Promise<ProviderAnswer> {
    if (url === '/token') {
      this.tokenRequests++;
      const form = new URLSearchParams(text);
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') throw new Error('grant_type is not the JWT bearer grant');
      const { payload } = await jwtVerify(form.get('assertion') ?? '', this.publicKey, {
        algorithms: ['RS256'],
        issuer: this.clientEmail,
        audience: `${this.baseUrl}/token`,
        requiredClaims: ['iat', 'exp'],
      });
      if (payload.scope !== 'https://www.googleapis.com/auth/firebase.messaging') throw new Error(`scope is ${String(payload.scope)}`);
      if (payload.exp! - payload.iat! > 3600) throw new Error('assertion lives longer than an hour');
      const token = `access-${++this.issued}`;
      this.validTokens.add(token);
      return { status: 200, body: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
    }
    if (url !== `/v1/projects/${this.projectId}/messages:send`) return { status: 404, body: { error: { status: 'NOT_FOUND' } } };
    const access = /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1];
    if (!access || !this.validTokens.has(access)) return { status: 401, body: { error: { status: 'UNAUTHENTICATED' } } };
    const body = JSON.parse(text) as { message?: { token?: string; data?: Record<string, unknown>; android?: { ttl?: string; collapse_key?: string } } };
    const message = body.message;
    if (!message?.token) throw new Error('message.token is missing');
    if (!message.data || typeof message.data.herald !== 'string') throw new Error('message.data.herald must be a string');
    if (!/^\d+s$/.test(message.android?.ttl ?? '')) throw new Error('android.ttl must be "<seconds>s"');
    const answer = this.next(message.token);
    this.requests.push({ token: message.token, status: answer.status, headers, body: body as Record<string, unknown> });
    return answer;
  }
}

/** A 404 with FCM's UNREGISTERED error details. */
export const FCM_UNREGISTERED: ProviderAnswer = {
  status: 404,
  body: { error: { code: 404, status: 'NOT_FOUND', details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }] } },
};

/** APNs over cleartext HTTP/2: `POST /3/device/{token}` with token auth. */
export class LocalApns extends LocalProvider {
  readonly teamId = 'TEAM123456';
  readonly keyId = 'KEY1234567';
  readonly topic = 'com.example.herald';
  readonly privateKeyPem: string;
  private readonly publicKey: KeyObject;
  private server: http2.Http2Server | null = null;
  baseUrl = '';

  constructor() {
    super();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    this.publicKey = publicKey;
  }

  /** The apps file's `push.apns`. */
  get options(): { team_id: string; key_id: string; private_key: string; topic: string; base_url: string } {
    return { team_id: this.teamId, key_id: this.keyId, private_key: this.privateKeyPem, topic: this.topic, base_url: this.baseUrl };
  }

  async start(): Promise<this> {
    this.server = http2.createServer();
    this.server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        this.handle(headers, Buffer.concat(chunks).toString('utf8')).then(
          ({ status, body, retryAfter }) => {
            stream.respond({ ':status': status, ...(retryAfter ? { 'retry-after': retryAfter } : {}) });
            stream.end(status === 200 ? '' : JSON.stringify(body ?? {}));
          },
          (error: Error) => {
            this.rejected.push(error.message);
            stream.respond({ ':status': 400 });
            stream.end(JSON.stringify({ reason: 'BadRequest', detail: error.message }));
          },
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(headers: http2.IncomingHttpHeaders, text: string): Promise<ProviderAnswer> {
    const token = /^\/3\/device\/([^/]+)$/.exec(String(headers[':path']))?.[1];
    if (headers[':method'] !== 'POST' || !token) return { status: 404, body: { reason: 'BadPath' } };
    const jwt = /^bearer (.+)$/.exec(String(headers.authorization))?.[1];
    if (!jwt) return { status: 403, body: { reason: 'MissingProviderToken' } };
    const { payload, protectedHeader } = await jwtVerify(jwt, this.publicKey, { algorithms: ['ES256'], issuer: this.teamId });
    if (protectedHeader.kid !== this.keyId) throw new Error(`kid is ${protectedHeader.kid}`);
    if (typeof payload.iat !== 'number') throw new Error('iat is missing');
    if (headers['apns-topic'] !== this.topic) throw new Error(`apns-topic is ${String(headers['apns-topic'])}`);
    if (headers['apns-push-type'] !== 'alert') throw new Error(`apns-push-type is ${String(headers['apns-push-type'])}`);
    if (!/^\d+$/.test(String(headers['apns-expiration']))) throw new Error('apns-expiration must be a UNIX time');
    const collapse = String(headers['apns-collapse-id'] ?? '');
    if (collapse.length === 0 || Buffer.byteLength(collapse) > 64) throw new Error('apns-collapse-id must be 1-64 bytes');
    if (headers['apns-id'] !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(String(headers['apns-id']))) {
      throw new Error('apns-id must be a UUID');
    }
    if (Buffer.byteLength(text) > 4096) throw new Error('payload over 4 KB');
    const body = JSON.parse(text) as { aps?: { alert?: { body?: string }; badge?: number } };
    if (typeof body.aps?.alert?.body !== 'string' || typeof body.aps.badge !== 'number') throw new Error('aps.alert.body and aps.badge are required');
    const answer = this.next(decodeURIComponent(token));
    this.requests.push({ token: decodeURIComponent(token), status: answer.status, headers, body: body as Record<string, unknown> });
    return answer;
  }
}
