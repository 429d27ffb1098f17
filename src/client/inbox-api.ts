/** The client's HTTP calls to Herald's inbox routes, with the user token and typed errors. */
import { errorForStatus, HeraldAuthError, HeraldDisposedError, HeraldError, HeraldNetworkError } from './errors.js';
import type { NewNotification, Notification } from './notifications.js';
import type { TokenSource } from './token-source.js';

/** A page of notifications. */
export interface Page {
  readonly notifications: Notification[];
  readonly has_more: boolean;
}

/** Unread and total counts, and the user's newest seq when they were counted. */
export interface Counts {
  readonly unread: number;
  readonly total: number;
  readonly last_seq: number;
}

/** The connection failed before any answer (not a timeout): a request that may be repeated is sent again, once. */
class ConnectionFailedError extends HeraldNetworkError {}

/** A page of the change feed. */
export interface ChangesAnswer {
  readonly changes: { change_seq: number; id: string; deleted: boolean; notification?: Notification }[];
  readonly has_more: boolean;
  readonly change_seq: number;
}

/** Calls the inbox routes of one user; every request has a deadline, and `close()` aborts those in flight. */
export class InboxApi {
  private readonly userPath: string;
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(
    private readonly baseUrl: string,
    private readonly appId: string,
    userId: string,
    private readonly tokens: TokenSource,
    private readonly timeoutMs: number,
  ) {
    this.userPath = `/apps/${encodeURIComponent(appId)}/users/${encodeURIComponent(userId)}/notifications`;
  }

  /** The current user token (what the push service worker stores to re-register a changed subscription). */
  token(): Promise<string> {
    return this.tokens.get();
  }

  /** Aborts every request in flight; later requests fail at once. */
  close(): void {
    this.closed = true;
    for (const controller of this.inFlight) controller.abort();
    this.inFlight.clear();
  }

