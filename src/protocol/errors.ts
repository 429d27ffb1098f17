/**
 * The error registry (fastify's `FST_ERR_*` idea): every error Herald reports to a client has a
 * stable code, the way it reaches the client (a `pusher:error` code and whether the socket closes,
 * an HTTP status, or both for a refused subscription), and its message. Tests assert on codes, not
 * on message text; docs/protocol.md and docs/inbox.md list every code.
 */

/** Pusher protocol error codes (https://pusher.com/docs/channels/library_auth_reference/pusher-websockets-protocol). */
export const ErrorCode = {
  /** Unknown application key. */
  AppNotFound: 4001,
  /** Application disabled. */
  AppDisabled: 4003,
  /** Unsupported protocol version. */
  UnsupportedProtocol: 4007,
  /** Over the app's connection quota. */
  OverQuota: 4004,
  /** Connection not authorised (authorised-connections mode). */
  Unauthorized: 4009,
  /** Over server capacity, or a slow consumer cut off. */
  OverCapacity: 4100,
  /** Generic reconnect: the server is going away (shutdown). */
  Reconnect: 4200,
  /** Pong reply not received in time. */
  PongNotReceived: 4201,
  /** Client event rejected (rate limit, channel type, not subscribed...). */
  ClientEventRejected: 4301,
  /** Watchlist too long. */
  WatchlistLimit: 4302,
} as const;

/** How one registered error reaches the client. */
export interface ErrorDefinition {
  /** Stable machine code (the `code` of HTTP error bodies). */
  readonly code: string;
  /** HTTP status: of the response, or of the `pusher:subscription_error` of a refused subscription. */
  readonly status?: number;
  /** `code` of the `pusher:error` (null: none, as Pusher sends for malformed input); undefined: HTTP only. */
  readonly pusherCode?: number | null;
  /** Whether the socket is closed (with `pusherCode`) after the error. */
  readonly closes?: boolean;
  /** Close reason, when it is not the message. */
  readonly reason?: string;
}

/** An error with its registry entry. */
export class RegisteredError extends Error {
  constructor(
    readonly definition: ErrorDefinition,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'RegisteredError';
  }

  /** The registry code. */
  get code(): string {
    return this.definition.code;
  }
}

/** An error of the WebSocket protocol: sent as `pusher:error`, closing the socket when its entry says so. */
export class ProtocolError extends RegisteredError {
  override readonly name = 'ProtocolError';

  /** The `pusher:error` code (null: none). */
  get pusherCode(): number | null {
    return this.definition.pusherCode ?? null;
  }

  get closesConnection(): boolean {
    return this.definition.closes === true;
  }

  /** What the close frame says. */
  get closeReason(): string {
    return this.definition.reason ?? this.message;
  }
}

/** An error of the HTTP API, answered with its status and `{ "error": message, "code": code }`. */
export class HttpError extends RegisteredError {
  override readonly name = 'HttpError';

  get status(): number {
    return this.definition.status ?? 500;
  }
}

/** A registry entry: its definition, callable to make the error. */
export type ErrorFactory<A extends unknown[], E extends RegisteredError> = ErrorDefinition & ((...args: A) => E);

function define<A extends unknown[], E extends RegisteredError>(definition: ErrorDefinition, make: (...args: A) => E): ErrorFactory<A, E> {
  return Object.assign(make, definition);
}

/** A WebSocket protocol error. */
function socket<A extends unknown[]>(definition: ErrorDefinition & { readonly pusherCode: number | null }, message: (...args: A) => string) {
  return define(definition, (...args: A) => new ProtocolError(definition, message(...args)));
}

/** An HTTP API error; `message` is what the route says was wrong. */
function http(definition: ErrorDefinition & { readonly status: number }) {
  return define(definition, (message: string, headers?: Record<string, string>) => new HttpError(definition, message, headers));
}

const INTERNAL_ERROR: ErrorDefinition = { code: 'internal_error', status: 500, pusherCode: null };
const CLUSTER_UNAVAILABLE: ErrorDefinition = { code: 'cluster_unavailable', status: 503, pusherCode: null };
const STORE_UNAVAILABLE: ErrorDefinition = { code: 'store_unavailable', status: 503, pusherCode: null };

/**
 * The database could not be reached, or did not answer within its timeout: the request stored
 * nothing it reported, and the client may retry (with its idempotency key, for a push).
 */
