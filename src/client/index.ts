/** `herald/client`: the inbox client SDK for browsers and Node. */
export {
  InboxClient,
  OPENED_EVENT,
  DELETED_EVENT,
  INBOX_CHANGED_EVENT,
  type InboxClientOptions,
  type ConnectionState,
  type BulkAction,
  type BulkAnswer,
} from './inbox-client.js';
export type { ViewFilter, InboxCounts, InboxView } from './inbox-views.js';
export { channelForUser } from '../protocol/user-channel.js';
export { HeraldError, HeraldAuthError, HeraldNetworkError, HeraldRequestError, HeraldServerError, HeraldDisposedError } from './errors.js';
export type { Notification, NewNotification, NotificationButton } from './notifications.js';
export { EventStream, ValueStream } from './streams.js';
export type { TokenOption } from './token-source.js';
export type { WebPushOptions, WebPushDevice } from './web-push.js';
