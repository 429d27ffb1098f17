/** Counts work under way (requests, sockets) so a drain can wait for it to reach zero. */
export class InFlight {
  private count = 0;
  private settledWaiter: (() => void) | null = null;

  /** How much is under way. */
  get size(): number {
    return this.count;
  }

  started(): void {
    this.count++;
  }

  // An arrow property, so it can be passed as a shared listener (no closure per request or socket).
  readonly finished = (): void => {
    this.count--;
    if (this.count === 0 && this.settledWaiter) {
      const settled = this.settledWaiter;
      this.settledWaiter = null;
      settled();
    }
  };

  /** Resolves when nothing is under way, or after `timeoutMs`, whichever comes first. */
  settled(timeoutMs: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(settle, timeoutMs);
      timer.unref();
      function settle(): void {
        clearTimeout(timer);
        resolve();
      }
      this.settledWaiter = settle;
    });
  }
}
