/**
 * The SQL of inbox v2's filters and bulk actions, written once for both stores: the tables share
 * their column names, and a dialect says how each database spells booleans, lists and tags.
 */
import type { BulkAction, InboxFilter } from './store.js';

/** How one database spells what differs. `param` binds a value and returns its placeholder. */
export interface SqlDialect {
  /** `column` is true (or false). */
  flag(column: string, value: boolean): string;
  /** The literal of a boolean to SET. */
  bool(value: boolean): string;
  /** `column` is one of `values`. */
  inList(column: string, values: readonly string[], param: (value: unknown) => string): string;
  /** The row has at least one of `tags`. */
  anyTag(tags: readonly string[], param: (value: unknown) => string): string;
}

/** Rows that have not expired at `now`. */
export function notExpired(param: (value: unknown) => string, nowMs: number): string {
  return `(expires_at_ms IS NULL OR expires_at_ms > ${param(nowMs)})`;
}

/**
 * The conditions of a filter (without the user and visibility, which the caller adds), joined by AND.
 * Expired rows are always left out.
 */
export function filterSql(dialect: SqlDialect, filter: InboxFilter, nowMs: number, param: (value: unknown) => string): string {
  const parts = [notExpired(param, nowMs)];
  const archived = filter.archived ?? 'exclude';
  if (archived !== 'include') parts.push(dialect.flag('archived', archived === 'only'));
  const snoozed = filter.snoozed ?? 'exclude';
  if (snoozed === 'exclude') parts.push(`(snoozed_until_ms IS NULL OR snoozed_until_ms <= ${param(nowMs)})`);
  else if (snoozed === 'only') parts.push(`snoozed_until_ms > ${param(nowMs)}`);
  switch (filter.status ?? 'all') {
    case 'unseen':
      parts.push(dialect.flag('seen', false));
      break;
    case 'unread':
      parts.push(dialect.flag('opened', false));
      break;
    case 'read':
      parts.push(dialect.flag('opened', true));
      break;
    case 'all':
      break;
  }
  if (filter.category !== undefined) parts.push(dialect.inList('category', filter.category, param));
  if (filter.tags !== undefined) parts.push(dialect.anyTag(filter.tags, param));
  if (filter.tenant !== undefined) parts.push(`tenant = ${param(filter.tenant)}`);
  if (filter.priority !== undefined) parts.push(dialect.inList('priority', filter.priority, param));
  return parts.join(' AND ');
}

/** A bulk action's SET clause and the condition of the rows it would change. */
export function actionSql(
  dialect: SqlDialect,
  action: Exclude<BulkAction, 'delete'>,
  nowMs: number,
  untilMs: number | null,
  param: (value: unknown) => string,
): { set: string; changes: string } {
  switch (action) {
    case 'seen':
      return { set: `seen = ${dialect.bool(true)}, seen_at_ms = ${param(nowMs)}`, changes: dialect.flag('seen', false) };
    case 'open':
      return {
        set: `opened = ${dialect.bool(true)}, opened_at_ms = ${param(nowMs)}, seen = ${dialect.bool(true)}, seen_at_ms = coalesce(seen_at_ms, ${param(nowMs)})`,
        changes: dialect.flag('opened', false),
      };
    case 'unopen':
      return { set: `opened = ${dialect.bool(false)}, opened_at_ms = NULL`, changes: dialect.flag('opened', true) };
    case 'archive':
      return { set: `archived = ${dialect.bool(true)}, archived_at_ms = ${param(nowMs)}`, changes: dialect.flag('archived', false) };
    case 'unarchive':
      return { set: `archived = ${dialect.bool(false)}, archived_at_ms = NULL`, changes: dialect.flag('archived', true) };
    case 'snooze':
      return { set: `snoozed_until_ms = ${param(untilMs)}`, changes: `(snoozed_until_ms IS NULL OR snoozed_until_ms <> ${param(untilMs)})` };
    case 'unsnooze':
      return { set: 'snoozed_until_ms = NULL', changes: 'snoozed_until_ms IS NOT NULL' };
  }
}

/**
 * The filter a bulk action uses when given none: the live inbox, except that un-archiving and
 * un-snoozing by default look at the archived and snoozed notifications they can change.
 */
export function defaultBulkFilter(action: BulkAction, filter: InboxFilter | undefined): InboxFilter {
  const base = filter ?? {};
  if (action === 'unarchive' && base.archived === undefined) return { ...base, archived: 'only' };
  if (action === 'unsnooze' && base.snoozed === undefined) return { ...base, snoozed: 'only' };
  return base;
}