export class StoreUnavailableError extends RegisteredError {
  override readonly name = 'StoreUnavailableError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(STORE_UNAVAILABLE, message, { 'retry-after': '1' });
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The shared backend of the cluster could not be reached; the client may retry. */
export class ClusterUnavailableError extends RegisteredError {
  override readonly name = 'ClusterUnavailableError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(CLUSTER_UNAVAILABLE, message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

const clientEvent = (code: string) => socket({ code, pusherCode: ErrorCode.ClientEventRejected }, (message: string) => message);

/** Every error Herald reports, by name. */
export const Errors = {
  // Frames that do not decode: `pusher:error` without a code, the socket stays open.
  malformedMessage: socket({ code: 'malformed_message', pusherCode: null }, (problem: string) => `Malformed message: ${problem}`),
  invalidField: socket({ code: 'invalid_field', pusherCode: null }, (event: string, problem: string) => `${event}: ${problem}`),
  unsupportedEvent: socket(
    { code: 'unsupported_event', pusherCode: null },
    (event: string) => `Unsupported event "${event}": client events must start with "client-"`,
  ),
  binaryFrame: socket({ code: 'binary_frame', pusherCode: null }, () => 'Binary frames are not supported: send JSON text frames'),
  invalidChannelName: socket({ code: 'invalid_channel_name', pusherCode: null, status: 400 }, (problem: string) => problem),
  /** Anything unexpected: logged, and reported without details (`pusher:error` without a code, or HTTP 500). */
  internalError: define(INTERNAL_ERROR, () => new RegisteredError(INTERNAL_ERROR, 'Internal server error')),

  // Connection refusals: `pusher:error`, then closed with the same code.
  appNotFound: socket({ code: 'app_not_found', pusherCode: ErrorCode.AppNotFound, closes: true }, (message: string) => message),
  appDisabled: socket({ code: 'app_disabled', pusherCode: ErrorCode.AppDisabled, closes: true }, () => 'Application is disabled'),
  unsupportedProtocol: socket(
    { code: 'unsupported_protocol', pusherCode: ErrorCode.UnsupportedProtocol, closes: true, reason: 'Unsupported protocol version' },
    (version: string) => `Unsupported protocol version ${version}: use 7`,
  ),
  overQuota: socket({ code: 'over_quota', pusherCode: ErrorCode.OverQuota, closes: true }, () => 'Application is over its connection quota'),
  overCapacity: socket({ code: 'over_capacity', pusherCode: ErrorCode.OverCapacity, closes: true }, () => 'Server is over capacity'),
  tooManyFromAddress: socket(
    { code: 'too_many_from_address', pusherCode: ErrorCode.OverCapacity, closes: true },
    (limit: number) => `Too many connections from this address (limit ${limit}); retry later`,
  ),
  originNotAllowed: socket(
    { code: 'origin_not_allowed', pusherCode: ErrorCode.Unauthorized, closes: true },
    (origin: string) => `Origin ${origin.slice(0, 200)} is not allowed to connect to this app`,
  ),
  shuttingDown: socket({ code: 'shutting_down', pusherCode: ErrorCode.Reconnect, closes: true }, () => 'Server is shutting down; reconnect'),

  // Closes of an open socket.
  pongTimeout: socket({ code: 'pong_timeout', pusherCode: ErrorCode.PongNotReceived, closes: true }, () => 'Pong reply not received in time'),
  slowConsumer: socket({ code: 'slow_consumer', pusherCode: ErrorCode.OverCapacity, closes: true }, () => 'Client is too slow to read its messages'),
  framesTooFast: socket(
    { code: 'frames_too_fast', pusherCode: ErrorCode.OverCapacity, closes: true },
    () => 'Client sends messages faster than the server can handle them',
  ),
  notAuthorisedInTime: socket(
    { code: 'not_authorised_in_time', pusherCode: ErrorCode.Unauthorized, closes: true, reason: 'Unauthorized connection' },
    () => 'Connection not authorised within the grace period: sign in or subscribe to an authorised channel',
  ),
  terminatedByApp: socket({ code: 'terminated_by_app', pusherCode: ErrorCode.Unauthorized, closes: true }, () => 'Connection terminated by the app'),

  // Refused subscriptions: `pusher:subscription_error` with `status`, then `pusher:error`; the socket stays open.
  serverToUserForbidden: socket(
    { code: 'server_to_user_forbidden', pusherCode: ErrorCode.Unauthorized, status: 403 },
    () => 'Only the signed-in user may subscribe to its #server-to-user- channel',
  ),
  invalidChannelSignature: socket(
    { code: 'invalid_channel_signature', pusherCode: ErrorCode.Unauthorized, status: 401 },
    (channel: string, signed: string) => `Invalid signature for channel ${channel}: expected HMAC-SHA256 of "${signed}" with the app secret`,
  ),
  invalidChannelData: socket({ code: 'invalid_channel_data', pusherCode: null, status: 400 }, (problem: string) => problem),
  tooManyChannels: socket(
    { code: 'too_many_channels', pusherCode: ErrorCode.OverCapacity, status: 403 },
    (limit: number) => `This connection is subscribed to ${limit} channels, the limit: unsubscribe from one first`,
  ),
  presenceChannelFull: socket(
    { code: 'presence_channel_full', pusherCode: ErrorCode.OverCapacity, status: 403 },
    (channel: string, limit: number) => `Presence channel ${channel} is full (${limit} members)`,
  ),

  // Sign-in.
  invalidSigninSignature: socket(
    { code: 'invalid_signin_signature', pusherCode: ErrorCode.Unauthorized, closes: true },
    () => 'Invalid signature for pusher:signin',
  ),
  invalidUserData: socket({ code: 'invalid_user_data', pusherCode: null }, (problem: string) => `pusher:signin: ${problem}`),
  signedInAsOther: socket({ code: 'signed_in_as_other', pusherCode: null }, () => 'pusher:signin: this connection is already signed in as another user'),
  watchlistTooLong: socket(
    { code: 'watchlist_too_long', pusherCode: ErrorCode.WatchlistLimit },
    (length: number, limit: number) => `Watchlist has ${length} users; the limit is ${limit}`,
  ),

  // Client events: `pusher:error` 4301, the socket stays open.
  clientEventInvalid: clientEvent('client_event_invalid'),
  clientEventsDisabled: clientEvent('client_events_disabled'),
  clientEventChannel: clientEvent('client_event_channel'),
  clientEventNotSubscribed: clientEvent('client_event_not_subscribed'),
  clientEventTooLarge: clientEvent('client_event_too_large'),
  clientEventRateLimited: clientEvent('client_event_rate_limited'),

  // HTTP API.
  badRequest: http({ code: 'bad_request', status: 400 }),
  unauthorized: http({ code: 'unauthorized', status: 401 }),
  forbidden: http({ code: 'forbidden', status: 403 }),
  notFound: http({ code: 'not_found', status: 404 }),
  notBuilt: http({ code: 'not_built', status: 404 }),
  methodNotAllowed: http({ code: 'method_not_allowed', status: 405 }),
  conflict: http({ code: 'conflict', status: 409 }),
  /** A change-feed cursor older than the changes kept (or unknown): the client reloads its inbox. */
  resync: http({ code: 'resync', status: 410 }),
  tooLarge: http({ code: 'payload_too_large', status: 413 }),
  rateLimited: http({ code: 'rate_limited', status: 429 }),
  /** Too many unauthenticated request bodies are being received at once; retry shortly. */
  busy: http({ code: 'busy', status: 503 }),
  /** The cluster's shared state (Redis) cannot be reached: 503 over HTTP, a 503 subscription_error over WebSocket. */
  clusterUnavailable: define(CLUSTER_UNAVAILABLE, (message: string, options?: { cause?: unknown }) => new ClusterUnavailableError(message, options)),
  /** The database cannot be reached or does not answer in time: 503 with `Retry-After`. */
  storeUnavailable: define(STORE_UNAVAILABLE, (message: string, options?: { cause?: unknown }) => new StoreUnavailableError(message, options)),
} as const;

/** 400: the request is malformed; the message names what was wrong. */
export const badRequest = (message: string) => Errors.badRequest(message);
/** 401: signature, key or token rejected. */
export const unauthorized = (message: string) => Errors.unauthorized(message);
/** 403: authenticated but not allowed (disabled app, another user's inbox). */
export const forbidden = (message: string) => Errors.forbidden(message);
/** 404: unknown app, route or resource. */
export const notFound = (message: string) => Errors.notFound(message);
/** 413: body or payload too large. */
export const tooLarge = (message: string) => Errors.tooLarge(message);
