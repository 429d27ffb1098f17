/** `open` and `delete` of one or a few notifications, which both stores answer through their `bulk`. */
import type { Counts, InboxStore } from './store.js';

type Bulk = Pick<InboxStore, 'bulk'>;

/** Opens the given notifications (or every one); answers the ids it opened in the order asked for. */
export async function openThroughBulk(store: Bulk, appId: string, userId: string, ids: readonly string[] | 'all', now: Date): Promise<{ opened: string[]; counts: Counts }> {
  const result = await store.bulk(appId, userId, 'open', ids === 'all' ? { filter: { archived: 'include', snoozed: 'include' } } : { ids }, now);
  const changed = new Set(result.changes.map((change) => change.id));
  const opened = ids === 'all' ? result.changes.map((change) => change.id) : [...new Set(ids)].filter((id) => changed.has(id));
  return { opened, counts: result.counts };
}

/** Deletes one notification; null when the user has no such notification. */
export async function deleteThroughBulk(store: Bulk, appId: string, userId: string, id: string, now: Date): Promise<Counts | null> {
  const result = await store.bulk(appId, userId, 'delete', { ids: [id] }, now);
  return result.changes.length === 0 ? null : result.counts;
}
