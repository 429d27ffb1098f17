/** One client socket: its protocol state, and the dispatch of the frames it sends. */
import { ErrorCode, Errors, RegisteredError, ProtocolError } from '../protocol/errors.js';
import { connectionEstablished, decodeClientMessage, errorMessage, PING, PONG, subscriptionError, type ClientMessage } from '../protocol/messages.js';
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
        this.close(Errors.framesTooFast());
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

  /**
   * Reports a failure to the client: a `pusher:error`, preceded by a `pusher:subscription_error`
   * when it refuses a subscription to `channel`, and followed by a close when the error's registry
   * entry says so. Unexpected errors are logged and reported without details, never thrown.
   */
  fail(error: unknown, channel?: string): void {
    if (!(error instanceof RegisteredError) || error.definition.pusherCode === undefined) {
      this.realtime.logger.error({ err: error, socketId: this.socketId }, 'unexpected error handling a client message');
      this.transport.send(outbound(errorMessage(null, Errors.internalError().message)));
      return;
    }
    const { pusherCode, status, closes } = error.definition;
    if (channel !== undefined && status !== undefined) {
      this.transport.send(outbound(subscriptionError(channel, error.message, status)));
    }
    this.transport.send(outbound(errorMessage(pusherCode, error.message)));
    if (closes && pusherCode !== null && error instanceof ProtocolError) this.close(error);
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
      this.close(Errors.slowConsumer());
      return;
    }
    if (this.app.authorisedConnections && !this.authorised && now - this.connectedAt >= this.realtime.options.authorisedGraceMs) {
      this.fail(Errors.notAuthorisedInTime());
      return;
    }
    if (this.pingSentAt !== null) {
      if (now - this.pingSentAt >= this.realtime.options.pongTimeoutMs) this.close(Errors.pongTimeout());
      return;
    }
    if (now - this.lastSeen >= this.realtime.options.activityTimeoutSeconds * 1000) {
      this.pingSentAt = now;
      this.transport.send(PING_MESSAGE);
      this.transport.ping();
    }
  }

  /** Closes the socket from the server side with the error's close code, without a `pusher:error`. Cleanup follows through `onClosed`. */
  close(error: ProtocolError): void {
    if (this.closed) return;
    this.transport.close(error.pusherCode ?? ErrorCode.Reconnect, error.closeReason);
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
        return this.guard(handleSubscribe(this, message), message.channel);
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

  private guard(work: Promise<void>, channel?: string): Promise<void> {
    return work.catch((error: unknown) => this.fail(error, channel));
  }

  private track(run: Promise<void>): void {
    this.pending = run;
    run.finally(() => {
      if (this.pending === run) this.pending = null;
    });
  }
}
