/** The inbox routes of design.md §3 and §5: push, list, count, counts, bulk, changes, open, delete, button action. */
import { filterFromQuery, parseBulk, parseViews } from '../../inbox/filter-request.js';
import { isValidUserId, parsePushRequest } from '../../inbox/push-request.js';
import { toNotificationJson } from '../../inbox/notification-json.js';
import { countsJson, type Inbox } from '../../inbox/inbox.js';
import type { ClientPushLimits } from '../../limits/client-push-limits.js';
import { badRequest, Errors, forbidden, notFound } from '../../protocol/errors.js';
import { DuplicateNotificationError } from '../../store/store.js';
import { jsonBody, type RequestContext } from '../context.js';

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;
const MAX_OPEN_IDS = 500;
const DEFAULT_CHANGES = 100;
const MAX_CHANGES = 1000;

function userIdParam(ctx: RequestContext): string {
  const userId = ctx.params.userId ?? '';
  if (!isValidUserId(userId)) throw badRequest('User id must be 1-200 characters without control characters');
  return userId;
}

function seqParam(ctx: RequestContext, name: string): number | undefined {
  const value = ctx.query.get(name);
  if (value === null) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw badRequest(`"${name}" must be a non-negative integer`);
  return Number(value);
}

/**
 * `POST /apps/:appId/notifications`: answers after the rows are committed, then delivers. A push
 * with a user token (client push) is held to the app's per-user limits and may not name the
 * notification id, so no user can take an id the backend will use.
 */
export async function pushNotifications(ctx: RequestContext, inbox: Inbox, clientPush: ClientPushLimits | null): Promise<unknown> {
  const app = ctx.app!;
  const caller = ctx.caller;
  const body = jsonBody(ctx);
  let senderId: string | null = null;
  if (caller?.kind === 'user') {
    if (caller.claims.demo) throw forbidden('A demo token cannot push through the app API; the demo page pushes with POST /demo/push');
    if (!app.allowClientPush || clientPush === null) throw forbidden('This app does not allow pushes with a user token (allow_client_push is off)');
    senderId = caller.claims.userId;
    const notification = body.notification;
    if (typeof notification === 'object' && notification !== null && 'id' in notification && (notification as { id: unknown }).id != null) {
      throw badRequest('"notification.id" cannot be chosen with a user token: Herald names client-pushed notifications (send "idempotency_key" to retry safely)');
    }
  }
  const request = parsePushRequest(body, app.maxEventPayloadBytes, inbox.now());
  if (senderId !== null) clientPush!.take(app, senderId, request.userIds.length);
  try {
    const result = await inbox.push(app, request, senderId);
    return {
      notifications: result.rows.map((row) => ({ id: row.id, user_id: row.userId, seq: row.seq })),
      ...(result.replayed ? { replayed: true } : {}),
    };
  } catch (error) {
    if (error instanceof DuplicateNotificationError) throw Errors.conflict(error.message);
    throw error;
  }
}

/** `GET /users/:userId/notifications`. */
export async function listNotifications(ctx: RequestContext, inbox: Inbox): Promise<unknown> {
  const userId = userIdParam(ctx);
  const beforeSeq = seqParam(ctx, 'before_seq');
  const afterSeq = seqParam(ctx, 'after_seq');
  if (beforeSeq !== undefined && afterSeq !== undefined) throw badRequest('Use either "before_seq" or "after_seq", not both');
  const limit = limitParam(ctx, DEFAULT_PAGE, MAX_PAGE);
  const filter = filterFromQuery(ctx.query);
  const result = await inbox.list(ctx.app!, userId, { beforeSeq, afterSeq, limit, unreadOnly: false, filter });
  return { notifications: result.notifications.map(toNotificationJson), has_more: result.hasMore };
}

function limitParam(ctx: RequestContext, byDefault: number, max: number): number {
  const limitText = ctx.query.get('limit');
  if (limitText === null) return byDefault;
  if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > max) throw badRequest(`"limit" must be an integer from 1 to ${max}`);
  return Number(limitText);
}

/** `GET /users/:userId/notifications/count`: `{ unseen, unread, total, last_seq }` of the filter (default: live). */
export async function countNotifications(ctx: RequestContext, inbox: Inbox): Promise<unknown> {
  const userId = userIdParam(ctx);
  return countsJson(await inbox.count(ctx.app!, userId, filterFromQuery(ctx.query)));
}

/** `POST /users/:userId/notifications/counts`: several views' counts in one snapshot. */
export async function countViews(ctx: RequestContext, inbox: Inbox): Promise<unknown> {
  const userId = userIdParam(ctx);
  const result = await inbox.countViews(ctx.app!, userId, parseViews(jsonBody(ctx)));
  return { views: result.views, last_seq: result.lastSeq };
}

