/**
 * The node's pub/sub subscriptions: one topic per channel and per user, subscribed only while a
 * local socket needs it (centrifuge's model), so a node receives only the messages of its own
 * sockets. Sharded pub/sub (`SSUBSCRIBE`) spreads the topics over the slots of a Redis Cluster;
 * a Redis older than 7 gets classic `SUBSCRIBE`.
 */
import type { ClusterTraffic } from './adapter.js';
import type { RedisClient } from './redis-scripts.js';

/** Topics per `SSUBSCRIBE` when a standalone Redis comes back (one command each on a cluster). */
const RESUBSCRIBE_BATCH = 500;

/** Counted subscriptions of one subscriber connection (or Redis Cluster client). */
export class TopicSubscriptions {
  readonly traffic: ClusterTraffic = { published: 0, received: 0, echoes: 0, topics: 0 };
  /** Local listeners per topic. */
  private readonly listeners = new Map<string, number>();
  /** Subscriptions on their way, so a second listener waits for the same one. */
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly sub: RedisClient,
    /** SSUBSCRIBE (Redis 7) rather than SUBSCRIBE. */
    private readonly sharded: () => boolean,
  ) {}

  /** One more local listener; resolves once the topic's messages reach this node. */
  listen(topic: string): Promise<void> {
    const count = this.listeners.get(topic) ?? 0;
    this.listeners.set(topic, count + 1);
    if (count > 0) return this.pending.get(topic) ?? Promise.resolve();
    this.traffic.topics++;
    const subscribed = this.command('subscribe', [topic]);
    this.pending.set(topic, subscribed);
    const settled = () => {
      if (this.pending.get(topic) === subscribed) this.pending.delete(topic);
    };
    subscribed.then(settled, settled);
    return subscribed;
  }

  /** One local listener less; the last one unsubscribes. */
  unlisten(topic: string): void {
    const count = this.listeners.get(topic);
    if (count === undefined) return;
    if (count > 1) {
      this.listeners.set(topic, count - 1);
      return;
    }
    this.listeners.delete(topic);
    this.pending.delete(topic);
    this.traffic.topics--;
    // A connection that is down has no subscriptions left to end: nothing to retry.
    this.command('unsubscribe', [topic]).catch(() => undefined);
  }

  /** After a standalone Redis connection came back: subscribes to every topic with listeners again. */
  resubscribeAll(onError: (error: unknown) => void): void {
    const topics = [...this.listeners.keys()];
    for (let i = 0; i < topics.length; i += RESUBSCRIBE_BATCH) {
      this.command('subscribe', topics.slice(i, i + RESUBSCRIBE_BATCH)).catch(onError);
    }
  }

  private async command(kind: 'subscribe' | 'unsubscribe', topics: string[]): Promise<void> {
    if (this.sharded()) {
      if (kind === 'subscribe') await this.sub.ssubscribe(...topics);
      else await this.sub.sunsubscribe(...topics);
    } else if (kind === 'subscribe') {
      await this.sub.subscribe(...topics);
    } else {
      await this.sub.unsubscribe(...topics);
    }
  }
}
