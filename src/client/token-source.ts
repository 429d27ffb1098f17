/** Where the client gets its user token: a string, or a function asked again near expiry or on refusal. */
import { HeraldAuthError } from './errors.js';

/** A user token, or a function that fetches a fresh one. */
export type TokenOption = string | (() => string | Promise<string>);

/** Seconds before expiry at which a fresh token is asked for (at most half of a short token's lifetime). */
const REFRESH_MARGIN_SECONDS = 30;

/** The `exp` claim of a JWT, read without verifying it (the server verifies). */
export function tokenExpiry(token: string): number | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp : null;
  } catch {
    return null;
  }
}

/** Caches the token and refreshes it when it is about to expire or was refused. */
export class TokenSource {
  private cached: string | null = null;
  /** When the cached token is to be replaced, in epoch seconds (null: never, it has no `exp`). */
  private refreshAt: number | null = null;
  private pending: Promise<string> | null = null;

  constructor(
    private readonly option: TokenOption,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a refused token can be replaced by asking again. */
  get refreshable(): boolean {
    return typeof this.option === 'function';
  }

  /** A token that is not about to expire. */
  async get(): Promise<string> {
    if (typeof this.option === 'string') return this.option;
    if (this.cached !== null && (this.refreshAt === null || this.now() / 1000 < this.refreshAt)) return this.cached;
    return this.refresh();
  }

  /**
   * A token to use instead of one the server refused. A request sent with the old token can be
   * refused after another caller already replaced it (sent just before expiry, answered just
   * after): that caller's token is used instead of asking token() once more.
   */
  replaceRefused(refused: string): Promise<string> {
    if (this.pending === null && this.cached !== null && this.cached !== refused) return this.get();
    return this.refresh();
  }

  /** Forgets the cached token and asks for a new one (once, however many callers ask at the same time). */
  refresh(): Promise<string> {
    if (typeof this.option === 'string') return Promise.resolve(this.option);
    const fetchToken = this.option;
    this.pending ??= (async () => {
      try {
        const token = await fetchToken();
        if (typeof token !== 'string' || token.length === 0) throw new HeraldAuthError('token() did not return a token string', null);
        this.cached = token;
        // A token that lives less than a minute is used for the first half of its life, so a
        // short-lived one does not send every request back to token().
        const exp = tokenExpiry(token);
        const nowSeconds = this.now() / 1000;
        this.refreshAt = exp === null ? null : exp - Math.min(REFRESH_MARGIN_SECONDS, Math.max(0, exp - nowSeconds) / 2);
        return token;
      } catch (error) {
        if (error instanceof HeraldAuthError) throw error;
        throw new HeraldAuthError(`token() failed: ${(error as Error)?.message ?? String(error)}`, null, null, { cause: error });
      } finally {
        this.pending = null;
      }
    })();
    return this.pending;
  }
}
