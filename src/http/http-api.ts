/** The HTTP side of the server: routing, body limits, authentication and JSON errors. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AppRegistry } from '../config/apps.js';
import { AppRateLimits, type RateKind } from '../limits/rate-limits.js';
import { ClusterUnavailableError, Errors, HttpError, notFound, StoreUnavailableError } from '../protocol/errors.js';
import { InFlight } from '../ops/in-flight.js';
import { readBody, Reply, sendError, sendJson, type RequestContext } from './context.js';
import { authenticatePusher, verifySignedBody } from './pusher-signature.js';
import { parseQuery } from './query.js';
import { Router } from './router.js';

/** A route handler: returns the JSON body of a 200, a Reply, or throws an HttpError. */
export type Handler = (ctx: RequestContext) => unknown | Promise<unknown>;

/** How a route authenticates: Pusher signature, none, or its own function. */
export type RouteAuth = 'pusher' | 'none' | ((ctx: RequestContext) => void | Promise<void>);

/** How a route is registered. */
export interface RouteOptions {
  readonly auth: RouteAuth;
  /** Largest body accepted (413 beyond); a function is asked after authentication, so it may depend on the caller. */
  readonly bodyLimit?: number | ((ctx: RequestContext) => number);
  /** The app budget the route spends once authenticated (429 when spent). */
  readonly limit?: RateKind;
  /** How much of it one request spends (default 1); may read the body. */
  readonly cost?: (ctx: RequestContext) => number;
}

interface RouteEntry extends RouteOptions {
  /** The path pattern, e.g. `/apps/:appId/events`: the route's name in logs and metrics. */
  readonly pattern: string;
  readonly handler: Handler;
  readonly bodyLimit: number | ((ctx: RequestContext) => number);
}

/** Told about every finished request, with the route pattern (not the raw path). */
export type RequestObserver = (method: string, route: string, status: number, seconds: number) => void;

/** The route name of requests that matched no route. */
export const UNMATCHED_ROUTE = '(unmatched)';

/** Default request body limit. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Default bound on the body bytes being read at once for routes without authentication. */
export const DEFAULT_MAX_UNAUTHENTICATED_BODY_BYTES = 1024 * 1024;

export interface HttpApiDeps {
  readonly apps: AppRegistry;
  readonly logger: Logger;
  readonly now: () => number;
  /**
   * Body bytes that requests to routes without authentication may have in reading at once (each
   * counted at its declared length, or its route's limit); beyond it, 503. Authenticated routes
   * read their body only after authentication.
   */
  readonly maxUnauthenticatedBodyBytes?: number;
}

/** Routes HTTP requests; every error becomes a real status with `{ error, code }`. */
export class HttpApi {
  private readonly router = new Router<RouteEntry>();
  /** Per-app events and reads per second. */
  readonly limits: AppRateLimits;
  private observer: RequestObserver | null = null;
  private readonly inFlight = new InFlight();
  private draining = false;
  private unauthenticatedBodyBytes = 0;

  constructor(private readonly deps: HttpApiDeps) {
    this.limits = new AppRateLimits(deps.now);
  }

  /** Adds a route. */
  route(method: string, path: string, handler: Handler, options: RouteOptions): this {
    this.router.add(method, path, { ...options, pattern: path, handler, bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT });
    return this;
  }

  /** Sets the one observer of finished requests (the metrics). */
  observe(observer: RequestObserver): void {
    this.observer = observer;
  }

