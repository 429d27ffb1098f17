/** Typed errors of the client SDK: every failure a caller can tell apart. */

/** Base class: `status` and `code` when the server answered. */
export class HeraldError extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
    readonly code: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HeraldError';
  }
}

/** The token was refused (401) or does not reach this resource (403). */
export class HeraldAuthError extends HeraldError {
  constructor(message: string, status: number | null, code: string | null = null, options?: { cause?: unknown }) {
    super(message, status, code, options);
    this.name = 'HeraldAuthError';
  }
}

/** The server could not be reached, or the connection failed. */
export class HeraldNetworkError extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, null, null, options);
    this.name = 'HeraldNetworkError';
  }
}

/** The server refused the request as malformed or conflicting (4xx other than auth). */
export class HeraldRequestError extends HeraldError {
  constructor(message: string, status: number, code: string | null) {
    super(message, status, code);
    this.name = 'HeraldRequestError';
  }
}

/** The server failed (5xx). */
export class HeraldServerError extends HeraldError {
  constructor(message: string, status: number, code: string | null) {
    super(message, status, code);
    this.name = 'HeraldServerError';
  }
}

/** The client was disposed while the operation was pending. */
export class HeraldDisposedError extends HeraldError {
  constructor() {
    super('The inbox client was disposed');
    this.name = 'HeraldDisposedError';
  }
}

/** The error for an HTTP answer that is not 2xx. */
export function errorForStatus(status: number, message: string, code: string | null): HeraldError {
  if (status === 401 || status === 403) return new HeraldAuthError(message, status, code);
  if (status >= 500) return new HeraldServerError(message, status, code);
  return new HeraldRequestError(message, status, code);
}
