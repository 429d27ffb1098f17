/**
 * Raw HTTP requests to the Pusher API, signed here independently of the server's code, so tests
 * can send what the official SDK refuses to (too many channels, bad JSON, stale timestamps...).
 */
import { createHash, createHmac } from 'node:crypto';

/** An app's credentials. */
export interface Credentials {
  readonly id: string;
  readonly key: string;
  readonly secret: string;
}

/** A raw request to `/apps/{id}{path}`. */
export interface SignedRequest {
  readonly method: 'GET' | 'POST';
  /** Path under `/apps/{id}`, e.g. `/events`. */
  readonly path: string;
  readonly body?: string;
  readonly params?: Record<string, string>;
  /** Overrides `auth_timestamp` (seconds). */
  readonly timestamp?: number;
  /** Overrides `body_md5` (signed as given). */
  readonly bodyMd5?: string;
  /** Signs with this secret instead of the app's. */
  readonly secret?: string;
  /** Sends to this app id instead (the signature is still made for it). */
  readonly appId?: string;
  /** Gives up after this long (default 5 s). */
  readonly timeoutMs?: number;
}

/** A response: status and the parsed JSON body (or null). */
export interface ApiResponse {
  readonly status: number;
  readonly body: Record<string, unknown> | null;
  readonly text: string;
  readonly headers: Headers;
}

/** Sends a request signed the Pusher way. */
export async function signedRequest(baseUrl: string, app: Credentials, request: SignedRequest): Promise<ApiResponse> {
  const path = `/apps/${request.appId ?? app.id}${request.path}`;
  const params: Record<string, string> = {
    auth_key: app.key,
    auth_timestamp: String(request.timestamp ?? Math.floor(Date.now() / 1000)),
    auth_version: '1.0',
    ...request.params,
  };
  if (request.bodyMd5 !== undefined) params.body_md5 = request.bodyMd5;
  else if (request.body !== undefined) params.body_md5 = createHash('md5').update(request.body).digest('hex');
  const query = Object.keys(params)
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join('&');
  const signature = createHmac('sha256', request.secret ?? app.secret)
    .update(`${request.method}\n${path}\n${query}`)
    .digest('hex');
  const encoded = Object.keys(params)
    .sort()
    .map((key) => `${key}=${encodeURIComponent(params[key])}`)
    .join('&');
  return send(`${baseUrl}${path}?${encoded}&auth_signature=${signature}`, request.method, request.body, request.timeoutMs);
}

/** Sends an unsigned request. */
export function plainRequest(url: string, method = 'GET', body?: string): Promise<ApiResponse> {
  return send(url, method, body);
}

async function send(url: string, method: string, body?: string, timeoutMs = 5_000): Promise<ApiResponse> {
  const response = await fetch(url, {
    method,
    body,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: response.status, body: json, text, headers: response.headers };
}

/** The status and body of a rejected `pusher` SDK call (a RequestError). */
export async function sdkFailure(call: Promise<unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    await call;
  } catch (error) {
    const { status, body } = error as { status?: number; body?: string };
    if (typeof status !== 'number') throw error;
    return { status, body: JSON.parse(body ?? 'null') as Record<string, unknown> };
  }
  throw new Error('expected the request to fail, but it succeeded');
}
