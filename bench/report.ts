/** The results of a run: ratios to the floor, the JSON file and the markdown table. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MachineInfo } from './machine.js';
import { fanOutPlot } from './plot.js';
import type { ScenarioResult, Sizes } from './scenarios/context.js';

/** A result of a server other than the floor, divided by the floor's result of the same label. */
export interface FloorRatio {
  readonly label: string;
  readonly server: string;
  /** Round of a repeated run: each round is compared with the floor's run of the same round. */
  readonly round?: number;
  readonly cpu_per_msg: number | null;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly rss_per_conn: number | null;
  readonly delivered_per_s: number | null;
}

export interface RunReport {
  readonly started_at: string;
  readonly finished_at: string;
  readonly machine: MachineInfo;
  readonly load_at_end: { uptime: string; loadavg: number[] };
  readonly servers: string[];
  readonly server_core: number;
  readonly load_core: number;
  readonly sizes: Sizes;
  readonly results: ScenarioResult[];
  readonly ratios_to_floor: FloorRatio[];
  /** Rounds per scenario run (`--repeat`). */
  readonly repeat: number;
  /** Median and min-max of each label and server over the rounds. */
  readonly spreads: Spread[];
  readonly errors: { scenario: string; server: string; error: string }[];
}

function ratio(value: number | null | undefined, floor: number | null | undefined): number | null {
  if (value === null || value === undefined || floor === null || floor === undefined || floor <= 0) return null;
  return Math.round((value / floor) * 100) / 100;
}

export function floorRatios(results: readonly ScenarioResult[]): FloorRatio[] {
  const ratios: FloorRatio[] = [];
  for (const result of results) {
    if (result.server === 'floor') continue;
    const floor = results.find((other) => other.server === 'floor' && other.label === result.label && other.round === result.round);
    if (!floor) continue;
    ratios.push({
      label: result.label,
      server: result.server,
      ...(result.round === undefined ? {} : { round: result.round }),
      cpu_per_msg: ratio(result.server_cpu_us_per_msg, floor.server_cpu_us_per_msg),
      p50: ratio(result.latency_ms?.p50, floor.latency_ms?.p50),
      p99: ratio(result.latency_ms?.p99, floor.latency_ms?.p99),
      rss_per_conn: ratio(result.server_rss_bytes_per_conn, floor.server_rss_bytes_per_conn),
      delivered_per_s: ratio(result.delivered_per_s, floor.delivered_per_s),
    });
  }
  return ratios;
}

const dash = '–';

function cell(value: number | null | undefined, suffix = ''): string {
  return value === null || value === undefined ? dash : `${value.toLocaleString('en-US')}${suffix}`;
}

function times(value: number | null | undefined): string {
  return value === null || value === undefined ? dash : `${value}x`;
}

function kb(bytes: number | null): string {
  return bytes === null ? dash : `${(bytes / 1024).toFixed(2)} KB`;
}

/** The results table, with the floor ratios in the last columns. */
export function markdownTable(report: RunReport): string {
  const lines = [
    '| scenario | server | sockets | delivered / expected | msg/s delivered | p50 ms | p99 ms | max ms | server CPU µs/msg | server RSS/conn | load CPU | waited for CPU: server / load | CPU/msg vs floor | p99 vs floor | RSS/conn vs floor |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const result of report.results) {
    const floor = report.ratios_to_floor.find((r) => r.label === result.label && r.server === result.server && r.round === result.round);
    const delivered = result.delivered === null ? dash : `${cell(result.delivered)} / ${cell(result.expected)}${result.lost ? ` (**${cell(result.lost)} lost**)` : ''}`;
    lines.push(
      `| ${result.label}${result.round === undefined ? '' : ` [round ${result.round + 1}]`}${result.notes.length ? ` (${result.notes.join('; ').replace(/\|/g, '/')})` : ''} | ${result.server} | ${cell(result.sockets)} | ${delivered} | ${cell(result.delivered_per_s)} | ${cell(result.latency_ms?.p50)} | ${cell(result.latency_ms?.p99)} | ${cell(result.latency_ms?.max)} | ${cell(result.server_cpu_us_per_msg)} | ${kb(result.server_rss_bytes_per_conn)} | ${cell(result.load_cpu_pct, ' %')} | ${cell(result.cpu_wait_pct.server, ' %')} / ${cell(result.cpu_wait_pct.load, ' %')} | ${times(floor?.cpu_per_msg)} | ${times(floor?.p99)} | ${times(floor?.rss_per_conn)} |`,
    );
  }
  for (const error of report.errors) lines.push(`| ${error.scenario} | ${error.server} | failed: ${error.error.replace(/\|/g, '/').slice(0, 200)} ||||||||||||||`);
  return lines.join('\n');
}

/**
 * Writes `<outDir>/bench-<time>.json` and `.md`, and the fan-out plot (`plotPath`, else
 * `<outDir>/bench-<time>.svg`) when fan-out ran at two rates or more; returns their paths.
 */
