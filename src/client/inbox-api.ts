/** The client's HTTP calls to Herald's inbox routes, with the user token and typed errors. */
import { errorForStatus, HeraldAuthError, HeraldError, HeraldNetworkError } from './errors.js';
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

/** Calls the inbox routes of one user. */
export class InboxApi {
  private readonly userPath: string;

  constructor(
    private readonly baseUrl: string,
    private readonly appId: string,
    userId: string,
    private readonly tokens: TokenSource,
  ) {
    this.userPath = `/apps/${encodeURIComponent(appId)}/users/${encodeURIComponent(userId)}/notifications`;
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

  count(): Promise<Counts> {
    return this.request<Counts>('GET', `${this.userPath}/count`);
  }

  open(ids: readonly string[] | 'all'): Promise<{ opened: string[]; unread: number; total: number }> {
    return this.request('POST', `${this.userPath}/open`, ids === 'all' ? { all: true } : { ids });
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
    return this.request('POST', `/apps/${encodeURIComponent(this.appId)}/notifications`, body);
  }

  /** Signs a channel subscription with Herald's built-in auth route. */
  authorizeChannel(socketId: string, channelName: string): Promise<{ auth: string; channel_data?: string }> {
    return this.request('POST', `/apps/${encodeURIComponent(this.appId)}/auth`, { socket_id: socketId, channel_name: channelName });
  }

  /** Sends a request with the token; a refused token is refreshed once when the token is a function. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      return await this.send<T>(method, path, body, await this.tokens.get());
    } catch (error) {
      if (!(error instanceof HeraldAuthError) || error.status !== 401 || !this.tokens.refreshable) throw error;
      return this.send<T>(method, path, body, await this.tokens.refresh());
    }
  }

  private async send<T>(method: string, path: string, body: unknown, token: string): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new HeraldNetworkError(`${method} ${path} failed: ${(error as Error).message}`, { cause: error });
    }
    let json: unknown;
    try {
      json = await response.json();
    } catch {
      if (response.ok) throw new HeraldError(`${method} ${path}: the server answered with something that is not JSON`, response.status);
      json = {};
    }
    if (!response.ok) {
      const { error, code } = (json ?? {}) as { error?: unknown; code?: unknown };
      throw errorForStatus(response.status, typeof error === 'string' ? error : `${method} ${path} failed with HTTP ${response.status}`, typeof code === 'string' ? code : null);
    }
    return json as T;
  }
}
