/** What the message handlers (subscriptions, sign-in, client events) need from the node, passed in. */
import type { Logger } from 'pino';
import type { ClusterAdapter } from '../cluster/adapter.js';
import type { App } from '../config/apps.js';
import type { RealtimeEvents } from './events.js';

/**
 * The node's services as the handlers see them. `Realtime` implements it; a handler test may pass
 * its own (a real adapter, a recording fan-out), with no socket anywhere.
 */
export interface RealtimeServices {
  readonly adapter: ClusterAdapter;
  readonly logger: Logger;
  readonly events: RealtimeEvents;
  /** Publishes an event to a channel's subscribers on every node (and the cache of cache channels). */
  publish(app: App, channel: string, event: string, data: unknown, exceptSocketId: string | null, userId?: string): void;
  /** Sends an already serialised frame to a channel's subscribers on every node, uncached. */
  broadcastFrame(app: App, channel: string, frame: string, exceptSocketId: string | null): void;
  /** A channel's cluster-wide subscription count changed, as this node decided. */
  countChanged(app: App, channel: string, count: number, added: boolean): void;
  /** Tells every watcher of a user, on every node, that the user came online or went offline. */
  announcePresence(app: App, userId: string, online: boolean): void;
}