/** `POST /users/:userId/notifications/bulk`. */
export async function bulkAction(ctx: RequestContext, inbox: Inbox): Promise<unknown> {
  const userId = userIdParam(ctx);
  const request = parseBulk(jsonBody(ctx), inbox.now());
  const result = await inbox.bulk(ctx.app!, userId, request.action, {
    ids: request.ids,
    filter: request.filter,
    upToSeq: request.upToSeq,
    until: request.until,
  });
  return { affected: result.changes.length, counts: countsJson(result.counts), change_seq: result.changeSeq };
}

/** `GET /users/:userId/notifications/changes?after=N&limit=`: the change feed, or 410 `{ code: "resync" }`. */
export async function listChanges(ctx: RequestContext, inbox: Inbox): Promise<unknown> {
  const userId = userIdParam(ctx);
  // Without `after`: no changes, just the cursor to start from (a device that just loaded its list).
  const after = seqParam(ctx, 'after') ?? null;
  const limit = limitParam(ctx, DEFAULT_CHANGES, MAX_CHANGES);
  const page = await inbox.changes(ctx.app!, userId, after, limit);
  if (page.kind === 'resync') {
    throw Errors.resync(`Change cursor ${after} is older than the changes kept (or unknown): load the inbox again`);
  }
  return {
    changes: page.changes.map((change) => ({
      change_seq: change.changeSeq,
      id: change.id,
      deleted: change.deleted,
      ...(change.reason === 'expired' ? { reason: 'expired' } : {}),
      ...(change.notification ? { notification: toNotificationJson(change.notification) } : {}),
    })),
    has_more: page.hasMore,
    change_seq: page.changeSeq,
  };
}

/** `GET /users/:userId/notifications/:id`. */
export async function getNotification(ctx: RequestContext, inbox: Inbox): Promise<unknown> {
  const row = await inbox.get(ctx.app!, userIdParam(ctx), ctx.params.id ?? '');
  if (!row) throw notFound(`No notification "${ctx.params.id}" for this user`);
  return toNotificationJson(row);
}

/** `POST /users/:userId/notifications/open` with `{ ids }` or `{ all: true }`. */
export async function openNotifications(ctx: RequestContext, inbox: Inbox): Promise<unknown> {
  const userId = userIdParam(ctx);
  const { ids, all, ...rest } = jsonBody(ctx);
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw badRequest(`"${unknown}" is not an open field (ids, all)`);
  if (all !== undefined && all !== false && ids !== undefined) throw badRequest('Send either "ids" or "all": true, not both');
  let target: string[] | 'all';
  if (all === true) target = 'all';
  else if (all !== undefined && all !== false) throw badRequest('"all" must be true (or send "ids")');
  else if (!Array.isArray(ids) || ids.length === 0) throw badRequest('Send "ids" (a non-empty array of notification ids) or "all": true');
  else if (ids.length > MAX_OPEN_IDS) throw badRequest(`"ids" has ${ids.length} ids; the limit is ${MAX_OPEN_IDS}`);
  else if (!ids.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 128)) throw badRequest('"ids" must be notification id strings');
  else target = [...new Set(ids as string[])];
  const result = await inbox.open(ctx.app!, userId, target!);
  return { opened: result.opened, unread: result.counts.unread, total: result.counts.total, last_seq: result.counts.lastSeq };
}

/** `DELETE /users/:userId/notifications/:id`. */
export async function deleteNotification(ctx: RequestContext, inbox: Inbox): Promise<unknown> {
  const counts = await inbox.delete(ctx.app!, userIdParam(ctx), ctx.params.id ?? '');
  if (!counts) throw notFound(`No notification "${ctx.params.id}" for this user`);
  return { deleted: true, unread: counts.unread, total: counts.total, last_seq: counts.lastSeq };
}

/** `POST /users/:userId/notifications/:id/actions/:buttonId`. */
export async function pressButton(ctx: RequestContext, inbox: Inbox): Promise<unknown> {
  const app = ctx.app!;
  const userId = userIdParam(ctx);
  const id = ctx.params.id ?? '';
  const buttonId = ctx.params.buttonId ?? '';
  const row = await inbox.get(app, userId, id);
  if (!row) throw notFound(`No notification "${id}" for this user`);
  if (!row.buttons.some((button) => button.id === buttonId)) throw notFound(`Notification "${id}" has no button "${buttonId}"`);
  await inbox.recordAction(app, userId, id, buttonId);
  return { recorded: true };
}
