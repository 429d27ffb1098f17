/** Validation of inbox v2 filters (design.md §5), from a query string or a JSON body. Pure; every error names its field. */
import { badRequest } from '../protocol/errors.js';
import { BULK_ACTIONS, PRIORITIES, type BulkAction, type InboxFilter, type Priority } from '../store/store.js';
import { parseDateField } from './push-request.js';

/** Most views of one counts call. */
export const MAX_VIEWS = 20;
/** Most ids of one bulk call. */
export const MAX_BULK_IDS = 500;
const FILTER_KEYS = ['status', 'archived', 'snoozed', 'category', 'tags', 'tenant', 'priority'] as const;
const STATUSES = ['unseen', 'unread', 'read', 'all'] as const;
const INCLUSION = ['exclude', 'include', 'only'] as const;
const MAX_LIST = 50;

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw badRequest(`"${field}" must be one of ${allowed.join(', ')}`);
  return value as T;
}

function textList(value: readonly unknown[], field: string, max: number): string[] {
  if (value.length === 0 || value.length > MAX_LIST) throw badRequest(`"${field}" must name 1-${MAX_LIST} values`);
  return value.map((item, i) => {
    if (typeof item !== 'string' || item.length === 0 || item.length > max) throw badRequest(`"${field}[${i}]" must be a string of 1-${max} characters`);
    return item;
  });
}

/** Builds a filter from raw values (strings split by comma for a query; arrays for JSON). */
function buildFilter(raw: Partial<Record<(typeof FILTER_KEYS)[number], unknown>>, prefix: string): InboxFilter {
  const filter: {
    status?: InboxFilter['status'];
    archived?: InboxFilter['archived'];
    snoozed?: InboxFilter['snoozed'];
    category?: string[];
    tags?: string[];
    tenant?: string;
    priority?: Priority[];
  } = {};
  if (raw.status !== undefined) filter.status = oneOf(raw.status, STATUSES, `${prefix}status`);
  if (raw.archived !== undefined) filter.archived = oneOf(raw.archived, INCLUSION, `${prefix}archived`);
  if (raw.snoozed !== undefined) filter.snoozed = oneOf(raw.snoozed, INCLUSION, `${prefix}snoozed`);
  if (raw.category !== undefined) filter.category = textList(asList(raw.category, `${prefix}category`), `${prefix}category`, 64);
  if (raw.tags !== undefined) filter.tags = textList(asList(raw.tags, `${prefix}tags`), `${prefix}tags`, 64);
  if (raw.tenant !== undefined) {
    if (typeof raw.tenant !== 'string' || raw.tenant.length === 0 || raw.tenant.length > 200) throw badRequest(`"${prefix}tenant" must be a string of 1-200 characters`);
    filter.tenant = raw.tenant;
  }
  if (raw.priority !== undefined) {
    filter.priority = asList(raw.priority, `${prefix}priority`).map((p, i) => oneOf(p, PRIORITIES, `${prefix}priority[${i}]`));
    if (filter.priority.length === 0) throw badRequest(`"${prefix}priority" must name at least one priority`);
  }
  return filter;
}

function asList(value: unknown, field: string): unknown[] {
  if (typeof value === 'string') return value.split(',');
  if (Array.isArray(value)) return value;
  throw badRequest(`"${field}" must be an array of strings (or a comma-separated string)`);
}

/** The filter of a list or count query string: `status`, `archived`, `snoozed`, `category=a,b`, `tags=x,y`, `tenant`, `priority=high,critical`. */
export function filterFromQuery(query: URLSearchParams): InboxFilter {
  const raw: Partial<Record<(typeof FILTER_KEYS)[number], unknown>> = {};
  for (const key of FILTER_KEYS) {
    const value = query.get(key);
    if (value !== null) raw[key] = value;
  }
  return buildFilter(raw, '');
}

/** A filter object of a JSON body (a view or a bulk filter); `field` names it in errors. */
export function filterFromJson(value: unknown, field: string): InboxFilter {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`"${field}" must be an object`);
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).find((key) => !(FILTER_KEYS as readonly string[]).includes(key));
  if (unknown !== undefined) throw badRequest(`"${field}.${unknown}" is not a filter field (${FILTER_KEYS.join(', ')})`);
  return buildFilter(record, `${field}.`);
}

/** `{ views: { name: filter } }` of the counts route. */
export function parseViews(body: Record<string, unknown>): Record<string, InboxFilter> {
  const { views, ...rest } = body;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw badRequest(`"${unknown}" is not a counts field (views)`);
  if (typeof views !== 'object' || views === null || Array.isArray(views)) throw badRequest('"views" must be an object of named filters');
  const entries = Object.entries(views as Record<string, unknown>);
  if (entries.length === 0 || entries.length > MAX_VIEWS) throw badRequest(`"views" must have 1-${MAX_VIEWS} views`);
  const result: Record<string, InboxFilter> = {};
  for (const [name, filter] of entries) {
    if (name.length === 0 || name.length > 64) throw badRequest('View names must be 1-64 characters');
    result[name] = filterFromJson(filter, `views.${name}`);
  }
  return result;
}

/** A validated bulk request. */
export interface BulkRequest {
  readonly action: BulkAction;
  readonly ids?: string[];
  readonly filter?: InboxFilter;
  readonly upToSeq?: number;
  readonly until?: Date;
}

/** `{ action, ids?, filter?, up_to_seq?, until? }` of the bulk route; `nowMs` checks that a snooze ends in the future. */
export function parseBulk(body: Record<string, unknown>, nowMs: number): BulkRequest {
  const { action, ids, filter, up_to_seq: upToSeq, until, ...rest } = body;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw badRequest(`"${unknown}" is not a bulk field (action, ids, filter, up_to_seq, until)`);
  const request: { action: BulkAction; ids?: string[]; filter?: InboxFilter; upToSeq?: number; until?: Date } = {
    action: oneOf(action, BULK_ACTIONS, 'action'),
  };
  if (ids !== undefined) {
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_BULK_IDS) throw badRequest(`"ids" must be an array of 1-${MAX_BULK_IDS} notification ids`);
    if (!ids.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 128)) throw badRequest('"ids" must be notification id strings');
    request.ids = [...new Set(ids as string[])];
  }
  if (filter !== undefined) request.filter = filterFromJson(filter, 'filter');
  if (upToSeq !== undefined) {
    if (typeof upToSeq !== 'number' || !Number.isSafeInteger(upToSeq) || upToSeq < 0) throw badRequest('"up_to_seq" must be a non-negative integer');
    request.upToSeq = upToSeq;
  }
  if (request.action === 'snooze') {
    const end = parseDateField(until, 'until');
    if (end === null) throw badRequest('"until" (an ISO-8601 date-time) is required to snooze');
    if (end.getTime() <= nowMs) throw badRequest('"until" must be in the future');
    request.until = end;
  } else if (until !== undefined) {
    throw badRequest('"until" is only for the snooze action');
  }
  return request;
}
