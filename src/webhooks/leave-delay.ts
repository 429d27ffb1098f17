/**
 * Holds `channel_vacated` and `member_removed` back for a while (Pusher waits 3 s): a channel
 * occupied again, or a member back, within that time drops both events, so a page reload or a
 * reconnect does not look like leaving and coming back to the app's backend.
 */
import type { WebhookEvent } from './webhook-events.js';

/** An event of an app. */
export interface AppEvent {
  readonly appId: string;
  readonly event: WebhookEvent;
}

interface Held {
  readonly item: AppEvent;
  readonly timer: NodeJS.Timeout;
}

/** The key of what a leave/come-back pair is about, or null for events that are never held. */
function keyOf({ appId, event }: AppEvent): { key: string; leaving: boolean } | null {
  switch (event.name) {
    case 'channel_vacated':
    case 'channel_occupied':
      return { key: JSON.stringify(['channel', appId, event.channel]), leaving: event.name === 'channel_vacated' };
    case 'member_removed':
    case 'member_added':
      return { key: JSON.stringify(['member', appId, event.channel, event.user_id]), leaving: event.name === 'member_removed' };
    default:
      return null;
  }
}

/** Delays leaves; `release` gets each one that was not undone in time. */
export class LeaveDelay {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly delayMs: number,
    private readonly release: (item: AppEvent) => void,
  ) {}

  /** Events held right now. */
  get size(): number {
    return this.held.size;
  }

  /**
   * Offers an event. Returns true when it was taken (a leave now held, or a come-back that
   * cancelled a held leave: both are dropped); false when the caller should pass it on now.
   */
  offer(item: AppEvent): boolean {
    const found = keyOf(item);
    if (!found) return false;
    const held = this.held.get(found.key);
    if (!found.leaving) {
      if (!held) return false;
      clearTimeout(held.timer);
      this.held.delete(found.key);
      return true;
    }
    // A second leave while one is held (not expected from the core) changes nothing.
    if (held) return true;
    const timer = setTimeout(() => {
      this.held.delete(found.key);
      this.release(item);
    }, this.delayMs);
    timer.unref();
    this.held.set(found.key, { item, timer });
    return true;
  }

  /** Releases every held event now, in the order they were held (on shutdown). */
  flush(): void {
    const items = [...this.held.values()];
    this.held.clear();
    for (const { item, timer } of items) {
      clearTimeout(timer);
      this.release(item);
    }
  }
}
