/** `herald/client`: the inbox client SDK for browsers and Node. */
export { InboxClient, OPENED_EVENT, DELETED_EVENT, type InboxClientOptions, type ConnectionState } from './inbox-client.js';
export { HeraldError, HeraldAuthError, HeraldNetworkError, HeraldRequestError, HeraldServerError, HeraldDisposedError } from './errors.js';
export type { Notification, NewNotification, NotificationButton } from './notifications.js';
export { EventStream, ValueStream } from './streams.js';
export type { TokenOption } from './token-source.js';
export type { WebPushOptions, WebPushDevice } from './web-push.js';
