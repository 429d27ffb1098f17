/** The realtime core of one node: connections of every app, fan-out and cluster messages. */
import type { Logger } from 'pino';
import { originAllowed, type App, type AppRegistry } from '../config/apps.js';
import type { ClusterAdapter, ClusterChange, ClusterMessage, NodeSnapshot } from '../cluster/adapter.js';
import { channelKind } from '../protocol/channels.js';
import { Errors, type ProtocolError } from '../protocol/errors.js';
import {
  AUTHORISED_CONNECTION_GRACE_SECONDS,
  CACHE_TTL_SECONDS,
  DEFAULT_ACTIVITY_TIMEOUT_SECONDS,
  DEFAULT_MAX_BUFFERED_BYTES,
  PONG_TIMEOUT_SECONDS,
} from '../protocol/limits.js';
import { encodeEvent, errorMessage, memberAdded, memberRemoved, PONG, subscriptionCount, watchlistEvents, type ClientMessage } from '../protocol/messages.js';
import { AppHub } from './app-hub.js';
import { handleClientEvent } from './client-events.js';
import { Connection, type ConnectionHost, type ConnectionOptions } from './connection.js';
import { RealtimeEvents } from './events.js';
import type { RealtimeServices } from './services.js';
import { handleSignin, signOut } from './signin.js';
import { handleSubscribe, handleUnsubscribe, unsubscribeAll } from './subscriptions.js';
import { TrafficCounters } from './traffic.js';
import { outbound, type Transport } from './transport.js';

const PONG_MESSAGE = outbound(PONG);

/** Tunables of the realtime core; tests shorten the timers. */
export interface RealtimeOptions extends ConnectionOptions {
  /** Connections this node accepts across apps before refusing with 4100 (null: no limit). */
  readonly maxConnections: number | null;
  /** How often liveness is checked, in milliseconds. */
  readonly sweepIntervalMs: number;
}

export const defaultRealtimeOptions: RealtimeOptions = {
  activityTimeoutSeconds: DEFAULT_ACTIVITY_TIMEOUT_SECONDS,
  pongTimeoutMs: PONG_TIMEOUT_SECONDS * 1000,
  authorisedGraceMs: AUTHORISED_CONNECTION_GRACE_SECONDS * 1000,
  maxConnections: null,
  maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES,
  sweepIntervalMs: 1_000,
};

/** Protocol versions of `?protocol=` accepted (a socket without one is accepted too). */
const SUPPORTED_PROTOCOLS = new Set(['5', '6', '7']);

/** A socket asking to connect, as the transport saw its upgrade request. */
export interface ConnectRequest {
  /** The app key of the path `/app/{key}`. */
  readonly appKey: string;
  /** `?protocol=`, or null when absent. */
  readonly protocol: string | null;
  /** The `Origin` header, if any. */
  readonly origin: string | undefined;
  /** The client's address (read only for apps with `max_connections_per_ip`). */
  address(): string;
}

/** What the realtime core needs from the rest of the server. */
export interface RealtimeDeps {
  readonly apps: AppRegistry;
  readonly adapter: ClusterAdapter;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly options?: Partial<RealtimeOptions>;
}

/**
 * Connections, channels and fan-out of every app on this node. It is the host of every connection
 * (one object, no closure per socket) and the services its message handlers are given.
 */
export class Realtime implements ConnectionHost, RealtimeServices {
  readonly apps: AppRegistry;
  readonly adapter: ClusterAdapter;
  readonly logger: Logger;
  readonly now: () => number;
  readonly options: RealtimeOptions;
  /** Occupied/vacated, members, client events, connections: for webhooks, metrics and the dashboard. */
  readonly events: RealtimeEvents;
  /** Messages and bytes in and out of this node's sockets, counted by the transport. */
  readonly traffic = new TrafficCounters();
  private readonly hubs = new Map<string, AppHub>();
  private connectionCount = 0;
  /** Open sockets by app id and client address, for `max_connections_per_ip`. */
  private readonly perAddress = new Map<string, number>();
  /** The address slot of each socket counted in `perAddress`. */
  private readonly addressSlots = new Map<Connection, string>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private accepting = true;

