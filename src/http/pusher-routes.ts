/** The Pusher HTTP API routes, plus `/health` and `/ready`. */
import { jsonBody, Reply, type RequestContext } from './context.js';
import type { HttpApi } from './http-api.js';
import type { Realtime } from '../realtime/realtime.js';
import { channelInfo, channelUsers, listChannels } from './routes/channels.js';
import { triggerBatch, triggerEvents } from './routes/events.js';
import { terminateConnections } from './routes/users.js';

/** A readiness check of one dependency. */
export type ReadinessCheck = () => Promise<boolean> | boolean;

/** Registers the Pusher-compatible routes under `/apps/:appId`. */
export function registerPusherRoutes(api: HttpApi, realtime: Realtime): void {
  const signed = { auth: 'pusher' } as const;
  const read = { auth: 'pusher', limit: 'reads' } as const;
  api
    .route('POST', '/apps/:appId/events', (ctx) => triggerEvents(ctx, realtime), { ...signed, limit: 'events', cost: eventsCost })
    .route('POST', '/apps/:appId/batch_events', (ctx) => triggerBatch(ctx, realtime), { ...signed, limit: 'events', cost: batchCost })
    .route('GET', '/apps/:appId/channels', (ctx) => listChannels(ctx, realtime), read)
    .route('GET', '/apps/:appId/channels/:channel', (ctx) => channelInfo(ctx, realtime), read)
    .route('GET', '/apps/:appId/channels/:channel/users', (ctx) => channelUsers(ctx, realtime), read)
    .route('POST', '/apps/:appId/users/:userId/terminate_connections', (ctx) => terminateConnections(ctx, realtime), signed);
}

/** A trigger is one event per channel it names, as Pusher counts messages. */
function eventsCost(ctx: RequestContext): number {
  const { channels } = jsonBody(ctx);
  return Array.isArray(channels) ? Math.max(1, channels.length) : 1;
}

/** A batch is one event per entry. */
function batchCost(ctx: RequestContext): number {
  const { batch } = jsonBody(ctx);
  return Array.isArray(batch) ? Math.max(1, batch.length) : 1;
}

/** `/health` (the process answers) and `/ready` (every dependency answers). */
export function registerHealthRoutes(api: HttpApi, checks: Record<string, ReadinessCheck>): void {
  api.route('GET', '/health', () => ({ status: 'ok' }), { auth: 'none' });
  api.route(
    'GET',
    '/ready',
    async () => {
      const results: Record<string, boolean> = {};
      for (const [name, check] of Object.entries(checks)) {
        try {
          results[name] = await check();
        } catch {
          results[name] = false;
        }
      }
      const ready = Object.values(results).every(Boolean);
      return new Reply(ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', checks: results });
    },
    { auth: 'none' },
  );
}