  /**
   * Lets the requests under way finish, at most `timeoutMs`: from now on every response closes its
   * connection, so keep-alive clients move to another node. Call after the server stopped listening.
   */
  drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    return this.inFlight.settled(timeoutMs);
  }

  /** Reads the body within the route's limit; a route without authentication reads within the shared budget. */
  private async readBody(ctx: RequestContext, route: RouteEntry): Promise<Buffer> {
    const limit = typeof route.bodyLimit === 'function' ? route.bodyLimit(ctx) : route.bodyLimit;
    if (route.auth !== 'none') return readBody(ctx.req, limit);
    const declared = Number(ctx.req.headers['content-length']);
    const reserved = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, limit) : limit;
    const budget = this.deps.maxUnauthenticatedBodyBytes ?? DEFAULT_MAX_UNAUTHENTICATED_BODY_BYTES;
    if (reserved > 0 && this.unauthenticatedBodyBytes + reserved > budget) {
      throw Errors.busy('Too many request bodies are being received; try again shortly', { 'retry-after': '1' });
    }
    this.unauthenticatedBodyBytes += reserved;
    try {
      return await readBody(ctx.req, limit);
    } finally {
      this.unauthenticatedBodyBytes -= reserved;
    }
  }

  /** Handles one request; never throws. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headerId = req.headers['x-request-id'];
    const requestId = typeof headerId === 'string' && /^[\w.\-]{1,64}$/.test(headerId) ? headerId : randomUUID();
    res.setHeader('x-request-id', requestId);
    this.inFlight.started();
    res.once('close', this.inFlight.finished);
    if (this.draining) res.setHeader('connection', 'close');
    let routeName = UNMATCHED_ROUTE;
    const logger = this.deps.logger.child({ requestId });
    const started = performance.now();
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const path = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
    try {
      if (method === 'OPTIONS') {
        res.writeHead(204, corsHeaders(req));
        res.end();
        return;
      }
      const match = this.router.match(method, path);
      if (match.kind === 'not-found') throw notFound(`No route for ${method} ${path}`);
      if (match.kind === 'method-not-allowed') {
        throw Errors.methodNotAllowed(`${method} is not allowed on ${path}; use ${match.allowed.join(' or ')}`, { allow: match.allowed.join(', ') });
      }
      const route = match.handler;
      routeName = route.pattern;
      const ctx: RequestContext = {
        req,
        res,
        method,
        path,
        query: parseQuery(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1)),
        params: match.params,
        requestId,
        body: EMPTY_BODY,
      };
      // Authenticated before the body is read: a stranger's request never gets its body buffered.
      if (route.auth === 'pusher') authenticatePusher(ctx, this.deps.apps, this.deps.now());
      else if (typeof route.auth === 'function') await route.auth(ctx);
      if (method !== 'GET' && method !== 'HEAD') ctx.body = await this.readBody(ctx, route);
      verifySignedBody(ctx);
      if (route.limit && ctx.app) this.limits.take(ctx.app, route.limit, route.cost?.(ctx) ?? 1);
      const result = await route.handler(ctx);
      if (result instanceof Reply) sendJson(res, result.status, result.body, { ...corsHeaders(req), ...result.headers });
      else if (!res.headersSent) sendJson(res, 200, result ?? {}, corsHeaders(req));
    } catch (error) {
      if (error instanceof HttpError || error instanceof ClusterUnavailableError || error instanceof StoreUnavailableError) {
        sendError(res, error, corsHeaders(req));
      } else {
        logger.error({ err: error, method, path }, 'unhandled error in HTTP route');
        sendError(res, Errors.internalError(), corsHeaders(req));
      }
    } finally {
      const seconds = (performance.now() - started) / 1000;
      logger.info({ method, route: routeName, path, status: res.statusCode, durationMs: Math.round(seconds * 10_000) / 10 }, 'http request');
      this.observer?.(method, routeName, res.statusCode, seconds);
    }
  }
}

/** The body of a request that has none, or whose body is not read. */
const EMPTY_BODY = Buffer.alloc(0);

/** Browsers call the auth and inbox routes from pages on other origins. */
function corsHeaders(req: IncomingMessage): Record<string, string> {
  return {
    'access-control-allow-origin': typeof req.headers.origin === 'string' ? req.headers.origin : '*',
    'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
    'access-control-allow-headers': 'authorization, content-type, x-request-id',
    'access-control-max-age': '600',
    // So a page can read how long a 429 asks it to wait, and quote the request id.
    'access-control-expose-headers': 'retry-after, x-request-id',
    vary: 'origin',
  };
}
