/**
 * One notification as a feed row (`part="notification"`, `data-id`): image or initial, heading,
 * content, relative time, unread dot, its buttons and the archive/snooze tools. The row only
 * renders; the element handles its clicks by delegation through `data-action`.
 */
import type { InboxMessages } from './messages.js';
import type { UiNotification } from './inbox-source.js';
import { h, icon } from './icons.js';
import { relativeTime } from './relative-time.js';

/** What a row needs to know besides its notification. */
export interface RowContext {
  readonly locale: string;
  readonly messages: InboxMessages;
  readonly now: number;
  /** Unique within the shadow root, for the aria-labelledby of the row. */
  readonly idPrefix: string;
  /** Whether the client can archive and snooze (inbox v2). */
  readonly tools: boolean;
}

/** The row's `data-action` values. */
export type RowAction = 'open' | 'press' | 'archive' | 'unarchive' | 'snooze';

function initialOf(n: UiNotification): string {
  const source = (n.sender_id ?? n.heading ?? n.content).replace(/^demo-/, '').trim();
  return (Array.from(source)[0] ?? 'H').toUpperCase();
}

/** The time element of a row, updated in place as time passes. */
export function timeText(iso: string, context: Pick<RowContext, 'locale' | 'now'>): string {
  return relativeTime(iso, context.now, context.locale);
}

/** Builds the row of a notification. */
export function renderRow(n: UiNotification, context: RowContext): HTMLElement {
  const { messages } = context;
  const headingId = `${context.idPrefix}-h`;
  const contentId = `${context.idPrefix}-c`;
  const visual = n.image_url
    ? h('img', { src: n.image_url, alt: '', loading: 'lazy', width: 40, height: 40, decoding: 'async' })
    : h('span', { class: 'avatar', 'aria-hidden': 'true' }, initialOf(n));
  const time = h('time', { class: 'meta', datetime: n.created_at, title: new Date(n.created_at).toLocaleString(context.locale) }, timeText(n.created_at, context));
  const main = h(
    'button',
    { type: 'button', class: 'item-main', 'data-action': 'open', part: 'notification-main' },
    visual,
    h('span', { class: 'text' }, n.heading ? h('strong', { class: 'heading', id: headingId, dir: 'auto' }, n.heading) : null, h('span', { class: 'content', id: contentId, dir: 'auto' }, n.content), time),
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    n.opened ? null : h('span', { class: 'visually-hidden' }, messages.unread),
  );
  const buttons =
    n.buttons.length > 0
      ? h(
          'div',
          { class: 'buttons' },
          ...n.buttons.map((button, index) =>
            h('button', { type: 'button', class: index === 0 ? 'action primary' : 'action', part: 'action', 'data-action': 'press', 'data-button-id': button.id }, button.text),
          ),
        )
      : null;
  const tools = context.tools
    ? h(
        'div',
        { class: 'tools' },
        n.archived
          ? h('button', { type: 'button', class: 'tool', 'data-action': 'unarchive', 'aria-label': messages.unarchive, title: messages.unarchive }, icon('unarchive'))
          : h('button', { type: 'button', class: 'tool', 'data-action': 'archive', 'aria-label': messages.archive, title: messages.archive }, icon('archive')),
        n.archived
          ? null
          : h('button', { type: 'button', class: 'tool', 'data-action': 'snooze', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-label': messages.snooze, title: messages.snooze }, icon('snooze')),
      )
    : null;
  return h(
    'article',
    {
      class: `item ${n.opened ? 'opened' : 'unread'}`,
      part: 'notification',
      'data-id': n.id,
      'data-testid': 'notification',
      'aria-labelledby': n.heading ? `${headingId} ${contentId}` : contentId,
    },
    main,
    buttons,
    tools,
  );
}

/** When each snooze choice ends, from `now`: in an hour, tomorrow 9:00, next Monday 9:00 (local time). */
export function snoozeUntil(choice: 'hour' | 'tomorrow' | 'week', now: Date): Date {
  if (choice === 'hour') return new Date(now.getTime() + 3_600_000);
  const until = new Date(now);
  until.setHours(9, 0, 0, 0);
  if (choice === 'tomorrow') until.setDate(until.getDate() + 1);
  else until.setDate(until.getDate() + (((8 - until.getDay()) % 7) || 7));
  return until;
}
