/**
 * The dashboard (`/dashboard`) and the admin API it reads (`/admin/...`). Every admin route needs
 * the admin token (all apps) or an app's id and secret (that app); see routes/admin-auth.ts.
 */
import { AdminMonitor } from '../admin/monitor.js';
import type { AppRegistry } from '../config/apps.js';
import type { Inbox } from '../inbox/inbox.js';
import type { Realtime } from '../realtime/realtime.js';
import { jsonBody, type RequestContext } from './context.js';
import type { HttpApi } from './http-api.js';
import { adminScope, authenticateAdminApp, type AdminScope } from './routes/admin-auth.js';
import { channels, members, overview, session, stream, type AdminDeps } from './routes/admin-realtime.js';
import { triggerEvents } from './routes/events.js';
import { countNotifications, listNotifications, pushNotifications } from './routes/inbox.js';
import { builtPage, registerWebAssets } from './web-assets.js';

/** Options of the dashboard. */
export interface DashboardOptions {
  /** `HERALD_ADMIN_TOKEN`: reaches every app; null turns admin-token sign-in off (app secrets still work). */
  readonly adminToken?: string | null;
}

/** What the admin routes need from the node. */
export interface AdminRouteDeps {
  readonly apps: AppRegistry;
  readonly realtime: Realtime;
  readonly inbox: Inbox;
  readonly now: () => number;
}

/** Adds `/dashboard` and the admin API; returns the monitor (close it at shutdown: it ends console streams). */
export function registerAdminRoutes(api: HttpApi, deps: AdminRouteDeps, options: DashboardOptions = {}): AdminMonitor {
  const { apps, realtime, inbox } = deps;
  const adminToken = options.adminToken ?? null;
  const monitor = new AdminMonitor(realtime, apps, deps.now);
  const routeDeps: AdminDeps = { apps, realtime, monitor };

  // The scope of each request, found by the route's auth step and read by its handler.
  const scopes = new WeakMap<RequestContext, AdminScope>();
  const forApp = {
    auth: (ctx: RequestContext) => {
      scopes.set(ctx, authenticateAdminApp(ctx, apps, adminToken).scope);
    },
  };
  const scopeOf = (ctx: RequestContext): AdminScope => scopes.get(ctx) ?? { kind: 'app', appId: ctx.app!.id };

  const base = '/admin/apps/:appId';
  api
    .route('GET', '/admin/session', (ctx) => session(adminScope(ctx, apps, adminToken), apps), { auth: 'none' })
    .route('GET', `${base}/overview`, (ctx) => overview(ctx, scopeOf(ctx), routeDeps), forApp)
    .route('GET', `${base}/channels`, (ctx) => channels(ctx, routeDeps), forApp)
    .route('GET', `${base}/channels/:channel/members`, (ctx) => members(ctx, routeDeps), forApp)
    .route('GET', `${base}/stream`, (ctx) => stream(ctx, routeDeps), forApp)
    // The same body as the Pusher API's POST /events; it spends the app's event budget like it.
    .route('POST', `${base}/events`, (ctx) => triggerEvents(ctx, realtime), { ...forApp, limit: 'events', cost: channelCount })
    .route('POST', `${base}/notifications`, (ctx) => pushNotifications(ctx, inbox, null), { ...forApp, limit: 'events' })
    .route('GET', `${base}/users/:userId/notifications`, (ctx) => listNotifications(ctx, inbox), forApp)
    .route('GET', `${base}/users/:userId/notifications/count`, (ctx) => countNotifications(ctx, inbox), forApp);

  registerWebAssets(api, 'dashboard', builtPage('dashboard'));
  return monitor;
}

/** A trigger is one event per channel it names. */
function channelCount(ctx: RequestContext): number {
  const { channels: list } = jsonBody(ctx);
  return Array.isArray(list) ? Math.max(1, list.length) : 1;
}
