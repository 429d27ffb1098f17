/**
 * What the service worker shows for a push (design.md §6), pure so it is tested outside a browser:
 * one notification slot per tag, and a message seen before (a resend after Herald crashed between
 * the provider's acceptance and its own commit) shown again silently, never alerting twice.
 */

/** The body Herald pushes: the notification JSON plus the badge, the receipt and the message id. */
export interface PushBody {
  readonly id: string | null;
  readonly heading: string | null;
  readonly content: string;
  readonly image_url?: string | null;
  readonly payload?: unknown;
  readonly buttons?: readonly { id: string; text: string; icon: string | null }[];
  readonly created_at?: string;
  readonly badge: number;
  readonly tag: string;
  readonly app_id: string;
  readonly user_id: string;
  readonly receipt: string | null;
  readonly message_id?: string;
}

export function isPushBody(value: unknown): value is PushBody {
  const body = value as PushBody | null;
  return typeof body === 'object' && body !== null && typeof body.content === 'string' && typeof body.app_id === 'string' && typeof body.tag === 'string';
}

/** The system notification of a body: title and `showNotification` options. */
export interface ShownNotification {
  readonly title: string;
  readonly options: {
    readonly body: string | undefined;
    readonly image: string | undefined;
    readonly tag: string;
    /** Alert (sound, vibration) even though the tag's slot is taken: only for a message not seen before. */
    readonly renotify: boolean;
    readonly silent: boolean;
    readonly timestamp: number | undefined;
    readonly actions: readonly { action: string; title: string; icon: string | undefined }[];
    readonly data: PushBody;
  };
}

/**
 * The notification to show. `repeated`: this message_id was shown before on this device. Chrome
 * requires a notification for every push, so a repeat is shown again in the same slot, silently.
 */
export function notificationOf(body: PushBody, repeated: boolean): ShownNotification {
  return {
    title: body.heading ?? body.content,
    options: {
      body: body.heading === null ? undefined : body.content,
      image: body.image_url ?? undefined,
      tag: body.tag,
      renotify: !repeated,
      silent: repeated,
      timestamp: body.created_at ? Date.parse(body.created_at) : undefined,
      actions: (body.buttons ?? []).map((button) => ({ action: button.id, title: button.text, icon: button.icon ?? undefined })),
      data: body,
    },
  };
}
