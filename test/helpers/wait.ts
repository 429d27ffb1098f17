/** Waiting helpers for event-driven tests: every wait has a deadline and fails loudly. */

/** Resolves when `predicate` holds, polling every 10 ms; rejects after `timeoutMs` naming `what`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves with the first value passed to the callback `subscribe` registers; rejects after `timeoutMs`. */
export function once<T>(subscribe: (resolve: (value: T) => void) => void, what: string, timeoutMs = 5_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    subscribe((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Sleeps; only for asserting that something does NOT happen within a window. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
