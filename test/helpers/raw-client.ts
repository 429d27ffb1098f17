/** A raw WebSocket client (the `ws` package) that speaks Pusher frames by hand, for bad-input tests. */
import { WebSocket } from 'ws';
import { sleep } from './wait.js';

/** A frame the server sent, with `data` parsed when it is a JSON string. */
export interface Frame {
  readonly event: string;
  readonly channel?: string;
  readonly data: unknown;
  readonly user_id?: string;
  readonly raw: string;
}

/** How a socket was closed. */
export interface Closed {
  readonly code: number;
  readonly reason: string;
}

/** What a wait matches: an event name, or a predicate on the frame. */
export type FrameMatch = string | ((frame: Frame) => boolean);

/** Options of a raw connection. */
export interface RawOptions {
  /** Answer WebSocket ping frames automatically (default true, as browsers do). */
  readonly autoPong?: boolean;
  /** Extra headers of the upgrade request (e.g. `Origin`, `X-Forwarded-For`). */
  readonly headers?: Record<string, string>;
  /** Local address to connect from (any 127.x.y.z works on Linux loopback). */
  readonly localAddress?: string;
}

function parse(text: string): Frame {
  const message = JSON.parse(text) as Record<string, unknown>;
  let data = message.data;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      // Not JSON: keep the string as sent.
    }
  }
  return {
    event: String(message.event),
    channel: typeof message.channel === 'string' ? message.channel : undefined,
    data,
    user_id: typeof message.user_id === 'string' ? message.user_id : undefined,
    raw: text,
  };
}

const matcher = (match: FrameMatch) => (typeof match === 'string' ? (frame: Frame) => frame.event === match : match);

/** A raw socket; every frame received is kept, and each wait consumes the first matching one. */
export class RawClient {
  readonly frames: Frame[] = [];
  /** Resolves when the socket is closed (by either side). */
  readonly closed: Promise<Closed>;
  /** WebSocket ping frames received from the server. */
  pings = 0;
  private readonly taken = new Set<Frame>();
  private closeInfo: Closed | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.frames.push(parse(data.toString()));
    });
    ws.on('ping', () => this.pings++);
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
      });
    });
  }

  /** Opens a socket to `url`; resolves once the WebSocket handshake is done. */
  static connect(url: string, options: RawOptions = {}, timeoutMs = 5_000): Promise<RawClient> {
    const ws = new WebSocket(url, { autoPong: options.autoPong ?? true, headers: options.headers, localAddress: options.localAddress });
    const client = new RawClient(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out opening ${url}`)), timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(client);
      });
      ws.once('unexpected-response', (_request, response) => {
        clearTimeout(timer);
        reject(new Error(`upgrade refused with HTTP ${response.statusCode}`));
      });
      ws.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** The close code and reason, once closed. */
  get closeState(): Closed | null {
    return this.closeInfo;
  }

  /** Sends a JSON frame. */
  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Sends text (or bytes as a binary frame) exactly as given. */
  sendRaw(data: string | Buffer): void {
    this.ws.send(data, { binary: Buffer.isBuffer(data) });
  }

  /** The first frame not yet taken that matches; consumes it. Rejects after `timeoutMs`. */
  async next(match: FrameMatch, what = String(match), timeoutMs = 3_000): Promise<Frame> {
    const test = matcher(match);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.find((candidate) => !this.taken.has(candidate) && test(candidate));
      if (frame) {
        this.taken.add(frame);
        return frame;
      }
      if (Date.now() > deadline) {
        const seen = this.frames.map((f) => f.raw.slice(0, 200)).join('\n  ');
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; frames so far:\n  ${seen}`);
      }
      await sleep(5);
    }
  }

  /** Asserts that no untaken frame matches during `ms`. */
  async none(match: FrameMatch, ms: number, what = String(match)): Promise<void> {
    await sleep(ms);
    const test = matcher(match);
    const frame = this.frames.find((candidate) => !this.taken.has(candidate) && test(candidate));
    if (frame) throw new Error(`expected no ${what}, got ${frame.raw}`);
  }

  /** Waits for `pusher:connection_established`; returns the socket id and activity timeout. */
  async established(): Promise<{ socketId: string; activityTimeout: number }> {
    const frame = await this.next('pusher:connection_established');
    const data = frame.data as { socket_id: string; activity_timeout: number };
    return { socketId: data.socket_id, activityTimeout: data.activity_timeout };
  }

  /** Sends `pusher:subscribe` and waits for success or an error naming the channel. */
  async subscribe(channel: string, auth?: string, channelData?: string): Promise<Frame> {
    this.send({ event: 'pusher:subscribe', data: { channel, auth, channel_data: channelData } });
    return this.next(
      (f) => f.channel === channel && (f.event === 'pusher_internal:subscription_succeeded' || f.event === 'pusher:subscription_error'),
      `subscription result for ${channel}`,
    );
  }

  /** Waits for a `pusher:error` frame; returns its code and message. */
  async error(timeoutMs?: number): Promise<{ code: number | null; message: string }> {
    const frame = await this.next('pusher:error', 'pusher:error', timeoutMs);
    return frame.data as { code: number | null; message: string };
  }

  /** Resolves with the close code, or rejects after `timeoutMs`. */
  async closedWithin(timeoutMs = 3_000): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`socket not closed within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `pusher:ping` and waits for the pong: proof the socket is still served. */
  async roundTrip(): Promise<void> {
    this.send({ event: 'pusher:ping', data: {} });
    await this.next('pusher:pong', 'pusher:pong');
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close();
    else if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}
