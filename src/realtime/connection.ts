/**
 * One client socket: its protocol state, and the order in which its frames are handled. The
 * handlers live elsewhere (subscriptions, sign-in, client events) and reach this state only through
 * the methods below; what they need from the node comes in through `ConnectionHost`.
 */
import type { Logger } from 'pino';
import type { App } from '../config/apps.js';
import { ErrorCode, Errors, ProtocolError, RegisteredError } from '../protocol/errors.js';
import { connectionEstablished, decodeClientMessage, errorMessage, PING, subscriptionError, type ClientMessage } from '../protocol/messages.js';
import { newSocketId } from '../protocol/socket-id.js';
import type { TrafficCounters } from './traffic.js';
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

/** A subscription of this socket; presence ones remember the member. */
export interface Subscription {
  readonly presenceUserId?: string;
  readonly presenceUserInfo?: unknown;
}

/** The timers and bounds a connection enforces. */
export interface ConnectionOptions {
  /** Seconds of client silence before the server pings (also told to clients). */
  readonly activityTimeoutSeconds: number;
  /** Milliseconds to wait for any sign of life after a ping before closing with 4201. */
  readonly pongTimeoutMs: number;
  /** Milliseconds an unauthenticated socket may live in authorised-connections mode. */
  readonly authorisedGraceMs: number;
  /** Unsent bytes after which a slow socket is closed with 4100. */
  readonly maxBufferedBytes: number;
}

/** What a connection needs from its node: one object shared by every connection. */
export interface ConnectionHost {
  readonly options: ConnectionOptions;
  readonly logger: Logger;
  readonly traffic: TrafficCounters;
  now(): number;
  /** Handles one decoded message of the connection; a rejected promise or a throw is reported with `fail`. */
  dispatch(connection: Connection, message: ClientMessage): Promise<void> | void;
  /** Removes a closed connection's subscriptions and sign-in everywhere; called once. */
  release(connection: Connection): Promise<void>;
  /** The connection is closed and released. */
  forget(connection: Connection): void;
}

/** What a connection reads its app from: the app's hub, whose app a reload may replace. */
export interface AppScope {
  readonly app: App;
}

/** A connected client socket. */
export class Connection {
  readonly socketId = newSocketId();
  readonly connectedAt: number;

