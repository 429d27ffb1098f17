/** Authentication of per-user routes: a Pusher signature (the app's backend) or a user's bearer token. */
import type { AppRegistry } from '../config/apps.js';
import { bearerToken, verifyUserToken, type UserClaims } from '../inbox/user-tokens.js';
import { forbidden, unauthorized } from '../protocol/errors.js';
import type { Caller, RequestContext } from './context.js';
import { appOf, hasPusherSignature, verifyPusherSignature } from './pusher-signature.js';

/** Authenticates the caller of an app route by signature or bearer token; sets `ctx.app` and `ctx.caller`. */
export async function authenticateCaller(ctx: RequestContext, apps: AppRegistry, nowMs: number): Promise<Caller> {
  const app = appOf(ctx, apps);
  ctx.app = app;
  if (hasPusherSignature(ctx)) {
    verifyPusherSignature(ctx, app, nowMs);
    return (ctx.caller = { kind: 'backend' });
  }
  const header = ctx.req.headers.authorization;
  const token = bearerToken(header);
  if (!token) {
    throw unauthorized(header ? 'Authorization header must be "Bearer <user token>"' : 'Sign the request (Pusher signature) or send "Authorization: Bearer <user token>"');
  }
  return (ctx.caller = { kind: 'user', claims: await verifyUserToken(token, app.secret, nowMs) });
}

/** Authenticates a route about `:userId`: the backend, or that very user. Another user's inbox is 403. */
export async function authenticateForUser(ctx: RequestContext, apps: AppRegistry, nowMs: number): Promise<void> {
  const caller = await authenticateCaller(ctx, apps, nowMs);
  if (caller.kind === 'user' && caller.claims.userId !== ctx.params.userId) {
    throw forbidden("A user token only reaches its own user's inbox");
  }
}

/** Authenticates a route only a user token may call (the built-in channel and sign-in auth); returns the claims. */
export async function authenticateUser(ctx: RequestContext, apps: AppRegistry, nowMs: number): Promise<UserClaims> {
  const app = appOf(ctx, apps);
  ctx.app = app;
  const token = bearerToken(ctx.req.headers.authorization);
  if (!token) throw unauthorized('Send "Authorization: Bearer <user token>"');
  const claims = await verifyUserToken(token, app.secret, nowMs);
  ctx.caller = { kind: 'user', claims };
  return claims;
}

/** The claims of a caller authenticated by `authenticateUser`. */
export function userClaims(ctx: RequestContext): UserClaims {
  if (ctx.caller?.kind !== 'user') throw unauthorized('Send "Authorization: Bearer <user token>"');
  return ctx.caller.claims;
}
