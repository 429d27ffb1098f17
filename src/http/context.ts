/** The request context handed to every HTTP route, and the reply helpers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../config/apps.js';
import type { UserClaims } from '../inbox/user-tokens.js';
import { badRequest, HttpError, tooLarge, type RegisteredError } from '../protocol/errors.js';
import { jsonDepthExceeds } from '../protocol/json-depth.js';
import { MAX_JSON_DEPTH } from '../protocol/limits.js';
import type { Params } from './router.js';

/** One HTTP request as a route sees it. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  /** Path without the query string, as sent (not decoded). */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly params: Params;
  readonly requestId: string;
  /** Raw body bytes: empty until read, which happens after the route's authentication (and for GET never). */
  body: Buffer;
  /** Set once the query's Pusher signature is verified; the body is then checked against its `body_md5`. */
  pusherSigned?: boolean;
  /** The app, once the route's authentication found it. */
  app?: App;
  /** Who is calling, once authenticated: the app's backend or one user. */
  caller?: Caller;
}

/** The app's backend (Pusher signature, any user) or one user (bearer token). */
export type Caller = { readonly kind: 'backend' } | { readonly kind: 'user'; readonly claims: UserClaims };

/** A reply with a status other than 200, or extra headers. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

/**
 * Reads a request body up to `limit` bytes; beyond it, 413. The rest of an oversized body is read
 * and dropped (not buffered) rather than cut with a reset, so the client gets the 413 even while it
 * is still sending; the request timeout bounds how long that may take.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(`Request body is larger than ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      done();
      req.resume();
      reject(tooLarge(`Request body is larger than ${limit} bytes`));
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onClose = () => {
      done();
      reject(badRequest('The request body was cut off'));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}

// Parsed bodies, so a route's rate-limit cost and its handler parse the body once between them.
const parsedBodies = new WeakMap<RequestContext, Record<string, unknown>>();

/** Parses the body as a JSON object (once per request), or 400 saying what was wrong. */
export function jsonBody(ctx: RequestContext): Record<string, unknown> {
  const parsed = parsedBodies.get(ctx);
  if (parsed) return parsed;
  if (ctx.body.length === 0) throw badRequest('Request body is empty: expected a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(ctx.body.toString('utf8'));
  } catch {
    throw badRequest('Request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('Request body must be a JSON object');
  if (jsonDepthExceeds(value, MAX_JSON_DEPTH)) throw badRequest(`Request body is nested more than ${MAX_JSON_DEPTH} levels deep`);
  parsedBodies.set(ctx, value as Record<string, unknown>);
  return value as Record<string, unknown>;
}

/** Parses a form-encoded or JSON body into string fields (what pusher-js auth requests send). */
export function formBody(ctx: RequestContext): Record<string, string> {
  const type = String(ctx.req.headers['content-type'] ?? '');
  if (type.includes('application/json')) {
    const fields: Record<string, string> = {};
    for (const [key, value] of Object.entries(jsonBody(ctx))) if (typeof value === 'string') fields[key] = value;
    return fields;
  }
  return Object.fromEntries(new URLSearchParams(ctx.body.toString('utf8')));
}

/** Writes a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Writes a registered error as its HTTP status and `{ error, code }`. */
export function sendError(res: ServerResponse, error: RegisteredError, headers: Record<string, string> = {}): void {
  sendJson(res, error.definition.status ?? 500, { error: error.message, code: error.code }, { ...headers, ...error.headers });
}

export { HttpError };
