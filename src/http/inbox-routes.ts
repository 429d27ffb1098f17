/** Registers the inbox routes and the built-in auth routes. */
import type { App, AppRegistry } from '../config/apps.js';
import type { Inbox } from '../inbox/inbox.js';
import { MAX_USER_ID_LENGTH } from '../inbox/push-request.js';
import { ClientPushLimits } from '../limits/client-push-limits.js';
import type { RequestContext } from './context.js';
import type { HttpApi } from './http-api.js';
import { authenticateUserSignin, authorizeChannel } from './routes/channel-auth.js';
import {
  bulkAction,
  countNotifications,
  countViews,
  listChanges,
  deleteNotification,
  getNotification,
  listNotifications,
  openNotifications,
  pressButton,
  pushNotifications,
} from './routes/inbox.js';
import { authenticateCaller, authenticateForUser, authenticateUser, userClaims } from './user-auth.js';

/** Big enough for 10,000 user ids of a push. */
const PUSH_BODY_LIMIT = 4 * 1024 * 1024;

/**
 * Big enough for a client push the app allows: its recipients (each id JSON-escaped at worst) and
 * a notification of the app's payload size (escapes included), so a user cannot send megabytes.
 */
function clientPushBodyLimit(app: App): number {
  return app.clientPushMaxRecipients * (MAX_USER_ID_LENGTH * 6 + 3) + app.maxEventPayloadBytes * 6 + 4 * 1024;
}

/** Adds the inbox routes under `/apps/:appId`. */
export function registerInboxRoutes(api: HttpApi, inbox: Inbox, apps: AppRegistry, now: () => number): void {
  const clientPush = new ClientPushLimits(now);
  const anyCaller = {
    auth: async (ctx: RequestContext) => void (await authenticateCaller(ctx, apps, now())),
    bodyLimit: (ctx: RequestContext) => (ctx.caller?.kind === 'user' ? clientPushBodyLimit(ctx.app!) : PUSH_BODY_LIMIT),
  };
  const forUser = { auth: (ctx: RequestContext) => authenticateForUser(ctx, apps, now()) };
  const readForUser = { ...forUser, limit: 'reads' } as const;
  const userOnly = { auth: async (ctx: RequestContext) => void (await authenticateUser(ctx, apps, now())) };

  const base = '/apps/:appId/users/:userId/notifications';
  api
    // A push is one backend event however many users it addresses (at most 10,000, bounded by the body).
    .route('POST', '/apps/:appId/notifications', (ctx) => pushNotifications(ctx, inbox, clientPush), { ...anyCaller, limit: 'events' })
    .route('GET', base, (ctx) => listNotifications(ctx, inbox), readForUser)
    .route('GET', `${base}/count`, (ctx) => countNotifications(ctx, inbox), readForUser)
    .route('POST', `${base}/counts`, (ctx) => countViews(ctx, inbox), readForUser)
    .route('GET', `${base}/changes`, (ctx) => listChanges(ctx, inbox), readForUser)
    .route('POST', `${base}/bulk`, (ctx) => bulkAction(ctx, inbox), forUser)
    .route('POST', `${base}/open`, (ctx) => openNotifications(ctx, inbox), forUser)
    .route('GET', `${base}/:id`, (ctx) => getNotification(ctx, inbox), readForUser)
    .route('DELETE', `${base}/:id`, (ctx) => deleteNotification(ctx, inbox), forUser)
    .route('POST', `${base}/:id/actions/:buttonId`, (ctx) => pressButton(ctx, inbox), forUser)
    .route('POST', '/apps/:appId/auth', (ctx) => authorizeChannel(ctx, userClaims(ctx)), userOnly)
    .route('POST', '/apps/:appId/user-auth', (ctx) => authenticateUserSignin(ctx, userClaims(ctx)), userOnly);
}
