/**
 * Authentication of the admin API (what the dashboard reads): `Authorization: Bearer <admin token>`
 * reaches every app; `Authorization: Basic base64(appId:secret)` reaches that one app.
 */
import type { App, AppRegistry } from '../../config/apps.js';
import { forbidden, notFound, unauthorized } from '../../protocol/errors.js';
import { safeEqual } from '../../protocol/signatures.js';
import type { RequestContext } from '../context.js';

/** Who signed in: the operator (admin token, all apps) or one app (its id and secret). */
export type AdminScope = { readonly kind: 'admin' } | { readonly kind: 'app'; readonly appId: string };

const HOW = 'Send "Authorization: Bearer <admin token>" (HERALD_ADMIN_TOKEN) or "Authorization: Basic base64(appId:secret)"';

/** Verifies the Authorization header; 401 when missing or wrong. Comparisons take constant time. */
export function adminScope(ctx: RequestContext, apps: AppRegistry, adminToken: string | null): AdminScope {
  const header = ctx.req.headers.authorization;
  if (typeof header !== 'string' || header.length === 0) throw unauthorized(HOW);
  const space = header.indexOf(' ');
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  const credentials = space === -1 ? '' : header.slice(space + 1).trim();
  if (scheme === 'bearer') {
    if (adminToken === null) throw unauthorized('No admin token is configured on this server (HERALD_ADMIN_TOKEN); sign in with an app id and secret');
    if (!safeEqual(credentials, adminToken)) throw unauthorized('Invalid admin token');
    return { kind: 'admin' };
  }
  if (scheme === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw unauthorized('Basic credentials must be base64(appId:secret)');
    const appId = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    const app = apps.findById(appId);
    // Compare against something either way, so an unknown id answers in the same time as a wrong secret.
    const matches = safeEqual(secret, app?.secret ?? `\u0000${secret}`);
    if (!app || !matches) throw unauthorized('Unknown app id or wrong secret');
    return { kind: 'app', appId: app.id };
  }
  throw unauthorized(HOW);
}

/** The apps a scope reaches. */
export function appsInScope(scope: AdminScope, apps: AppRegistry): App[] {
  if (scope.kind === 'admin') return apps.all();
  const app = apps.findById(scope.appId);
  return app ? [app] : [];
}

/**
 * Authenticates an admin route about `:appId`: 401 without valid credentials, 403 when an app's
 * credentials ask about another app, 404 when the admin token asks about an unknown app. Sets `ctx.app`.
 */
export function authenticateAdminApp(ctx: RequestContext, apps: AppRegistry, adminToken: string | null): { scope: AdminScope; app: App } {
  const scope = adminScope(ctx, apps, adminToken);
  const appId = ctx.params.appId ?? '';
  if (scope.kind === 'app' && scope.appId !== appId) throw forbidden(`These credentials only reach app "${scope.appId}"`);
  const app = apps.findById(appId);
  if (!app) throw notFound(`Unknown app id "${appId}"`);
  ctx.app = app;
  ctx.caller = { kind: 'backend' };
  return { scope, app };
}
