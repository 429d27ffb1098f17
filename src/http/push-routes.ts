/** Registers the push routes (design.md §6). */
import type { AppRegistry } from '../config/apps.js';
import type { PushService } from '../push/push-service.js';
import type { RequestContext } from './context.js';
import type { HttpApi } from './http-api.js';
import { appOf } from './pusher-signature.js';
import { addDevice, getPreferences, listDevices, pushClick, putPreferences, removeDevice, vapidPublicKey } from './routes/push.js';
import { authenticateForUser } from './user-auth.js';

/** Adds the device, preference, VAPID key and click routes under `/apps/:appId`. */
export function registerPushRoutes(api: HttpApi, push: PushService, apps: AppRegistry, now: () => number): void {
  const forUser = { auth: (ctx: RequestContext) => authenticateForUser(ctx, apps, now()) };
  const readForUser = { ...forUser, limit: 'reads' } as const;
  const appOnly = { auth: (ctx: RequestContext) => void (ctx.app = appOf(ctx, apps)) };
  const user = '/apps/:appId/users/:userId';
  api
    .route('GET', '/apps/:appId/push/vapid-public-key', (ctx) => vapidPublicKey(ctx, push), appOnly)
    .route('POST', '/apps/:appId/push/clicks', (ctx) => pushClick(ctx, push), appOnly)
    .route('POST', `${user}/devices`, (ctx) => addDevice(ctx, push), forUser)
    .route('GET', `${user}/devices`, (ctx) => listDevices(ctx, push), readForUser)
    .route('DELETE', `${user}/devices/:id`, (ctx) => removeDevice(ctx, push), forUser)
    .route('GET', `${user}/preferences`, (ctx) => getPreferences(ctx, push), readForUser)
    .route('PUT', `${user}/preferences`, (ctx) => putPreferences(ctx, push), forUser);
}
