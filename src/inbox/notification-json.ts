/** The notification JSON apps already use, from a stored row. */
import type { StoredNotification } from '../store/store.js';

/** The wire shape of a notification (events and HTTP answers). */
export interface NotificationJson {
  id: string;
  heading: string | null;
  content: string;
  payload: unknown;
  image_url: string | null;
  send_after: string | null;
  opened: boolean;
  buttons: { id: string; text: string; icon: string | null }[];
  created_at: string;
  opened_at: string | null;
  seq: number | null;
  sender_id: string | null;
  category: string | null;
  tags: string[];
  priority: string;
  tenant: string | null;
  seen: boolean;
  seen_at: string | null;
  archived: boolean;
  archived_at: string | null;
  snoozed_until: string | null;
  expires_at: string | null;
  actioned: { button_id: string; at: string } | null;
  collapse_key: string | null;
  collapsed_count: number;
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

/** Converts a stored notification to its JSON. */
export function toNotificationJson(row: StoredNotification): NotificationJson {
  return {
    id: row.id,
    heading: row.heading,
    content: row.content,
    payload: row.payload,
    image_url: row.imageUrl,
    send_after: row.sendAfter ? row.sendAfter.toISOString() : null,
    opened: row.opened,
    buttons: row.buttons.map((button) => ({ id: button.id, text: button.text, icon: button.icon })),
    created_at: row.createdAt.toISOString(),
    opened_at: row.openedAt ? row.openedAt.toISOString() : null,
    seq: row.seq,
    sender_id: row.senderId,
    category: row.category,
    tags: [...row.tags],
    priority: row.priority,
    tenant: row.tenant,
    seen: row.seen,
    seen_at: iso(row.seenAt),
    archived: row.archived,
    archived_at: iso(row.archivedAt),
    snoozed_until: iso(row.snoozedUntil),
    expires_at: iso(row.expiresAt),
    actioned: row.actioned ? { button_id: row.actioned.buttonId, at: row.actioned.at.toISOString() } : null,
    collapse_key: row.collapseKey,
    collapsed_count: row.collapsedCount,
  };
}
