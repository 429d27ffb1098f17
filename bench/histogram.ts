/**
 * A latency histogram that worker processes fill and the runner merges: log-spaced buckets 1 %
 * wide from 1 µs to over 400 s, so percentiles are within 1 % and merging is adding counts.
 */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = 2_000;

/** A histogram as it travels over IPC: only the non-empty buckets. */
export interface HistogramData {
  readonly buckets: [index: number, count: number][];
  readonly count: number;
  readonly maxMs: number;
}

/** p50 / p99 / max of a histogram, in milliseconds (null when it is empty). */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS);
  private total = 0;
  private maxMs = 0;

  /** Records one latency in milliseconds; negative values (clock noise) count as zero. */
  record(ms: number): void {
    const micros = ms * 1000;
    const index = micros <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(micros) / LOG_GROWTH));
    this.counts[index]++;
    this.total++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  get count(): number {
    return this.total;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.maxMs = 0;
  }

  add(data: HistogramData): void {
    for (const [index, count] of data.buckets) this.counts[index] += count;
    this.total += data.count;
    if (data.maxMs > this.maxMs) this.maxMs = data.maxMs;
  }

  toData(): HistogramData {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) buckets.push([i, this.counts[i]]);
    return { buckets, count: this.total, maxMs: this.maxMs };
  }

  /** The upper edge of the bucket holding the p-th percentile, in milliseconds. */
  percentile(p: number): number | null {
    if (this.total === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.maxMs, GROWTH ** i / 1000);
    }
    return this.maxMs;
  }

  summary(): LatencySummary {
    return { count: this.total, p50: round3(this.percentile(50)), p99: round3(this.percentile(99)), max: this.total === 0 ? null : round3(this.maxMs) };
  }

  static merge(parts: readonly HistogramData[]): Histogram {
    const merged = new Histogram();
    for (const part of parts) merged.add(part);
    return merged;
  }
}

function round3(value: number | null): number | null {
  return value === null ? null : Math.round(value * 1000) / 1000;
}
