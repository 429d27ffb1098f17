/** The HTTP side of the server: routing, body limits, authentication and JSON errors. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AppRegistry } from '../config/apps.js';
import { HttpError, notFound } from '../protocol/errors.js';
import { readBody, Reply, sendError, sendJson, type RequestContext } from './context.js';
import { authenticatePusher } from './pusher-signature.js';
import { Router } from './router.js';

/** A route handler: returns the JSON body of a 200, a Reply, or throws an HttpError. */
export type Handler = (ctx: RequestContext) => unknown | Promise<unknown>;

/** How a route authenticates: Pusher signature, none, or its own function. */
export type RouteAuth = 'pusher' | 'none' | ((ctx: RequestContext) => void | Promise<void>);

interface RouteEntry {
  readonly handler: Handler;
  readonly auth: RouteAuth;
  readonly bodyLimit: number;
}

/** Default request body limit. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface HttpApiDeps {
  readonly apps: AppRegistry;
  readonly logger: Logger;
  readonly now: () => number;
}

/** Routes HTTP requests; every error becomes a real status with `{ error, code }`. */
export class HttpApi {
  private readonly router = new Router<RouteEntry>();

  constructor(private readonly deps: HttpApiDeps) {}

  /** Adds a route. */
  route(method: string, path: string, handler: Handler, options: { auth: RouteAuth; bodyLimit?: number }): this {
    this.router.add(method, path, { handler, auth: options.auth, bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT });
    return this;
  }

  /** Handles one request; never throws. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headerId = req.headers['x-request-id'];
    const requestId = typeof headerId === 'string' && /^[\w.\-]{1,64}$/.test(headerId) ? headerId : randomUUID();
    res.setHeader('x-request-id', requestId);
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
        throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}; use ${match.allowed.join(' or ')}`, { allow: match.allowed.join(', ') });
      }
      const route = match.handler;
      const ctx: RequestContext = {
        req,
        res,
        method,
        path,
        query: new URLSearchParams(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1)),
        params: match.params,
        requestId,
        body: method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : await readBody(req, route.bodyLimit),
      };
      if (route.auth === 'pusher') authenticatePusher(ctx, this.deps.apps, this.deps.now());
      else if (typeof route.auth === 'function') await route.auth(ctx);
      const result = await route.handler(ctx);
      if (result instanceof Reply) sendJson(res, result.status, result.body, { ...corsHeaders(req), ...result.headers });
      else if (!res.headersSent) sendJson(res, 200, result ?? {}, corsHeaders(req));
    } catch (error) {
      if (error instanceof HttpError) {
        if (error.status === 413) res.setHeader('connection', 'close');
        sendError(res, error);
      } else {
        logger.error({ err: error, method, path }, 'unhandled error in HTTP route');
        sendError(res, new HttpError(500, 'internal_error', 'Internal server error'));
      }
    } finally {
      logger.debug({ method, path, status: res.statusCode, ms: Math.round((performance.now() - started) * 10) / 10 }, 'http request');
    }
  }
}

/** Browsers call the auth and inbox routes from pages on other origins. */
function corsHeaders(req: IncomingMessage): Record<string, string> {
  return {
    'access-control-allow-origin': typeof req.headers.origin === 'string' ? req.headers.origin : '*',
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    'access-control-allow-headers': 'authorization, content-type, x-request-id',
    'access-control-max-age': '600',
    vary: 'origin',
  };
}
