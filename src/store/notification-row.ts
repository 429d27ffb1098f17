/**
 * A `notifications` row as both stores read it: the columns they share (times in epoch ms), and
 * the one mapping to what the store's interface shows. Each store decodes the few columns its
 * driver hands over differently (JSON text and 0/1 in SQLite, parsed jsonb and booleans in
 * PostgreSQL) before calling it.
 */
import type { InboxChange, NotificationButton, Priority, StoredNotification } from './store.js';

export interface NotificationColumns {
  app_id: string;
  user_id: string;
  id: string;
  seq: number | null;
  heading: string | null;
  content: string;
  image_url: string | null;
  send_after_ms: number | null;
  sender_id: string | null;
  opened_at_ms: number | null;
  created_at_ms: number;
  category: string | null;
  priority: string;
  tenant: string | null;
  seen_at_ms: number | null;
  archived_at_ms: number | null;
  snoozed_until_ms: number | null;
  expires_at_ms: number | null;
  actioned_button: string | null;
  actioned_at_ms: number | null;
  collapse_key: string | null;
  collapsed_count: number;
  change_seq: number | null;
}

/** The columns each driver encodes its own way, decoded. */
export interface DecodedColumns {
  readonly payload: unknown;
  readonly buttons: readonly NotificationButton[];
  readonly tags: string[];
  readonly opened: boolean;
  readonly seen: boolean;
  readonly archived: boolean;
}

function toDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

/** A row as the store's interface shows it; buttons rebuilt so their keys keep the input order. */
export function storedNotification(row: NotificationColumns, decoded: DecodedColumns): StoredNotification {
  return {
    appId: row.app_id,
    userId: row.user_id,
    id: row.id,
    seq: row.seq,
    heading: row.heading,
    content: row.content,
    payload: decoded.payload,
    imageUrl: row.image_url,
    sendAfter: toDate(row.send_after_ms),
    buttons: decoded.buttons.map((button) => ({ id: button.id, text: button.text, icon: button.icon })),
    senderId: row.sender_id,
    opened: decoded.opened,
    openedAt: toDate(row.opened_at_ms),
    createdAt: new Date(row.created_at_ms),
    category: row.category,
    tags: decoded.tags,
    priority: row.priority as Priority,
    tenant: row.tenant,
    seen: decoded.seen,
    seenAt: toDate(row.seen_at_ms),
    archived: decoded.archived,
    archivedAt: toDate(row.archived_at_ms),
    snoozedUntil: toDate(row.snoozed_until_ms),
    expiresAt: toDate(row.expires_at_ms),
    actioned: row.actioned_button === null ? null : { buttonId: row.actioned_button, at: new Date(row.actioned_at_ms ?? 0) },
    collapseKey: row.collapse_key,
    collapsedCount: row.collapsed_count,
    changeSeq: row.change_seq,
  };
}

/** A change feed entry for a notification that still exists. */
export function liveChangeOf(notification: StoredNotification): InboxChange {
  return { changeSeq: notification.changeSeq!, id: notification.id, deleted: false, reason: null, notification };
}
