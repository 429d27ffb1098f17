/** A token bucket: a steady rate with a bounded burst, on an injected clock. Pure, no timers. */

/** Refills `rate` tokens per second up to `capacity`; each admitted request takes its cost. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    /** Tokens added per second. */
    readonly rate: number,
    /** Most tokens the bucket holds: the largest burst it admits after a quiet spell. */
    readonly capacity: number,
    nowMs: number,
  ) {
    this.tokens = capacity;
    this.updatedAt = nowMs;
  }

  /**
   * Takes `cost` tokens if the bucket has them and returns 0; otherwise takes nothing and returns
   * the milliseconds until it will have them. A cost above the capacity is charged as the whole
   * capacity, so a large request waits for a full bucket instead of being refused forever.
   */
  take(cost: number, nowMs: number): number {
    // A clock that steps back refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, nowMs - this.updatedAt);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.rate) / 1000);
    this.updatedAt = nowMs;
    const need = Math.min(cost, this.capacity);
    if (this.tokens >= need) {
      this.tokens -= need;
      return 0;
    }
    return Math.ceil(((need - this.tokens) * 1000) / this.rate);
  }

  /** Whether the bucket would be full at `nowMs` (it then carries no state worth keeping). */
  isFull(nowMs: number): boolean {
    return this.tokens + (Math.max(0, nowMs - this.updatedAt) * this.rate) / 1000 >= this.capacity;
  }
}
