/** `POST /apps/:appId/users/:userId/terminate_connections`. */
import { badRequest } from '../../protocol/errors.js';
import type { Realtime } from '../../realtime/realtime.js';
import type { RequestContext } from '../context.js';

/** Closes every connection signed in as the user, on every node. */
export function terminateConnections(ctx: RequestContext, realtime: Realtime): unknown {
  const userId = ctx.params.userId ?? '';
  if (userId.length === 0 || userId.length > 200) throw badRequest('User id must be 1 to 200 characters');
  realtime.terminateUser(ctx.app!, userId);
  return {};
}
