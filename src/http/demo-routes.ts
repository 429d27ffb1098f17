/**
 * The demo inbox (`/demo`, on with `--demo` and by default with the published default app): the
 * page, a token endpoint and a push endpoint, registered only when the demo is on. The demo's users
 * are the `demo-*` user ids of one app, so turning the demo on never opens anyone else's inbox.
 */
import type { App, AppRegistry } from '../config/apps.js';
import { inboxChannel } from '../config/apps.js';
import { DEFAULT_APP } from '../config/server-config.js';
import type { Inbox } from '../inbox/inbox.js';
import { parsePushRequest } from '../inbox/push-request.js';
import { bearerToken, signUserToken, verifyUserToken, type UserClaims } from '../inbox/user-tokens.js';
import { badRequest, forbidden, notFound, unauthorized } from '../protocol/errors.js';
import { jsonBody, type RequestContext } from './context.js';
import type { HttpApi } from './http-api.js';
import { builtPage, registerWebAssets } from './web-assets.js';

/** Every demo user id starts with this. */
export const DEMO_USER_PREFIX = 'demo-';
/** Lifetime of a demo user token, in seconds. */
export const DEMO_TOKEN_SECONDS = 3600;
/** Most recipients of one demo push. */
const MAX_DEMO_RECIPIENTS = 10;
const DEMO_NAME = /^[A-Za-z0-9_-]{1,40}$/;

/** Which app the demo runs on. */
export interface DemoOptions {
  /** Default: the app with the published default secret, else the first app. */
  readonly appId?: string;
}

export interface DemoRouteDeps {
  readonly apps: AppRegistry;
  readonly inbox: Inbox;
  readonly now: () => number;
}

/** The demo user id of a name typed on the page: `alice` → `demo-alice` (a `demo-` id is kept as is). */
export function demoUserId(name: unknown): string {
  if (typeof name !== 'string' || !DEMO_NAME.test(name)) throw badRequest('"user_id" must be 1-40 characters of A-Z a-z 0-9 _ -');
  return name.startsWith(DEMO_USER_PREFIX) ? name : `${DEMO_USER_PREFIX}${name}`;
}

/** The app the demo uses. */
export function pickDemoApp(apps: AppRegistry, appId: string | undefined): App | undefined {
  if (appId !== undefined) return apps.findById(appId);
  const all = apps.all();
  return all.find((app) => app.secret === DEFAULT_APP.secret) ?? all[0];
}

/** Adds `/demo`, `POST /demo/token` and `POST /demo/push`. */
export function registerDemoRoutes(api: HttpApi, deps: DemoRouteDeps, options: DemoOptions = {}): void {
  const { apps, inbox, now } = deps;
  const appId = options.appId ?? pickDemoApp(apps, undefined)?.id;
  const demoApp = (): App => {
    const app = appId === undefined ? undefined : apps.findById(appId);
    if (!app || !app.enabled) throw notFound('The demo app is not configured');
    return app;
  };
  const claims = new WeakMap<RequestContext, UserClaims>();

  api
    .route(
      'POST',
      '/demo/token',
      async (ctx) => {
        const app = demoApp();
        const userId = demoUserId(jsonBody(ctx).user_id);
        const token = await signUserToken({ appSecret: app.secret, userId, expiresInSeconds: DEMO_TOKEN_SECONDS, demo: true });
        return {
          token,
          user_id: userId,
          app_id: app.id,
          app_key: app.key,
          channel: inboxChannel(app, userId),
          event: app.inboxEventName,
          expires_in: DEMO_TOKEN_SECONDS,
        };
      },
      { auth: 'none', bodyLimit: 4 * 1024 },
    )
    .route(
      'POST',
      '/demo/push',
      async (ctx) => {
        const app = ctx.app!;
        const sender = claims.get(ctx)!;
        const { to, notification } = jsonBody(ctx);
        const names = to === undefined ? [sender.userId] : to;
        if (!Array.isArray(names) || names.length === 0 || names.length > MAX_DEMO_RECIPIENTS) {
          throw badRequest(`"to" must be an array of 1-${MAX_DEMO_RECIPIENTS} demo user names`);
        }
        const userIds = [...new Set(names.map(demoUserId))];
        // The page cannot push itself (the demo app keeps allow_client_push off): Herald pushes for it.
        const request = parsePushRequest({ user_ids: userIds, notification }, app.maxEventPayloadBytes);
        const result = await inbox.push(app, request, sender.userId);
        return { notifications: result.rows.map((row) => ({ id: row.id, user_id: row.userId, seq: row.seq })) };
      },
      {
        auth: async (ctx) => {
          const app = demoApp();
          const token = bearerToken(ctx.req.headers.authorization);
          if (!token) throw unauthorized('Send "Authorization: Bearer <demo token>" (from POST /demo/token)');
          const verified = await verifyUserToken(token, app.secret, now());
          if (!verified.userId.startsWith(DEMO_USER_PREFIX)) throw forbidden('Only demo users may push from the demo');
          ctx.app = app;
          ctx.caller = { kind: 'user', claims: verified };
          claims.set(ctx, verified);
        },
        bodyLimit: 64 * 1024,
        limit: 'events',
      },
    );

  registerWebAssets(api, 'demo', builtPage('demo'));
}
