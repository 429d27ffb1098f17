/**
 * Holds `channel_vacated` and `member_removed` back for a while (Pusher waits 3 s): a channel
 * occupied again, or a member back, within that time drops both events, so a page reload or a
 * reconnect does not look like leaving and coming back to the app's backend.
 *
 * The cancellation sees only this node's events. In a cluster the return may happen on another
 * node (a reload that the load balancer sends elsewhere), which reports it at once; so when the
 * delay runs out, the leave is checked against the cluster-wide state (`stillGone`) and dropped
 * if the channel or member is back.
 */
import type { ClusterAdapter } from '../cluster/adapter.js';
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

/** The cluster-wide state a held leave is checked against when its delay runs out. */
export type LeaveState = Pick<ClusterAdapter, 'channelStats' | 'presenceMembers'>;

/**
 * Whether a leave still holds cluster-wide: the channel has no subscriber on any node, or the user
 * no socket in the channel on any node. Rejects when the shared state cannot be read.
 */
export async function stillGone(state: LeaveState, { appId, event }: AppEvent): Promise<boolean> {
  switch (event.name) {
    case 'channel_vacated':
      return (await state.channelStats(appId, event.channel)).subscriptionCount === 0;
    case 'member_removed':
      return !(await state.presenceMembers(appId, event.channel)).some((member) => member.userId === event.user_id);
    default:
      return true;
  }
}

/** Delays leaves; `release` gets each one that was not undone in time (and, given `stillGone`, that still holds). */
export class LeaveDelay {
  private readonly held = new Map<string, Held>();
  /** Leaves whose delay ran out, waiting for `stillGone`; a return meanwhile drops both, as within the delay. */
  private readonly checking = new Map<string, AppEvent>();

  constructor(
    private readonly delayMs: number,
    private readonly release: (item: AppEvent) => void,
    private readonly stillGone: ((item: AppEvent) => Promise<boolean>) | null = null,
  ) {}

  /** Events held right now. */
  get size(): number {
    return this.held.size + this.checking.size;
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
      if (this.checking.delete(found.key)) return true;
      if (!held) return false;
      clearTimeout(held.timer);
      this.held.delete(found.key);
      return true;
    }
    // A second leave while one is held (not expected from the core) changes nothing.
    if (held || this.checking.has(found.key)) return true;
    const timer = setTimeout(() => {
      this.held.delete(found.key);
      this.expire(found.key, item);
    }, this.delayMs);
    timer.unref();
    this.held.set(found.key, { item, timer });
    return true;
  }

  /** Releases every held event now, in the order they were held, unchecked (on shutdown). */
  flush(): void {
    const checked = [...this.checking.values()];
    this.checking.clear();
    for (const item of checked) this.release(item);
    const items = [...this.held.values()];
    this.held.clear();
    for (const { item, timer } of items) {
      clearTimeout(timer);
      this.release(item);
    }
  }

  /** The delay ran out: releases the leave, after checking it still holds when `stillGone` is given. */
  private expire(key: string, item: AppEvent): void {
    if (!this.stillGone) return this.release(item);
    this.checking.set(key, item);
    // Unreadable shared state (Redis down): release, as a node on its own would.
    void this.stillGone(item)
      .catch(() => true)
      .then((gone) => {
        // Dropped by a return meanwhile, or released by flush().
        if (this.checking.get(key) !== item) return;
        this.checking.delete(key);
        if (gone) this.release(item);
      });
  }
}
