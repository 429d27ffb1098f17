/**
 * Gives back the young generation V8 grew during a burst, once the process has gone quiet.
 *
 * Every object starts in V8's young generation. While thousands of sockets connect, their objects
 * survive scavenges, and V8 doubles the young generation up to its maximum (2 x 16 MB on 64-bit
 * Node 20). It shrinks it again only in a garbage collection that reduces memory (the memory
 * reducer's, or a low-memory notification), and an idle server allocates too little to get one: the
 * 32 MB stay resident, 3 KB per connection at 10,000 (docs/benchmarks.md, idle memory). Once the
 * young generation has grown and stayed quiet for a few checks, this asks V8 for a low-memory
 * collection, through the in-process inspector session (`HeapProfiler.collectGarbage`: no port, no
 * flag). V8 shrinks the young generation to its minimum; it grows again with the next burst.
 *
 * The collection stops the event loop while it runs: about 0.3 s at 10,000 connections, more with a
 * larger heap. So it runs only when it returns a fair share of the heap (a large old generation
 * gains little from it and pays a longer pause), never twice without new growth, and never while
 * the server allocates at more than `quietBytesPerSecond` (a sign of traffic).
 */
import { getHeapSpaceStatistics } from 'node:v8';

/** The young generation's state at one check. */
export interface YoungGenerationSample {
  /** Bytes V8 has reserved for the young generation (`new_space` space size). */
  readonly capacity: number;
  /** Bytes allocated in it since its last scavenge (`new_space` used size). */
  readonly used: number;
  /** Bytes in use in the old generation (`old_space` used size). */
  readonly oldUsed: number;
}

/** When to trim. */
export interface TrimPolicyOptions {
  /** Young generation capacity from which it counts as grown. */
  readonly grownBytes: number;
  /** Consecutive quiet checks before a trim. */
  readonly quietChecks: number;
  /** Young-generation allocation between two checks below which a check is quiet. */
  readonly quietBytesPerCheck: number;
  /** The reclaimable young generation must be at least this share of the old generation's bytes. */
  readonly minShareOfOld: number;
}

export const DEFAULT_TRIM_POLICY: TrimPolicyOptions = {
  grownBytes: 8 * 1024 * 1024,
  quietChecks: 3,
  // One check per second: under 1 MB/s, V8's own threshold of a low allocation rate.
  quietBytesPerCheck: 1024 * 1024,
  minShareOfOld: 0.2,
};

/** Decides, check by check, whether a trim is worth its pause now. Pure: fed samples, no clock. */
export class TrimPolicy {
  private previous: YoungGenerationSample | null = null;
  private quiet = 0;

  constructor(private readonly options: TrimPolicyOptions = DEFAULT_TRIM_POLICY) {}

  /** Records one check; true when the process should trim now. */
  check(sample: YoungGenerationSample): boolean {
    const previous = this.previous;
    this.previous = sample;
    // A fall in `used` means a scavenge since the last check: more was allocated than we can see.
    const quiet = previous !== null && sample.used >= previous.used && sample.used - previous.used < this.options.quietBytesPerCheck;
    this.quiet = quiet ? this.quiet + 1 : 0;
    if (this.quiet < this.options.quietChecks) return false;
    if (sample.capacity < this.options.grownBytes) return false;
    return sample.capacity >= this.options.minShareOfOld * sample.oldUsed;
  }

  /** After a trim: start counting quiet checks again from the trimmed state. */
  trimmed(): void {
    this.previous = null;
    this.quiet = 0;
  }
}

/** Reads the young generation's state from V8. */
export function youngGeneration(): YoungGenerationSample {
  let capacity = 0;
  let used = 0;
  let oldUsed = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'new_space') {
      capacity = space.space_size;
      used = space.space_used_size;
    } else if (space.space_name === 'old_space') {
      oldUsed = space.space_used_size;
    }
  }
  return { capacity, used, oldUsed };
}

/** What a trim did. */
export interface TrimResult {
  readonly freedBytes: number;
  readonly pauseMs: number;
}

/** A low-memory collection of this process; null when Node has no inspector (built without it). */
export async function openLowMemoryCollector(): Promise<(() => Promise<void>) | null> {
  let inspector: typeof import('node:inspector');
  try {
    inspector = await import('node:inspector');
  } catch {
    return null;
  }
  return async () => {
    const session = new inspector.Session();
    session.connect();
    // Each post is made from a promise continuation: a post made inside another's callback never answers.
    const post = (method: string) => new Promise<void>((resolve, reject) => session.post(method, (error) => (error ? reject(error) : resolve())));
    try {
      await post('HeapProfiler.enable');
      await post('HeapProfiler.collectGarbage');
    } finally {
      session.disconnect();
    }
  };
}

/** Checks the young generation every `intervalMs` and trims it when the policy says so. */
export class IdleMemoryTrim {
  private readonly timer: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly collect: () => Promise<void>,
    private readonly onTrim: (result: TrimResult) => void,
    private readonly onError: (error: unknown) => void,
    private readonly policy = new TrimPolicy(),
    private readonly sample: () => YoungGenerationSample = youngGeneration,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  /** Runs one check (the timer's work). */
  async tick(): Promise<void> {
    if (this.running || !this.policy.check(this.sample())) return;
    this.running = true;
    const before = process.memoryUsage.rss();
    const started = performance.now();
    try {
      await this.collect();
      this.onTrim({ freedBytes: before - process.memoryUsage.rss(), pauseMs: performance.now() - started });
    } catch (error) {
      this.onError(error);
    } finally {
      this.policy.trimmed();
      this.running = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
