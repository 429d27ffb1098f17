/**
 * What the push rule asks of a stored notification: is it still live (design.md §5), has the user
 * seen it, opened it, and its category and priority. The one place the rule reads inbox states.
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

/** The push states of a notification at `nowMs`; null (deleted) or not yet visible is not live. */
export function pushState(row: StoredNotification | null, nowMs: number): PushState {
  if (row === null || row.seq === null) return { live: false, seen: false, opened: false, category: null, priority: 'normal' };
  const snoozed = row.snoozedUntil !== null && row.snoozedUntil.getTime() > nowMs;
  const expired = row.expiresAt !== null && row.expiresAt.getTime() <= nowMs;
  return {
    live: !row.archived && !snoozed && !expired,
    // Opening implies seen.
    seen: row.seen || row.opened,
    opened: row.opened,
    category: row.category,
    priority: row.priority,
  };
}
