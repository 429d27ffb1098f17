// The admin API as the dashboard calls it: one Authorization header for every request.

/** An answer other than 2xx, with the server's `error` text. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface AppSummary {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
}

export interface Session {
  readonly scope: 'admin' | 'app';
  readonly apps: AppSummary[];
}

export interface Overview {
  readonly connections: number;
  readonly channels: number;
  readonly presence_channels: number;
  readonly events_per_second: number;
  readonly totals: { connections_opened: number; connections_closed: number; events_published: number; client_events: number };
  readonly series: { t: number[]; connections: number[]; events: number[] };
  readonly console_readers: number;
  readonly node?: { connections: number; messages_in_per_second: number; messages_out_per_second: number };
}

export interface ChannelRow {
  readonly name: string;
  readonly type: string;
  readonly cache: boolean;
  readonly subscription_count: number;
  readonly user_count: number | null;
}

export interface Member {
  readonly id: string;
  readonly info: unknown;
}

export interface ConsoleLine {
  readonly type: string;
  readonly time: number;
  readonly channel?: string;
  readonly event?: string;
  readonly data?: string;
  readonly truncated?: boolean;
  readonly socket_id?: string;
  readonly user_id?: string | null;
  readonly count?: number;
  readonly code?: number;
}

export interface NotificationRow {
  readonly id: string;
  readonly heading: string | null;
  readonly content: string;
  readonly image_url: string | null;
  readonly opened: boolean;
  readonly created_at: string;
  readonly seq: number;
  readonly sender_id?: string | null;
  readonly buttons: { id: string; text: string }[];
}

/** Stream states the console shows. */
export type StreamState = 'connecting' | 'live' | 'retrying';

/** Credentials: `Basic base64(appId:secret)` or `Bearer <admin token>`. */
export function basicAuth(appId: string, secret: string): string {
  const bytes = new TextEncoder().encode(`${appId}:${secret}`);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}

export class AdminApi {
  constructor(readonly authorization: string) {}

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { authorization: this.authorization };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(15_000);
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal ? anySignal([signal, timeout]) : timeout,
      cache: 'no-store',
    });
    const text = await response.text();
    let json: unknown = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = { error: text };
    }
    if (!response.ok) {
      const message = (json as { error?: unknown }).error;
      throw new ApiError(response.status, typeof message === 'string' ? message : `HTTP ${response.status}`);
    }
    return json as T;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, undefined, signal);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /**
   * Reads an app's console (Server-Sent Events over fetch, so the Authorization header goes along);
   * reconnects after 2 s when cut. Returns a function that stops it.
   */
  stream(appId: string, onLine: (line: ConsoleLine) => void, onState: (state: StreamState, error?: string) => void): () => void {
    const controller = new AbortController();
    let stopped = false;
    const run = async (): Promise<void> => {
      while (!stopped) {
        onState('connecting');
        try {
          const response = await fetch(`/admin/apps/${encodeURIComponent(appId)}/stream`, {
            headers: { authorization: this.authorization, accept: 'text/event-stream' },
            signal: controller.signal,
            cache: 'no-store',
          });
          if (!response.ok || !response.body) throw new ApiError(response.status, `console stream answered ${response.status}`);
          onState('live');
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let end: number;
            while ((end = buffer.indexOf('\n\n')) !== -1) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = block
                .split('\n')
                .filter((line) => line.startsWith('data:'))
                .map((line) => line.slice(5).trimStart())
                .join('\n');
              if (!data) continue;
              try {
                onLine(JSON.parse(data) as ConsoleLine);
              } catch {
                // A line that is not JSON is not ours to show.
              }
            }
          }
          if (!stopped) onState('retrying', 'the stream ended');
        } catch (error) {
          if (stopped) return;
          onState('retrying', (error as Error).message);
          if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return;
        }
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      }
    };
    void run();
    return () => {
      stopped = true;
      controller.abort();
    };
  }
}

function anySignal(signals: AbortSignal[]): AbortSignal {
  const controller = new AbortController();
  for (const signal of signals) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  }
  return controller.signal;
}

/** Paths of the admin API for an app. */
export const paths = {
  session: '/admin/session',
  app: (appId: string) => `/admin/apps/${encodeURIComponent(appId)}`,
};
