/** Admin API about live state: session, overview, channels, presence members, the event console. */
import type { AppRegistry } from '../../config/apps.js';
import type { AdminMonitor } from '../../admin/monitor.js';
import { channelKind, channelNameProblem, type ChannelKind } from '../../protocol/channels.js';
import { badRequest } from '../../protocol/errors.js';
import type { Realtime } from '../../realtime/realtime.js';
import type { RequestContext } from '../context.js';
import { appsInScope, type AdminScope } from './admin-auth.js';

/** Most channels one listing answers. */
const MAX_CHANNELS = 1_000;
const DEFAULT_CHANNELS = 200;

/** What the admin routes read. */
export interface AdminDeps {
  readonly apps: AppRegistry;
  readonly realtime: Realtime;
  readonly monitor: AdminMonitor;
}

/** `GET /admin/session`: who signed in and which apps they reach. */
export function session(scope: AdminScope, apps: AppRegistry): unknown {
  return {
    scope: scope.kind,
    apps: appsInScope(scope, apps).map((app) => ({ id: app.id, name: app.name, enabled: app.enabled })),
  };
}

/** `GET /admin/apps/:appId/overview`: connections (this node), channels (cluster), events per second, the last minute. */
export async function overview(ctx: RequestContext, scope: AdminScope, deps: AdminDeps): Promise<unknown> {
  const app = ctx.app!;
  const channels = await deps.realtime.adapter.channels(app.id);
  let presence = 0;
  for (const name of channels.keys()) if (channelKind(name).presence) presence++;
  const series = deps.monitor.seriesOf(app.id);
  const totals = deps.monitor.totalsOf(app.id);
  const result: Record<string, unknown> = {
    app: { id: app.id, name: app.name, enabled: app.enabled },
    connections: deps.monitor.connectionsOf(app.id),
    channels: channels.size,
    presence_channels: presence,
    events_per_second: series.events[series.events.length - 1] ?? 0,
    totals: {
      connections_opened: totals.connectionsOpened,
      connections_closed: totals.connectionsClosed,
      events_published: totals.published,
      client_events: totals.clientEvents,
    },
    series: { t: series.t, connections: series.connections, events: series.events },
    console_readers: deps.monitor.readersOf(app.id),
  };
  if (scope.kind === 'admin') {
    const node = deps.monitor.nodeRatesNow();
    result.node = { connections: node.connections, messages_in_per_second: node.messagesInPerSecond, messages_out_per_second: node.messagesOutPerSecond };
  }
  return result;
}

/** A short name of a channel's kind, for the dashboard. */
export function kindName(kind: ChannelKind): string {
  if (kind.serverToUser) return 'user';
  if (kind.encrypted) return 'encrypted';
  if (kind.presence) return 'presence';
  if (kind.authorised) return 'private';
  return 'public';
}

/** `GET /admin/apps/:appId/channels?prefix=&limit=`: occupied channels by name, with counts. */
export async function channels(ctx: RequestContext, deps: AdminDeps): Promise<unknown> {
  const app = ctx.app!;
  const prefix = ctx.query.get('prefix') ?? '';
  const limitText = ctx.query.get('limit');
  let limit = DEFAULT_CHANNELS;
  if (limitText !== null) {
    if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_CHANNELS) throw badRequest(`"limit" must be an integer from 1 to ${MAX_CHANNELS}`);
    limit = Number(limitText);
  }
  const all = await deps.realtime.adapter.channels(app.id);
  const names = [...all.keys()].filter((name) => name.startsWith(prefix)).sort();
  return {
    channels: names.slice(0, limit).map((name) => {
      const stats = all.get(name)!;
      const kind = channelKind(name);
      return {
        name,
        type: kindName(kind),
        cache: kind.cache,
        subscription_count: stats.subscriptionCount,
        user_count: kind.presence ? stats.userCount : null,
      };
    }),
    total: names.length,
  };
}

/** `GET /admin/apps/:appId/channels/:channel/members`: a presence channel's members with their info. */
export async function members(ctx: RequestContext, deps: AdminDeps): Promise<unknown> {
  const name = ctx.params.channel ?? '';
  const problem = channelNameProblem(name);
  if (problem) throw badRequest(`Invalid channel name: ${problem}`);
  if (!channelKind(name).presence) throw badRequest('Members are only kept for presence channels');
  const list = await deps.realtime.adapter.presenceMembers(ctx.app!.id, name);
  return { members: list.map((member) => ({ id: member.userId, info: member.userInfo ?? null })) };
}

/** `GET /admin/apps/:appId/stream`: the app's events as Server-Sent Events, until the reader leaves. */
export function stream(ctx: RequestContext, deps: AdminDeps): Promise<void> {
  return deps.monitor.stream(ctx.app!.id, ctx.res);
}
