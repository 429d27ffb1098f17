/**
 * What the push rule asks of a stored notification: is it still live, has the user seen it,
 * opened it, and its category and priority. The one place these predicates are read, so the rule
 * follows the inbox's states as they grow (design.md §5).
 */
import type { StoredNotification } from '../store/store.js';

/** The states the push rule reads. */
export interface PushState {
  /** Visible, and not archived, snoozed or expired. */
  readonly live: boolean;
  readonly seen: boolean;
  readonly opened: boolean;
  readonly category: string | null;
  /** `critical` ignores quiet hours. */
  readonly priority: string;
}

/** Optional fields of the inbox v2 notification, read when the store has them. */
interface V2Fields {
  readonly seen?: boolean;
  readonly archived?: boolean;
  readonly snoozedUntil?: Date | null;
  readonly expiresAt?: Date | null;
  readonly category?: string | null;
  readonly priority?: string;
}

/** The push states of a notification at `nowMs`; null (no longer stored or visible) is not live. */
export function pushState(row: StoredNotification | null, nowMs: number): PushState {
  if (row === null || row.seq === null) return { live: false, seen: false, opened: false, category: null, priority: 'normal' };
  const v2 = row as StoredNotification & V2Fields;
  const snoozed = v2.snoozedUntil != null && v2.snoozedUntil.getTime() > nowMs;
  const expired = v2.expiresAt != null && v2.expiresAt.getTime() <= nowMs;
  return {
    live: !(v2.archived ?? false) && !snoozed && !expired,
    // Opening implies seen.
    seen: (v2.seen ?? false) || row.opened,
    opened: row.opened,
    category: v2.category ?? null,
    priority: v2.priority ?? 'normal',
  };
}
