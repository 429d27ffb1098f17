/** One client socket: its protocol state, and the dispatch of the frames it sends. */
import { ErrorCode, ProtocolError } from '../protocol/errors.js';
import { connectionEstablished, decodeClientMessage, errorMessage, PING, PONG, type ClientMessage } from '../protocol/messages.js';
import { newSocketId } from '../protocol/socket-id.js';
import type { AppHub } from './app-hub.js';
import { handleClientEvent } from './client-events.js';
import type { Realtime } from './realtime.js';
import { handleSignin, signOut } from './signin.js';
import { handleSubscribe, handleUnsubscribe, unsubscribeAll } from './subscriptions.js';
import { outbound, type Transport } from './transport.js';

const PING_MESSAGE = outbound(PING);
/** The watchlist of every socket that has none: shared, not one empty array per socket. */
const NO_WATCHLIST: readonly string[] = Object.freeze([]);
/**
 * Characters of frames that may wait behind one that waits on shared state (a cluster call): a
 * client sending faster than that is closed with 4100, so a slow Redis cannot make its frames pile up
 * in memory. With the local adapter the wait is a few microtasks and a socket's backlog never nears it.
 */
export const MAX_QUEUED_FRAME_CHARS = 1024 * 1024;
const PONG_MESSAGE = outbound(PONG);

/** A subscription of this socket; presence ones remember the member. */
export interface Subscription {
  readonly presenceUserId?: string;
  readonly presenceUserInfo?: unknown;
}

/** A connected client socket. */
export class Connection {
  readonly socketId = newSocketId();
  readonly connectedAt: number;
  readonly subscriptions = new Map<string, Subscription>();
  /** User id after `pusher:signin`. */
  userId: string | null = null;
  watchlist: readonly string[] = NO_WATCHLIST;
  /** Signed in, or subscribed to an authorised channel (authorised-connections mode). */
  authorised = false;
  closed = false;

  private lastSeen: number;
  private pingSentAt: number | null = null;
  private clientEventWindowStart = 0;
  private clientEventsInWindow = 0;
  private pending: Promise<void> | null = null;
  private queuedChars = 0;
  /** Made when first asked for (at shutdown, mostly): no promise and resolver per idle socket. */
  private cleanedUpPromise: Promise<void> | null = null;
  private resolveCleanedUp: (() => void) | null = null;
  private cleanupDone = false;

  constructor(
    readonly realtime: Realtime,
    readonly hub: AppHub,
    readonly transport: Transport,
  ) {
    this.connectedAt = realtime.now();
    this.lastSeen = this.connectedAt;
  }

  /** Resolves when the socket is closed and its subscriptions are removed everywhere. */
  get cleanedUp(): Promise<void> {
    if (this.cleanupDone) return Promise.resolve();
    return (this.cleanedUpPromise ??= new Promise((resolve) => (this.resolveCleanedUp = resolve)));
  }

  get app() {
    return this.hub.app;
  }

  /** Sends `pusher:connection_established`. */
  start(): void {
    this.transport.send(outbound(connectionEstablished(this.socketId, this.realtime.options.activityTimeoutSeconds)));
  }

  /** Any sign of life from the client: a frame, a WebSocket ping or pong. */
  touch(): void {
    this.lastSeen = this.realtime.now();
    this.pingSentAt = null;
  }

  /**
   * Handles one text frame. Frames are processed in order: while one waits on shared state,
   * the next ones queue behind it.
   */
  handleFrame(text: string): void {
    this.touch();
    if (this.closed) return;
    let message: ClientMessage;
    try {
      message = decodeClientMessage(text);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.pending) {
      if (this.queuedChars + text.length > MAX_QUEUED_FRAME_CHARS) {
        this.close(ErrorCode.OverCapacity, 'Client sends messages faster than the server can handle them');
        return;
      }
      const size = text.length;
      this.queuedChars += size;
      const run = this.pending.then(() => {
        this.queuedChars -= size;
        return this.dispatch(message);
      });
      this.track(run);
      return;
    }
    const result = this.dispatch(message);
    if (result) this.track(result);
  }

