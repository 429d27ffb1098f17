/** `GET /apps/:appId/channels`, `/channels/:name` and `/channels/:name/users`. */
import { channelKind, channelNameProblem } from '../../protocol/channels.js';
import { badRequest } from '../../protocol/errors.js';
import { parseInfo } from '../../protocol/trigger.js';
import type { Realtime } from '../../realtime/realtime.js';
import type { RequestContext } from '../context.js';

function channelParam(ctx: RequestContext): string {
  const name = ctx.params.channel ?? '';
  const problem = channelNameProblem(name);
  if (problem) throw badRequest(`Invalid channel name: ${problem}`);
  return name;
}

/** `GET /channels`: occupied channels, optionally filtered by prefix, with counts on request. */
export async function listChannels(ctx: RequestContext, realtime: Realtime): Promise<unknown> {
  const app = ctx.app!;
  const prefix = ctx.query.get('filter_by_prefix') ?? '';
  const info = parseInfo(ctx.query.get('info'), ['user_count', 'subscription_count']);
  if (info.has('user_count') && !prefix.startsWith('presence-')) {
    throw badRequest('info=user_count is only available with filter_by_prefix=presence-');
  }
  const channels: [string, Record<string, number>][] = [];
  for (const [name, stats] of await realtime.adapter.channels(app.id)) {
    if (!name.startsWith(prefix) || name.startsWith('#')) continue;
    const entry: Record<string, number> = {};
    if (info.has('user_count')) entry.user_count = stats.userCount;
    if (info.has('subscription_count')) entry.subscription_count = stats.subscriptionCount;
    channels.push([name, entry]);
  }
  // fromEntries defines own keys, so a channel named "__proto__" is listed, not swallowed by the setter.
  return { channels: Object.fromEntries(channels) };
}

/** `GET /channels/:channel`: whether it is occupied, and counts or cache on request. */
export async function channelInfo(ctx: RequestContext, realtime: Realtime): Promise<unknown> {
  const app = ctx.app!;
  const name = channelParam(ctx);
  const kind = channelKind(name);
  const info = parseInfo(ctx.query.get('info'), ['user_count', 'subscription_count', 'cache']);
  if (info.has('user_count') && !kind.presence) throw badRequest('info=user_count is only available for presence channels');
  if (info.has('cache') && !kind.cache) throw badRequest('info=cache is only available for cache channels');
  const stats = await realtime.adapter.channelStats(app.id, name);
  const result: Record<string, unknown> = { occupied: stats.subscriptionCount > 0 };
  if (info.has('user_count')) result.user_count = stats.userCount;
  if (info.has('subscription_count')) result.subscription_count = stats.subscriptionCount;
  if (info.has('cache')) {
    const cached = await realtime.adapter.cacheGet(app.id, name);
    result.cache = cached ? { event: cached.event, data: cached.data, ttl: Math.ceil(cached.ttlMs / 1000) } : null;
  }
  return result;
}

/** `GET /channels/:channel/users`: the members of a presence channel. */
export async function channelUsers(ctx: RequestContext, realtime: Realtime): Promise<unknown> {
  const app = ctx.app!;
  const name = channelParam(ctx);
  if (!channelKind(name).presence) throw badRequest('Users are only available for presence channels');
  const members = await realtime.adapter.presenceMembers(app.id, name);
  return { users: members.map((member) => ({ id: member.userId })) };
}
