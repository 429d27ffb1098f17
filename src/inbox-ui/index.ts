/**
 * `herald/inbox-ui`: the `<herald-inbox>` custom element (defined on import, in a browser) and
 * its message catalog. Also served as one script at `/sdk/herald-inbox.js`, client SDK included.
 */
import { HeraldInboxElement } from './inbox-element.js';

export { HeraldInboxElement, type HeraldInboxEventMap } from './inbox-element.js';
export { registerMessages, messagesFor, directionOf, type InboxMessages } from './messages.js';
export { DEFAULT_TABS, supportsViews, type InboxTab, type ViewFilter, type InboxCounts, type UiNotification, type FeedSource } from './inbox-source.js';
export { relativeTime } from './relative-time.js';
export { InboxClient } from '../client/index.js';

/** The tag name. */
export const HERALD_INBOX_TAG = 'herald-inbox';

/** Defines `<herald-inbox>` unless it is defined already (a second copy of the bundle is harmless). */
export function defineHeraldInbox(): void {
  if (typeof customElements !== 'undefined' && !customElements.get(HERALD_INBOX_TAG)) customElements.define(HERALD_INBOX_TAG, HeraldInboxElement);
}

defineHeraldInbox();
