/** `POST /apps/:appId/events` and `/batch_events`: trigger events on channels. */
import type { App } from '../../config/apps.js';
import { badRequest } from '../../protocol/errors.js';
import { parseTriggerEvent, type TriggerEvent } from '../../protocol/trigger.js';
import type { Realtime } from '../../realtime/realtime.js';
import { jsonBody, type RequestContext } from '../context.js';

/** Publishes a trigger on each of its channels; answers the requested info per channel. */
async function trigger(realtime: Realtime, app: App, event: TriggerEvent): Promise<Record<string, Record<string, number>> | null> {
  for (const channel of event.channels) realtime.publish(app, channel, event.name, event.data, event.exceptSocketId);
  if (!event.info) return null;
  const channels: [string, Record<string, number>][] = [];
  for (const channel of event.channels) {
    const stats = await realtime.adapter.channelStats(app.id, channel);
    const info: Record<string, number> = {};
    if (event.info.subscriptionCount) info.subscription_count = stats.subscriptionCount;
    if (event.info.userCount && channel.startsWith('presence-')) info.user_count = stats.userCount;
    channels.push([channel, info]);
  }
  // fromEntries defines own keys, so a channel named "__proto__" is answered, not swallowed by the setter.
  return Object.fromEntries(channels);
}

/** `POST /events`. */
export async function triggerEvents(ctx: RequestContext, realtime: Realtime): Promise<unknown> {
  const app = ctx.app!;
  const event = parseTriggerEvent(jsonBody(ctx), app);
  const channels = await trigger(realtime, app, event);
  return channels ? { channels } : {};
}

/** `POST /batch_events`: all events are validated before any is published. */
export async function triggerBatch(ctx: RequestContext, realtime: Realtime): Promise<unknown> {
  const app = ctx.app!;
  const { batch } = jsonBody(ctx);
  if (!Array.isArray(batch)) throw badRequest('"batch" must be an array of events');
  if (batch.length === 0) throw badRequest('"batch" must not be empty');
  if (batch.length > app.maxBatchEvents) throw badRequest(`"batch" has ${batch.length} events; the limit is ${app.maxBatchEvents}`);
  const events = batch.map((item, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw badRequest(`"batch[${index}]" must be an object`);
    return parseTriggerEvent(item as Record<string, unknown>, app, `batch[${index}]`);
  });
  const infos: Record<string, number>[] = [];
  let anyInfo = false;
  for (const event of events) {
    const channels = await trigger(realtime, app, event);
    anyInfo ||= channels !== null;
    infos.push(channels ? (channels[event.channels[0]] ?? {}) : {});
  }
  return anyInfo ? { batch: infos } : {};
}
