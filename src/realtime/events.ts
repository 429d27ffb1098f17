/**
 * What happens in the realtime core that others react to (webhooks, metrics, the dashboard).
 * Cluster-wide facts (occupied, vacated, member added/removed) are emitted on exactly one node.
 */
import type { App } from '../config/apps.js';

/** One realtime fact. Names follow Pusher's webhook event names where one exists. */
export type RealtimeEvent =
  | { readonly type: 'channel_occupied'; readonly app: App; readonly channel: string }
  | { readonly type: 'channel_vacated'; readonly app: App; readonly channel: string }
  | { readonly type: 'member_added'; readonly app: App; readonly channel: string; readonly userId: string }
  | { readonly type: 'member_removed'; readonly app: App; readonly channel: string; readonly userId: string }
  | { readonly type: 'client_event'; readonly app: App; readonly channel: string; readonly event: string; readonly data: unknown; readonly socketId: string; readonly userId: string | null }
  | { readonly type: 'cache_miss'; readonly app: App; readonly channel: string }
  | { readonly type: 'subscription_count'; readonly app: App; readonly channel: string; readonly count: number }
  | { readonly type: 'connection_opened'; readonly app: App; readonly socketId: string }
  | { readonly type: 'connection_closed'; readonly app: App; readonly socketId: string }
  | { readonly type: 'connection_refused'; readonly appKey: string; readonly code: number }
  /**
   * An event published on this node (HTTP trigger, inbox delivery); emitted only while someone
   * listens. `data()` builds its data: most listeners only count, and an inbox push publishes
   * thousands of events whose data nobody reads.
   */
  | { readonly type: 'event_published'; readonly app: App; readonly channel: string; readonly event: string; readonly data: () => unknown };

export type RealtimeListener = (event: RealtimeEvent) => void;

/** Fans realtime events out to listeners; a listener's exception is reported, never propagated. */
export class RealtimeEvents {
  private listeners: RealtimeListener[] = [];

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  /** Adds a listener; returns a function that removes it. */
  listen(listener: RealtimeListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Whether anyone listens (so callers can skip building events nobody reads). */
  get active(): boolean {
    return this.listeners.length > 0;
  }

  emit(event: RealtimeEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