  /**
   * The subscriptions: most sockets have one, kept inline (`onlyChannel`), with no Map and its table
   * per idle socket; a second one moves them into `subscribed`, which then holds them all.
   */
  private onlyChannel: string | null = null;
  private onlySubscription: Subscription | null = null;
  private subscribed: Map<string, Subscription> | null = null;
  private signedInAs: string | null = null;
  private watched: readonly string[] = NO_WATCHLIST;
  private isAuthorised = false;
  private isClosed = false;
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
    private readonly host: ConnectionHost,
    private readonly scope: AppScope,
    readonly transport: Transport,
  ) {
    this.connectedAt = host.now();
    this.lastSeen = this.connectedAt;
  }

  get app(): App {
    return this.scope.app;
  }

  /** User id after `pusher:signin`, else null. */
  get userId(): string | null {
    return this.signedInAs;
  }

  /** The user ids this signed-in socket watches. */
  get watchlist(): readonly string[] {
    return this.watched;
  }

  /** Signed in, or subscribed to an authorised channel (authorised-connections mode). */
  get authorised(): boolean {
    return this.isAuthorised;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Number of channels subscribed. */
  get subscriptionCount(): number {
    if (this.subscribed) return this.subscribed.size;
    return this.onlyChannel === null ? 0 : 1;
  }

  /** The subscription to a channel, if any. */
  subscription(channel: string): Subscription | undefined {
    if (this.subscribed) return this.subscribed.get(channel);
    return channel === this.onlyChannel ? this.onlySubscription! : undefined;
  }

  /** Records a subscription; one to an authorised channel authorises the connection. */
  addSubscription(channel: string, subscription: Subscription, authorisedChannel: boolean): void {
    if (this.subscribed) {
      this.subscribed.set(channel, subscription);
    } else if (this.onlyChannel === null || this.onlyChannel === channel) {
      this.onlyChannel = channel;
      this.onlySubscription = subscription;
    } else {
      this.subscribed = new Map([[this.onlyChannel, this.onlySubscription!], [channel, subscription]]);
      this.onlyChannel = this.onlySubscription = null;
    }
    if (authorisedChannel) this.isAuthorised = true;
  }

  /** Forgets a subscription; returns it, or undefined when there was none. */
  removeSubscription(channel: string): Subscription | undefined {
    if (this.subscribed) {
      const subscription = this.subscribed.get(channel);
      if (subscription) this.subscribed.delete(channel);
      return subscription;
    }
    if (channel !== this.onlyChannel) return undefined;
    const subscription = this.onlySubscription!;
    this.onlyChannel = this.onlySubscription = null;
    return subscription;
  }

  /** Forgets every subscription; returns them. */
  removeAllSubscriptions(): [string, Subscription][] {
    if (this.subscribed) {
      const all = [...this.subscribed];
      this.subscribed.clear();
      return all;
    }
    if (this.onlyChannel === null) return [];
    const only: [string, Subscription] = [this.onlyChannel, this.onlySubscription!];
    this.onlyChannel = this.onlySubscription = null;
    return [only];
  }

  /** Records the sign-in of a user (with a watchlist); it authorises the connection. */
  signIn(userId: string, watchlist: readonly string[]): void {
    this.signedInAs = userId;
    this.watched = watchlist.length === 0 ? NO_WATCHLIST : watchlist;
    this.isAuthorised = true;
  }

  /** Resolves when the socket is closed and its subscriptions are removed everywhere. */
  get cleanedUp(): Promise<void> {
    if (this.cleanupDone) return Promise.resolve();
    return (this.cleanedUpPromise ??= new Promise((resolve) => (this.resolveCleanedUp = resolve)));
  }

  /** Sends `pusher:connection_established`. */
  start(): void {
    this.transport.send(outbound(connectionEstablished(this.socketId, this.host.options.activityTimeoutSeconds)));
  }

  /** Any sign of life from the client: a frame, a WebSocket ping or pong. */
  touch(): void {
    this.lastSeen = this.host.now();
    this.pingSentAt = null;
  }

  /**
   * Handles one text frame. Frames are processed in order: while one waits on shared state,
   * the next ones queue behind it.
   */
  handleFrame(text: string): void {
    this.touch();
    if (this.isClosed) return;
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

  /** A binary frame: refused, the socket stays open. */
  handleBinaryFrame(): void {
    this.touch();
    this.fail(Errors.binaryFrame());
  }

  /**
   * Reports a failure to the client: a `pusher:error`, preceded by a `pusher:subscription_error`
   * when it refuses a subscription to `channel`, and followed by a close when the error's registry
   * entry says so. Unexpected errors are logged and reported without details, never thrown.
   */
  fail(error: unknown, channel?: string): void {
    if (!(error instanceof RegisteredError) || error.definition.pusherCode === undefined) {
      this.host.logger.error({ err: error, socketId: this.socketId }, 'unexpected error handling a client message');
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
    const now = this.host.now();
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
    if (this.isClosed) return;
    const options = this.host.options;
    // Sends check the bound as they queue; this catches what grew without a send (e.g. ws's own frames).
    if (this.transport.bufferedAmount > options.maxBufferedBytes) {
      this.host.traffic.slowConsumerCloses++;
      this.close(Errors.slowConsumer());
      return;
    }
    if (this.app.authorisedConnections && !this.isAuthorised && now - this.connectedAt >= options.authorisedGraceMs) {
      this.fail(Errors.notAuthorisedInTime());
      return;
    }
    if (this.pingSentAt !== null) {
      if (now - this.pingSentAt >= options.pongTimeoutMs) this.close(Errors.pongTimeout());
      return;
    }
    if (now - this.lastSeen >= options.activityTimeoutSeconds * 1000) {
      this.pingSentAt = now;
      this.transport.send(PING_MESSAGE);
      this.transport.ping();
    }
  }

  /** Closes the socket from the server side with the error's close code, without a `pusher:error`. Cleanup follows through `onClosed`. */
  close(error: ProtocolError): void {
    if (this.isClosed) return;
    this.transport.close(error.pusherCode ?? ErrorCode.Reconnect, error.closeReason);
    this.onClosed();
  }

  /** Called by the transport when the socket is gone; removes all of its state. */
  onClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const cleanup = async () => {
      await this.pending?.catch(() => undefined);
      await this.host.release(this);
    };
    cleanup()
      .catch((error: unknown) => this.host.logger.error({ err: error, socketId: this.socketId }, 'cleanup of a closed connection failed'))
      .finally(() => {
        this.host.forget(this);
        this.cleanupDone = true;
        this.resolveCleanedUp?.();
      });
  }

  private dispatch(message: ClientMessage): Promise<void> | void {
    if (this.isClosed) return;
    let result: Promise<void> | void;
    try {
      result = this.host.dispatch(this, message);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (!result) return;
    const channel = message.type === 'subscribe' ? message.channel : undefined;
    return result.catch((error: unknown) => this.fail(error, channel));
  }

  private track(run: Promise<void>): void {
    this.pending = run;
    run.finally(() => {
      if (this.pending === run) this.pending = null;
    });
  }
}
