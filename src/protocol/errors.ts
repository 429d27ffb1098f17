/** Error taxonomy shared by the WebSocket protocol and the HTTP API. Tests assert on codes, not text. */

/** A Pusher protocol error: its 4xxx code, and whether the socket must be closed after it. */
export class ProtocolError extends Error {
  constructor(
    readonly code: number | null,
    message: string,
    readonly closesConnection = false,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

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

/** An HTTP API error with its status and a stable machine code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** 400: the request is malformed; the message names what was wrong. */
export const badRequest = (message: string) => new HttpError(400, 'bad_request', message);
/** 401: signature, key or token rejected. */
export const unauthorized = (message: string) => new HttpError(401, 'unauthorized', message);
/** 403: authenticated but not allowed (disabled app, another user's inbox). */
export const forbidden = (message: string) => new HttpError(403, 'forbidden', message);
/** 404: unknown app, route or resource. */
export const notFound = (message: string) => new HttpError(404, 'not_found', message);
/** 413: body or payload too large. */
export const tooLarge = (message: string) => new HttpError(413, 'payload_too_large', message);
