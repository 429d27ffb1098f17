/** Helpers of the dashboard tests: admin API calls and a reader of the console stream. */
import type { Reply } from '../helpers/inbox.js';
import { waitFor } from '../helpers/wait.js';

/** An admin token long enough for the configuration's 16-character minimum. */
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** `Authorization: Basic base64(appId:secret)`. */
export function basic(appId: string, secret: string): string {
  return `Basic ${Buffer.from(`${appId}:${secret}`).toString('base64')}`;
}

/** `Authorization: Bearer <token>`. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/** Calls `baseUrl + path` with an Authorization header (or none); parses the JSON answer. */
export async function adminCall<T = Record<string, unknown>>(
  baseUrl: string,
  authorization: string | null,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (authorization !== null) headers.authorization = authorization;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await response.text();
  let json: unknown = {};
  try {
    json = text.length > 0 ? JSON.parse(text) : {};
  } catch {
    json = { text };
  }
  return { status: response.status, body: json as T };
}

/** One line of the console stream. */
export interface StreamLine {
  readonly type: string;
  readonly time: number;
  readonly channel?: string;
  readonly event?: string;
  readonly data?: string;
  readonly socket_id?: string;
  readonly user_id?: string | null;
  readonly count?: number;
}

/** An open console stream: what arrived so far, and a way to wait for a line. */
export interface ConsoleReader {
  readonly status: number;
  readonly contentType: string;
  readonly lines: StreamLine[];
  /** Resolves with the first line (already arrived or coming) that matches; rejects after `timeoutMs`. */
  waitFor(match: (line: StreamLine) => boolean, what: string, timeoutMs?: number): Promise<StreamLine>;
  /** Resolves when the server ended the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Opens `GET /admin/apps/{appId}/stream` and parses its Server-Sent Events as they come. */
export async function openConsole(baseUrl: string, authorization: string, appId: string): Promise<ConsoleReader> {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/admin/apps/${appId}/stream`, {
    headers: { authorization, accept: 'text/event-stream' },
    signal: AbortSignal.any([controller.signal, AbortSignal.timeout(30_000)]),
  });
  const lines: StreamLine[] = [];
  let resolveEnded: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
  if (response.body) {
    const reader = response.body.getReader();
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            for (const line of block.split('\n')) if (line.startsWith('data: ')) lines.push(JSON.parse(line.slice(6)) as StreamLine);
          }
        }
      } catch {
        // Aborted by close().
      }
      resolveEnded();
    })();
  } else {
    resolveEnded();
  }
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    lines,
    ended,
    async waitFor(match, what, timeoutMs = 5_000) {
      await waitFor(() => lines.some(match), what, timeoutMs);
      return lines.find(match)!;
    },
    close: () => controller.abort(),
  };
}