export function writeReport(report: RunReport, outDir: string, plotPath: string | null = null): { json: string; markdown: string; svg: string | null } {
  mkdirSync(outDir, { recursive: true });
  const stamp = report.started_at.replace(/[:.]/g, '-');
  const json = join(outDir, `bench-${stamp}.json`);
  const markdown = join(outDir, `bench-${stamp}.md`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  let svg: string | null = null;
  const plot = fanOutPlot([report]);
  if (plot) {
    svg = plotPath ?? join(outDir, `bench-${stamp}.svg`);
    mkdirSync(dirname(svg), { recursive: true });
    writeFileSync(svg, plot);
  }
  const m = report.machine;
  writeFileSync(
    markdown,
    [
      `# Benchmark run ${report.started_at}`,
      '',
      `Machine: ${m.nproc} cores (${m.cpu_model}), ${m.ram_gb} GB RAM, Node ${m.node}, Linux ${m.kernel}; commit ${m.commit}.`,
      `Servers on core ${report.server_core}, load on core ${report.load_core}.`,
      `Load at start: \`${m.uptime}\`; at end: \`${report.load_at_end.uptime}\`.`,
      '',
      markdownTable(report),
      '',
      ...(report.repeat > 1 ? [`Over ${report.repeat} rounds (median, and min-max in brackets):`, '', spreadTable(report), ''] : []),
    ].join('\n'),
  );
  return { json, markdown, svg };
}

/** The median and range of one figure over the rounds. */
export interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** One label and server over every round. */
export interface Spread {
  readonly label: string;
  readonly server: string;
  readonly runs: number;
  /** Messages lost, summed over the rounds. */
  readonly lost: number;
  readonly cpu_us_per_msg: Stat | null;
  readonly p50_ms: Stat | null;
  readonly p99_ms: Stat | null;
  readonly rss_bytes_per_conn: Stat | null;
  readonly delivered_per_s: Stat | null;
  /** The server's CPU per message divided by the floor's of the same round. */
  readonly cpu_vs_floor: Stat | null;
  readonly server_cpu_wait_pct: Stat | null;
}

/** Median, min and max of the numbers present; null when there are none. */
export function stat(values: readonly (number | null | undefined)[]): Stat | null {
  const sorted = values.filter((value): value is number => typeof value === 'number' && Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median: Math.round(median * 1000) / 1000, min: sorted[0], max: sorted[sorted.length - 1], n: sorted.length };
}

/** Groups the results by label and server (in first-seen order) into medians and ranges. */
export function spreads(results: readonly ScenarioResult[]): Spread[] {
  const ratios = floorRatios(results);
  const groups = new Map<string, ScenarioResult[]>();
  for (const result of results) {
    const key = `${result.label}\u0000${result.server}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push(result);
  }
  return [...groups.values()].map((group) => {
    const { label, server } = group[0];
    return {
      label,
      server,
      runs: group.length,
      lost: group.reduce((sum, result) => sum + (result.lost ?? 0), 0),
      cpu_us_per_msg: stat(group.map((result) => result.server_cpu_us_per_msg)),
      p50_ms: stat(group.map((result) => result.latency_ms?.p50)),
      p99_ms: stat(group.map((result) => result.latency_ms?.p99)),
      rss_bytes_per_conn: stat(group.map((result) => result.server_rss_bytes_per_conn)),
      delivered_per_s: stat(group.map((result) => result.delivered_per_s)),
      cpu_vs_floor: stat(ratios.filter((ratio) => ratio.label === label && ratio.server === server).map((ratio) => ratio.cpu_per_msg)),
      server_cpu_wait_pct: stat(group.map((result) => result.cpu_wait_pct.server)),
    };
  });
}

function statCell(value: Stat | null, format: (n: number) => string = (n) => n.toLocaleString('en-US')): string {
  if (value === null) return dash;
  return value.n === 1 ? format(value.median) : `${format(value.median)} (${format(value.min)}–${format(value.max)})`;
}

/** Medians and min-max ranges over the rounds of a repeated run. */
export function spreadTable(report: RunReport): string {
  const lines = [
    '| scenario | server | runs | lost | server CPU µs/msg | CPU/msg vs floor | p50 ms | p99 ms | msg/s delivered | server RSS/conn | server waited for CPU |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of report.spreads) {
    lines.push(
      `| ${s.label} | ${s.server} | ${s.runs} | ${s.lost} | ${statCell(s.cpu_us_per_msg)} | ${statCell(s.cpu_vs_floor, (n) => `${n.toFixed(2)}x`)} | ${statCell(s.p50_ms)} | ${statCell(s.p99_ms)} | ${statCell(s.delivered_per_s)} | ${statCell(s.rss_bytes_per_conn, (n) => `${(n / 1024).toFixed(2)} KB`)} | ${statCell(s.server_cpu_wait_pct, (n) => `${n} %`)} |`,
    );
  }
  return lines.join('\n');
}
