/** The results of a run: ratios to the floor, the JSON file and the markdown table. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from './machine.js';
import type { ScenarioResult, Sizes } from './scenarios/context.js';

/** A result of a server other than the floor, divided by the floor's result of the same label. */
export interface FloorRatio {
  readonly label: string;
  readonly server: string;
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
    const floor = results.find((other) => other.server === 'floor' && other.label === result.label);
    if (!floor) continue;
    ratios.push({
      label: result.label,
      server: result.server,
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
    const floor = report.ratios_to_floor.find((r) => r.label === result.label && r.server === result.server);
    const delivered = result.delivered === null ? dash : `${cell(result.delivered)} / ${cell(result.expected)}${result.lost ? ` (**${cell(result.lost)} lost**)` : ''}`;
    lines.push(
      `| ${result.label}${result.notes.length ? ` (${result.notes.join('; ').replace(/\|/g, '/')})` : ''} | ${result.server} | ${cell(result.sockets)} | ${delivered} | ${cell(result.delivered_per_s)} | ${cell(result.latency_ms?.p50)} | ${cell(result.latency_ms?.p99)} | ${cell(result.latency_ms?.max)} | ${cell(result.server_cpu_us_per_msg)} | ${kb(result.server_rss_bytes_per_conn)} | ${cell(result.load_cpu_pct, ' %')} | ${cell(result.cpu_wait_pct.server, ' %')} / ${cell(result.cpu_wait_pct.load, ' %')} | ${times(floor?.cpu_per_msg)} | ${times(floor?.p99)} | ${times(floor?.rss_per_conn)} |`,
    );
  }
  for (const error of report.errors) lines.push(`| ${error.scenario} | ${error.server} | failed: ${error.error.replace(/\|/g, '/').slice(0, 200)} ||||||||||||||`);
  return lines.join('\n');
}

/** Writes `<outDir>/bench-<time>.json` and `.md`; returns their paths. */
export function writeReport(report: RunReport, outDir: string): { json: string; markdown: string } {
  mkdirSync(outDir, { recursive: true });
  const stamp = report.started_at.replace(/[:.]/g, '-');
  const json = join(outDir, `bench-${stamp}.json`);
  const markdown = join(outDir, `bench-${stamp}.md`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
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
    ].join('\n'),
  );
  return { json, markdown };
}