  constructor(deps: RealtimeDeps) {
    this.apps = deps.apps;
    this.adapter = deps.adapter;
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
    this.options = { ...defaultRealtimeOptions, ...deps.options };
    this.events = new RealtimeEvents((error) => this.logger.error({ err: error }, 'realtime event listener failed'));
  }

  /** Starts the cluster adapter and the liveness sweep. */
  async start(): Promise<void> {
    await this.adapter.start({
      onMessage: (message) => this.onClusterMessage(message),
      onChange: (change) => this.onClusterChange(change),
      snapshot: () => this.snapshot(),
    });
    this.sweepTimer = setInterval(() => this.sweep(), this.options.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  /** This node's live state of an app. */
  hub(app: App): AppHub {
    let hub = this.hubs.get(app.id);
    if (!hub) {
      hub = new AppHub(app, this.adapter);
      this.hubs.set(app.id, hub);
    } else if (hub.app !== app) {
      hub.app = app;
    }
    return hub;
  }

  /** Existing hub of an app id, if any socket of it ever connected here. */
  hubOf(appId: string): AppHub | undefined {
    return this.hubs.get(appId);
  }

  /** Number of open connections on this node. */
  get connections(): number {
    return this.connectionCount;
  }

  /**
   * Admits a new socket, or refuses it with the protocol's error and close code (and emits
   * `connection_refused`): every rule of admission is here, in the order a client meets them.
   * Returns the connection, or null when refused.
   */
  connect(request: ConnectRequest, transport: Transport): Connection | null {
    const refused = (error: ProtocolError): null => {
      this.events.emit({ type: 'connection_refused', appKey: request.appKey, code: error.pusherCode ?? 0 });
      return refuse(transport, error);
    };
    const { appKey, protocol } = request;
    // A client that does not speak our protocol is not counted as a refused connection of an app.
    if (protocol !== null && !SUPPORTED_PROTOCOLS.has(protocol)) return refuse(transport, Errors.unsupportedProtocol(protocol));
    const app = this.apps.findByKey(appKey);
    if (!app) return refused(Errors.appNotFound(`App key ${appKey} not in this cluster. Did you forget to specify the cluster?`));
    if (!app.enabled) return refused(Errors.appDisabled());
    if (!originAllowed(app, request.origin)) return refused(Errors.originNotAllowed(String(request.origin)));
    // Counted only for apps with a limit: no address lookup or map entry per socket otherwise.
    let slot: string | null = null;
    if (app.maxConnectionsPerIp !== null) {
      slot = `${app.id} ${request.address()}`;
      if ((this.perAddress.get(slot) ?? 0) >= app.maxConnectionsPerIp) return refused(Errors.tooManyFromAddress(app.maxConnectionsPerIp));
    }
    if (!this.accepting) return refused(Errors.shuttingDown());
    if (this.options.maxConnections !== null && this.connectionCount >= this.options.maxConnections) return refused(Errors.overCapacity());
    const hub = this.hub(app);
    if (app.maxConnections !== null && hub.connections.size >= app.maxConnections) return refused(Errors.overQuota());
    const connection = new Connection(this, hub, transport);
    hub.connections.set(connection.socketId, connection);
    this.connectionCount++;
    if (slot !== null) {
      this.perAddress.set(slot, (this.perAddress.get(slot) ?? 0) + 1);
      this.addressSlots.set(connection, slot);
    }
    connection.start();
    this.events.emit({ type: 'connection_opened', app, socketId: connection.socketId });
    return connection;
  }

  /** Handles a connection's decoded message with the handler of its type. */
  dispatch(connection: Connection, message: ClientMessage): Promise<void> | void {
    switch (message.type) {
      case 'ping':
        connection.transport.send(PONG_MESSAGE);
        return;
      case 'pong':
        return;
      case 'subscribe':
        return handleSubscribe(this, this.hub(connection.app), connection, message);
      case 'unsubscribe':
        return handleUnsubscribe(this, this.hub(connection.app), connection, message.channel);
      case 'signin':
        return handleSignin(this, this.hub(connection.app), connection, message);
      case 'client-event':
        return handleClientEvent(this, connection, message);
    }
  }

  /** Removes a closed connection's address slot, subscriptions and sign-in, here and in cluster state. */
  async release(connection: Connection): Promise<void> {
    this.releaseAddressSlot(connection);
    const hub = this.hub(connection.app);
    await unsubscribeAll(this, hub, connection);
    await signOut(this, hub, connection);
  }

  /** Called by a connection once it is closed and released. */
  forget(connection: Connection): void {
    if (!this.hub(connection.app).connections.delete(connection.socketId)) return;
    this.connectionCount--;
    this.events.emit({ type: 'connection_closed', app: connection.app, socketId: connection.socketId });
  }

  /**
   * Publishes an event on a channel: this node's subscribers at once, the other nodes through
   * the adapter, and the cache for cache channels.
   */
  publish(app: App, channel: string, event: string, data: unknown, exceptSocketId: string | null, userId?: string): void {
    this.publishEncoded(app, channel, event, encodeEvent(event, data, channel, userId), exceptSocketId, () => data);
  }

  /**
   * Publishes an event already serialised as `frame` (the inbox's per-user notifications), like
   * `publish`; `data` gives its data only when a listener or the cache needs it.
   */
  publishFrame(app: App, channel: string, event: string, frame: string, data: () => unknown): void {
    this.publishEncoded(app, channel, event, frame, null, data);
  }

  private publishEncoded(app: App, channel: string, event: string, frame: string, exceptSocketId: string | null, data: () => unknown): void {
    this.hub(app).deliver(channel, frame, exceptSocketId);
    this.adapter.send({ v: 1, type: 'publish', appId: app.id, channel, frame, exceptSocketId });
    if (this.events.active) this.events.emit({ type: 'event_published', app, channel, event, data });
    if (channelKind(channel).cache) {
      this.adapter
        .cacheSet(app.id, channel, { event, data: data() }, CACHE_TTL_SECONDS * 1000)
        .catch((error: unknown) => this.logger.warn({ err: error, channel }, 'could not store cache channel event'));
    }
  }

  /** Sends an already serialised frame to a channel's subscribers across the cluster, uncached. */
  broadcastFrame(app: App, channel: string, frame: string, exceptSocketId: string | null): void {
    this.hub(app).deliver(channel, frame, exceptSocketId);
    this.adapter.send({ v: 1, type: 'publish', appId: app.id, channel, frame, exceptSocketId });
  }

  /** Closes every socket signed in as a user, on every node. */
  terminateUser(app: App, userId: string): void {
    this.terminateLocalUser(app.id, userId);
    this.adapter.send({ v: 1, type: 'terminate-user', appId: app.id, userId });
  }

  /** Tells every watcher of a user, on every node, that the user came online or went offline. */
  announcePresence(app: App, userId: string, online: boolean): void {
    this.notifyLocalWatchers(app.id, userId, online);
    this.adapter.send({ v: 1, type: 'watchlist', appId: app.id, userId, online });
  }

  /** Stops accepting sockets and closes the open ones with 4200 so clients reconnect elsewhere. */
  async shutdown(): Promise<void> {
    this.accepting = false;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    const closing: Promise<void>[] = [];
    for (const hub of this.hubs.values()) {
      for (const connection of hub.connections.values()) {
        connection.close(Errors.shuttingDown());
        closing.push(connection.cleanedUp);
      }
    }
    await Promise.allSettled(closing);
    await this.adapter.close();
  }

  private onClusterMessage(message: ClusterMessage): void {
    switch (message.type) {
      case 'publish':
        this.hubs.get(message.appId)?.deliver(message.channel, message.frame, message.exceptSocketId);
        break;
      case 'terminate-user':
        this.terminateLocalUser(message.appId, message.userId);
        break;
      case 'watchlist':
        this.notifyLocalWatchers(message.appId, message.userId, message.online);
        break;
    }
  }

  /** Tells the clients of every node about a change the adapter made on its own (e.g. a dead node's members). */
  private onClusterChange(change: ClusterChange): void {
    const app = this.apps.findById(change.appId);
    if (!app) return;
    switch (change.type) {
      case 'member': {
        const frame = change.present ? memberAdded(change.channel, change.userId, change.userInfo) : memberRemoved(change.channel, change.userId);
        this.broadcastFrame(app, change.channel, frame, null);
        this.events.emit({ type: change.present ? 'member_added' : 'member_removed', app, channel: change.channel, userId: change.userId });
        break;
      }
      case 'user':
        this.announcePresence(app, change.userId, change.online);
        break;
      case 'count':
        this.countChanged(app, change.channel, change.count, false);
        break;
    }
  }

  /**
   * A channel's cluster-wide subscription count changed (this node decided it): tells subscribers
   * when the app asks for it, and emits occupied / vacated / subscription_count.
   */
  countChanged(app: App, channel: string, count: number, added: boolean): void {
    if (app.subscriptionCount && count > 0 && !channelKind(channel).presence) {
      this.broadcastFrame(app, channel, subscriptionCount(channel, count), null);
    }
    if (added && count === 1) this.events.emit({ type: 'channel_occupied', app, channel });
    if (!added && count === 0) this.events.emit({ type: 'channel_vacated', app, channel });
    this.events.emit({ type: 'subscription_count', app, channel, count });
  }

  /** This node's subscriptions, presence sockets and sign-ins, for the adapter to (re-)register. */
  snapshot(): NodeSnapshot {
    const subscriptions: { appId: string; channel: string; count: number }[] = [];
    const presence: NodeSnapshot['presence'][number][] = [];
    const signIns: { appId: string; userId: string; socketId: string }[] = [];
    for (const hub of this.hubs.values()) {
      const appId = hub.app.id;
      for (const [channel, local] of hub.channels) {
        subscriptions.push({ appId, channel, count: local.subscribers.size });
        if (!local.kind.presence) continue;
        for (const connection of local.subscribers) {
          const subscription = connection.subscription(channel);
          if (subscription?.presenceUserId === undefined) continue;
          presence.push({ appId, channel, socketId: connection.socketId, member: { userId: subscription.presenceUserId, userInfo: subscription.presenceUserInfo ?? null } });
        }
      }
      for (const [userId, connections] of hub.users) {
        for (const connection of connections) signIns.push({ appId, userId, socketId: connection.socketId });
      }
    }
    return { subscriptions, presence, signIns };
  }

  private releaseAddressSlot(connection: Connection): void {
    if (this.addressSlots.size === 0) return;
    const slot = this.addressSlots.get(connection);
    if (slot === undefined) return;
    this.addressSlots.delete(connection);
    const count = (this.perAddress.get(slot) ?? 1) - 1;
    if (count > 0) this.perAddress.set(slot, count);
    else this.perAddress.delete(slot);
  }

  private terminateLocalUser(appId: string, userId: string): void {
    const sockets = this.hubs.get(appId)?.users.get(userId);
    if (!sockets) return;
    for (const connection of [...sockets]) connection.close(Errors.terminatedByApp());
  }

  private notifyLocalWatchers(appId: string, userId: string, online: boolean): void {
    const watchers = this.hubs.get(appId)?.watchers.get(userId);
    if (!watchers) return;
    const message = outbound(watchlistEvents([{ name: online ? 'online' : 'offline', user_ids: [userId] }]));
    for (const connection of watchers) connection.transport.send(message);
  }

  private sweep(): void {
    const now = this.now();
    for (const hub of this.hubs.values()) {
      for (const connection of hub.connections.values()) connection.checkLiveness(now);
    }
  }
}

/** Sends the refusal's `pusher:error` and closes with its code. */
function refuse(transport: Transport, error: ProtocolError): null {
  transport.send(outbound(errorMessage(error.pusherCode, error.message)));
  transport.close(error.pusherCode ?? 0, error.closeReason);
  return null;
}