  /** Sends a `pusher:error`, closing too when the error says so. */
  sendError(code: number | null, message: string): void {
    this.transport.send(outbound(errorMessage(code, message)));
  }

  /** Reports a failure to the client; unexpected errors are logged, never thrown. */
  fail(error: unknown): void {
    if (error instanceof ProtocolError) {
      this.sendError(error.code, error.message);
      if (error.closesConnection && error.code !== null) this.close(error.code, error.message);
      return;
    }
    this.realtime.logger.error({ err: error, socketId: this.socketId }, 'unexpected error handling a client message');
    this.sendError(null, 'Internal server error');
  }

  /** Counts one client event against the per-second rate; false when over it. */
  takeClientEventToken(): boolean {
    const now = this.realtime.now();
    if (now - this.clientEventWindowStart >= 1000) {
      this.clientEventWindowStart = now;
      this.clientEventsInWindow = 0;
    }
    if (this.clientEventsInWindow >= this.app.clientEventRate) return false;
    this.clientEventsInWindow++;
    return true;
  }

  /** Pings a silent client; closes it with 4201 if it stays silent; enforces the auth grace period and buffer bound. */
  checkLiveness(now: number): void {
    if (this.closed) return;
    // Sends check the bound as they queue; this catches what grew without a send (e.g. ws's own frames).
    if (this.transport.bufferedAmount > this.realtime.options.maxBufferedBytes) {
      this.realtime.traffic.slowConsumerCloses++;
      this.close(ErrorCode.OverCapacity, 'Client is too slow to read its messages');
      return;
    }
    if (this.app.authorisedConnections && !this.authorised && now - this.connectedAt >= this.realtime.options.authorisedGraceMs) {
      this.sendError(ErrorCode.Unauthorized, 'Connection not authorised within the grace period: sign in or subscribe to an authorised channel');
      this.close(ErrorCode.Unauthorized, 'Unauthorized connection');
      return;
    }
    if (this.pingSentAt !== null) {
      if (now - this.pingSentAt >= this.realtime.options.pongTimeoutMs) this.close(ErrorCode.PongNotReceived, 'Pong reply not received in time');
      return;
    }
    if (now - this.lastSeen >= this.realtime.options.activityTimeoutSeconds * 1000) {
      this.pingSentAt = now;
      this.transport.send(PING_MESSAGE);
      this.transport.ping();
    }
  }

  /** Closes the socket from the server side. Cleanup follows through `onClosed`. */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.transport.close(code, reason);
    this.onClosed();
  }

  /** Called by the transport when the socket is gone; removes all of its state. */
  onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const cleanup = async () => {
      await this.pending?.catch(() => undefined);
      await unsubscribeAll(this);
      await signOut(this);
    };
    cleanup()
      .catch((error: unknown) => this.realtime.logger.error({ err: error, socketId: this.socketId }, 'cleanup of a closed connection failed'))
      .finally(() => {
        this.realtime.forget(this);
        this.cleanupDone = true;
        this.resolveCleanedUp?.();
      });
  }

  private dispatch(message: ClientMessage): Promise<void> | void {
    if (this.closed) return;
    switch (message.type) {
      case 'ping':
        this.transport.send(PONG_MESSAGE);
        return;
      case 'pong':
        return;
      case 'subscribe':
        return this.guard(handleSubscribe(this, message));
      case 'unsubscribe':
        return this.guard(handleUnsubscribe(this, message.channel));
      case 'signin':
        return this.guard(handleSignin(this, message));
      case 'client-event':
        try {
          handleClientEvent(this, message);
        } catch (error) {
          this.fail(error);
        }
        return;
    }
  }

  private guard(work: Promise<void>): Promise<void> {
    return work.catch((error: unknown) => this.fail(error));
  }

  private track(run: Promise<void>): void {
    this.pending = run;
    run.finally(() => {
      if (this.pending === run) this.pending = null;
    });
  }
}