  /** Newest first; `before_seq` for older pages. */
  page(limit: number, beforeSeq?: number): Promise<Page> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (beforeSeq !== undefined) query.set('before_seq', String(beforeSeq));
    return this.request<Page>('GET', `${this.userPath}?${query}`);
  }

  /** Oldest first, after a cursor (catch-up). */
  after(afterSeq: number, limit: number): Promise<Page> {
    return this.request<Page>('GET', `${this.userPath}?after_seq=${afterSeq}&limit=${limit}`);
  }

  /** A page of a filtered list (newest first); `query` holds the filter's keys. */
  listFiltered(query: URLSearchParams, limit: number, beforeSeq?: number): Promise<Page> {
    const params = new URLSearchParams(query);
    params.set('limit', String(limit));
    if (beforeSeq !== undefined) params.set('before_seq', String(beforeSeq));
    return this.request<Page>('GET', `${this.userPath}?${params}`);
  }

  /** Counts of a filter: `{ unseen, unread, total, last_seq }`. */
  countFiltered(query: URLSearchParams): Promise<{ unseen: number; unread: number; total: number; last_seq: number }> {
    const text = query.toString();
    return this.request('GET', `${this.userPath}/count${text ? `?${text}` : ''}`);
  }

  /** Several views' counts in one snapshot. */
  countViews(views: Record<string, unknown>): Promise<{ views: Record<string, { unseen: number; unread: number; total: number }>; last_seq: number }> {
    return this.request('POST', `${this.userPath}/counts`, { views }, true);
  }

  /** A bulk action (design.md §5). */
  bulk(body: Record<string, unknown>): Promise<{ affected: number; counts: { unseen: number; unread: number; total: number; last_seq: number }; change_seq: number }> {
    return this.request('POST', `${this.userPath}/bulk`, body, true);
  }

  /** The change feed after a cursor, or (null) just the current cursor. */
  changes(after: number | null, limit: number): Promise<ChangesAnswer> {
    const query = after === null ? `limit=${limit}` : `after=${after}&limit=${limit}`;
    return this.request<ChangesAnswer>('GET', `${this.userPath}/changes?${query}`);
  }

  count(): Promise<Counts> {
    return this.request<Counts>('GET', `${this.userPath}/count`);
  }

  open(ids: readonly string[] | 'all'): Promise<{ opened: string[]; unread: number; total: number }> {
    return this.request('POST', `${this.userPath}/open`, ids === 'all' ? { all: true } : { ids }, true);
  }

  remove(id: string): Promise<{ deleted: boolean; unread: number; total: number }> {
    return this.request('DELETE', `${this.userPath}/${encodeURIComponent(id)}`);
  }

  action(id: string, buttonId: string): Promise<{ recorded: boolean }> {
    return this.request('POST', `${this.userPath}/${encodeURIComponent(id)}/actions/${encodeURIComponent(buttonId)}`);
  }

  push(userIds: readonly string[], notification: NewNotification, idempotencyKey?: string): Promise<{ notifications: { id: string; user_id: string; seq: number | null }[] }> {
    const body: Record<string, unknown> = { user_ids: userIds, notification };
    if (idempotencyKey !== undefined) body.idempotency_key = idempotencyKey;
    return this.request('POST', `/apps/${encodeURIComponent(this.appId)}/notifications`, body, idempotencyKey !== undefined);
  }

  /** Signs a channel subscription with Herald's built-in auth route. */
  authorizeChannel(socketId: string, channelName: string): Promise<{ auth: string; channel_data?: string }> {
    return this.request('POST', `/apps/${encodeURIComponent(this.appId)}/auth`, { socket_id: socketId, channel_name: channelName }, true);
  }

  /**
   * Sends a request with the token; a refused token is refreshed once when the token is a
   * function. `idempotent` (default: GET) lets a request whose connection failed be sent again.
   */
  async request<T>(method: string, path: string, body?: unknown, idempotent = method === 'GET'): Promise<T> {
    const token = await this.tokens.get();
    try {
      return await this.send<T>(method, path, body, token, idempotent);
    } catch (error) {
      if (!(error instanceof HeraldAuthError) || error.status !== 401 || !this.tokens.refreshable) throw error;
      return this.send<T>(method, path, body, await this.tokens.replaceRefused(token), idempotent);
    }
  }

  private async send<T>(method: string, path: string, body: unknown, token: string, idempotent: boolean): Promise<T> {
    try {
      return await this.sendOnce<T>(method, path, body, token);
    } catch (error) {
      // Typically a pooled keep-alive connection that a network reset killed: retried on a new one.
      if (!idempotent || !(error instanceof ConnectionFailedError)) throw error;
      return this.sendOnce<T>(method, path, body, token);
    }
  }

  private async sendOnce<T>(method: string, path: string, body: unknown, token: string): Promise<T> {
    if (this.closed) throw new HeraldDisposedError();
    // A silent network (a half-open socket) would otherwise hold a request, and every sync behind it, forever.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    this.inFlight.add(controller);
    const failed = (error: unknown): HeraldError => {
      if (this.closed) return new HeraldDisposedError();
      if (timedOut) return new HeraldNetworkError(`${method} ${path} failed: no answer within ${this.timeoutMs} ms`, { cause: error });
      // fetch() says "fetch failed" (Node) or "Failed to fetch" (browsers); the cause says why, where there is one.
      const cause = (error as { cause?: { message?: unknown } }).cause?.message;
      return new ConnectionFailedError(`${method} ${path} failed: ${(error as Error).message}${typeof cause === 'string' ? ` (${cause})` : ''}`, { cause: error });
    };
    let response: Response;
    let json: unknown;
    try {
      try {
        response = await fetch(`${this.baseUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: controller.signal,
        });
      } catch (error) {
        throw failed(error);
      }
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        throw failed(error);
      }
      try {
        json = JSON.parse(text);
      } catch {
        if (response.ok) throw new HeraldError(`${method} ${path}: the server answered with something that is not JSON`, response.status);
        json = {};
      }
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
    if (!response.ok) {
      const { error, code } = (json ?? {}) as { error?: unknown; code?: unknown };
      throw errorForStatus(response.status, typeof error === 'string' ? error : `${method} ${path} failed with HTTP ${response.status}`, typeof code === 'string' ? code : null);
    }
    return json as T;
  }
}
