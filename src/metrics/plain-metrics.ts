/** Metrics whose values are plain numbers kept elsewhere and read when scraped. */
import { Counter, Gauge, type Registry } from 'prom-client';

/** A counter reading a monotonic number kept elsewhere (no label lookup where it is counted). */
export function plainCounter(registers: Registry[], name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A gauge reading a number kept elsewhere. */
export function plainGauge(registers: Registry[], name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}
