/** What both stores share about a push: how long its idempotency key answers, and the stored form of a visible row. */
import type { NotificationInput, StoredNotification } from './store.js';

/** How long an idempotency key answers for the same push (and is kept before pruning). */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The stored form of a just-pushed visible row, built from the input instead of read back. */
export function storedFromInput(appId: string, userId: string, seq: number, input: NotificationInput, now: Date): StoredNotification {
  return {
    appId,
    userId,
    id: input.id,
    seq,
    heading: input.heading,
    content: input.content,
    payload: input.payload ?? null,
    imageUrl: input.imageUrl,
    sendAfter: input.sendAfter,
    buttons: input.buttons,
    senderId: input.senderId,
    opened: false,
    openedAt: null,
    createdAt: now,
  };
}
