/** Protocol limits and defaults, from Pusher's published limits. */

/** Longest channel name Pusher accepts. */
export const MAX_CHANNEL_NAME_LENGTH = 164;
/** Longest event name. */
export const MAX_EVENT_NAME_LENGTH = 200;
/** Default maximum event payload (`data`) in bytes. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 10 * 1024;
/** Default channels per HTTP trigger. */
export const DEFAULT_MAX_CHANNELS_PER_TRIGGER = 100;
/** Default events per batch trigger. */
export const DEFAULT_MAX_BATCH_EVENTS = 10;
/** Default client events per second per socket. */
export const DEFAULT_CLIENT_EVENT_RATE = 10;
/**
 * Default events per second an app's backend may publish over HTTP (per node): none, as on
 * Pusher, Soketi and Reverb, which accept a backend's bursts; an app may set a limit.
 */
export const DEFAULT_MAX_BACKEND_EVENTS_PER_SECOND: number | null = null;
/** Default HTTP read (GET) requests per second of an app (per node): none unless an app sets one. */
export const DEFAULT_MAX_READ_REQUESTS_PER_SECOND: number | null = null;
/** Default members per presence channel. */
export const DEFAULT_MAX_PRESENCE_MEMBERS = 100;
/** Default bytes of one presence member's `user_info`. */
export const DEFAULT_MAX_PRESENCE_MEMBER_BYTES = 1024;
/** Longest watchlist a signed-in user may have. */
export const MAX_WATCHLIST_LENGTH = 100;
/** Seconds of silence after which the server pings (sent in connection_established). */
export const DEFAULT_ACTIVITY_TIMEOUT_SECONDS = 120;
/** Seconds to wait for a pong before closing with 4201. */
export const PONG_TIMEOUT_SECONDS = 30;
/** Default unsent bytes of one socket after which it is closed with 4100 (a client that does not read). */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Seconds a cache channel keeps its last event. */
export const CACHE_TTL_SECONDS = 30 * 60;
/** Seconds an HTTP signature's timestamp may differ from the server clock. */
export const HTTP_TIMESTAMP_WINDOW_SECONDS = 600;
/** Seconds an unauthenticated socket may live in authorised-connections mode. */
export const AUTHORISED_CONNECTION_GRACE_SECONDS = 30;
/** Largest WebSocket frame accepted; anything bigger is refused before it is buffered. */
export const MAX_FRAME_BYTES = 256 * 1024;
/**
 * Deepest nesting of arrays and objects accepted in client JSON (client event data, HTTP bodies).
 * Deeper values would overflow the stack of the recursive JSON.stringify calls further on.
 */
export const MAX_JSON_DEPTH = 100;
/** Default channels one socket may be subscribed to at once. */
export const DEFAULT_MAX_CHANNELS_PER_CONNECTION = 1000;
/** Default most recipients of one push made with a user token (client push). */
export const DEFAULT_CLIENT_PUSH_MAX_RECIPIENTS = 10;
/** Default notifications (one per recipient) one user may push per minute with a user token, per node. */
export const DEFAULT_CLIENT_PUSH_NOTIFICATIONS_PER_MINUTE = 60;
