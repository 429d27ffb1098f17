/** Authenticates HTTP API requests signed the Pusher way (query-string signature). */
import type { AppRegistry, App } from '../config/apps.js';
import { forbidden, notFound, unauthorized } from '../protocol/errors.js';
import { HTTP_TIMESTAMP_WINDOW_SECONDS } from '../protocol/limits.js';
import { md5Hex, safeEqual, signHttpRequest } from '../protocol/signatures.js';
import type { RequestContext } from './context.js';

/** Finds the app of `:appId`: 404 if unknown, 403 if disabled. */
export function appOf(ctx: RequestContext, apps: AppRegistry): App {
  const app = apps.findById(ctx.params.appId ?? '');
  if (!app) throw notFound(`Unknown app id "${ctx.params.appId}"`);
  if (!app.enabled) throw forbidden(`App "${app.id}" is disabled`);
  return app;
}

/** Whether a request carries a Pusher signature at all (as opposed to a bearer token). */
export function hasPusherSignature(ctx: RequestContext): boolean {
  return ctx.query.has('auth_signature');
}

/**
 * Verifies `auth_key`, `auth_timestamp` (within 600 s), `auth_version` and `auth_signature`;
 * throws 401 naming the part that failed. The signature covers the query, `body_md5` included, so
 * it is checked before the body is read; the body is checked against `body_md5` once read
 * (`verifySignedBody`).
 */
export function verifyPusherSignature(ctx: RequestContext, app: App, nowMs: number): void {
  const { query } = ctx;
  const key = query.get('auth_key');
  const timestamp = query.get('auth_timestamp');
  const signature = query.get('auth_signature');
  if (!key || !timestamp || !signature) throw unauthorized('Missing auth_key, auth_timestamp or auth_signature');
  if (key !== app.key) throw unauthorized('auth_key does not belong to this app');
  const version = query.get('auth_version');
  if (version !== null && version !== '1.0') throw unauthorized(`Unsupported auth_version "${version}": expected 1.0`);
  const seconds = Number(timestamp);
  if (!Number.isFinite(seconds) || Math.abs(nowMs / 1000 - seconds) > HTTP_TIMESTAMP_WINDOW_SECONDS) {
    throw unauthorized(`auth_timestamp is more than ${HTTP_TIMESTAMP_WINDOW_SECONDS} seconds from the server time; check the clock`);
  }
  const expected = signHttpRequest(app.secret, ctx.method, ctx.path, query);
  if (!safeEqual(expected, signature)) throw unauthorized('Invalid auth_signature');
  ctx.pusherSigned = true;
}

/** Checks a read body against the signed `body_md5` of a request `verifyPusherSignature` accepted. */
export function verifySignedBody(ctx: RequestContext): void {
  if (!ctx.pusherSigned || ctx.body.length === 0) return;
  const bodyMd5 = ctx.query.get('body_md5');
  if (!bodyMd5 || !safeEqual(bodyMd5, md5Hex(ctx.body))) throw unauthorized('body_md5 does not match the request body');
}

/** Finds the app and verifies the Pusher signature. */
export function authenticatePusher(ctx: RequestContext, apps: AppRegistry, nowMs: number): App {
  const app = appOf(ctx, apps);
  verifyPusherSignature(ctx, app, nowMs);
  ctx.app = app;
  return app;
}
