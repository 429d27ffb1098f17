/**
 * The fan-out plot: latency (p50 and p99) and server CPU per delivered message against the offered
 * load (events/s), one line per server, as a hand-written SVG (no dependency). `npm run bench`
 * writes it when fan-out ran at two rates or more; this file also merges several runs' JSON:
 *
 * `node dist/bench/plot.js docs/img/fan-out-latency.svg bench/results/bench-A.json bench/results/bench-B.json`
 *
 * With repeated rounds (`--repeat`, or several files), each point is the median and a whisker
 * spans the min-max range. A hollow marker means the offered rate was not reached (saturated).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { RunReport } from './report.js';
import type { ScenarioResult } from './scenarios/context.js';

interface Range {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

interface Point {
  readonly rate: number;
  readonly p50: Range | null;
  readonly p99: Range | null;
  readonly cpu: Range | null;
  readonly saturated: boolean;
  readonly runs: number;
}

interface Series {
  readonly server: string;
  readonly points: Point[];
}

const COLORS: Record<string, string> = { herald: '#1f6fb4', 'herald-baseline': '#e07b00', floor: '#6b6b6b', target: '#2a9d4b' };
const FALLBACK_COLORS = ['#8e44ad', '#c0392b', '#16a085'];

function range(values: readonly (number | null | undefined)[]): Range | null {
  const sorted = values.filter((value): value is number => typeof value === 'number' && Number.isFinite(value) && value > 0).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** The offered events/s of a fan-out result (recorded in its details, else read from its label). */
function offeredRate(result: ScenarioResult): number | null {
  const recorded = result.details.offered_events_per_s;
  if (typeof recorded === 'number') return recorded;
  const match = /x (\d+) ev\/s/.exec(result.label);
  return match ? Number(match[1]) : null;
}

function seriesOf(results: readonly ScenarioResult[]): Series[] {
  const byServer = new Map<string, Map<number, ScenarioResult[]>>();
  for (const result of results) {
    if (result.scenario !== 'fan-out') continue;
    const rate = offeredRate(result);
    if (rate === null) continue;
    let rates = byServer.get(result.server);
    if (!rates) byServer.set(result.server, (rates = new Map()));
    let group = rates.get(rate);
    if (!group) rates.set(rate, (group = []));
    group.push(result);
  }
  return [...byServer].map(([server, rates]) => ({
    server,
    points: [...rates]
      .sort(([a], [b]) => a - b)
      .map(([rate, group]) => ({
        rate,
        p50: range(group.map((result) => result.latency_ms?.p50)),
        p99: range(group.map((result) => result.latency_ms?.p99)),
        cpu: range(group.map((result) => result.server_cpu_us_per_msg)),
        saturated: group.some((result) => result.notes.some((note) => note.startsWith('saturated'))),
        runs: group.length,
      })),
  }));
}

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (value: number): string => (value >= 100 ? String(Math.round(value)) : value >= 10 ? value.toFixed(1).replace(/\.0$/, '') : String(Number(value.toPrecision(2))));
const px = (value: number): string => value.toFixed(1);

/** Ticks at 1, 2 and 5 times the powers of ten within [min, max]. */
function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let exponent = Math.floor(Math.log10(min)); exponent <= Math.ceil(Math.log10(max)); exponent++) {
    for (const step of [1, 2, 5]) {
      const tick = step * 10 ** exponent;
      if (tick >= min * 0.999 && tick <= max * 1.001) ticks.push(tick);
    }
  }
  return ticks;
}

interface Panel {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly title: string;
  readonly yLabel: string;
  /** The figures drawn, each as a line: its value of a point, and whether the line is dashed. */
  readonly lines: readonly { readonly pick: (point: Point) => Range | null; readonly dashed: boolean }[];
  /** Linear y axis from 0 (CPU) or logarithmic (latency). */
  readonly logY: boolean;
}

function drawPanel(panel: Panel, series: readonly Series[], rates: readonly number[], colorOf: (server: string) => string): string {
  const out: string[] = [];
  const values: number[] = [];
  for (const s of series) for (const point of s.points) for (const line of panel.lines) {
    const value = line.pick(point);
    if (value) values.push(value.min, value.max);
  }
  if (values.length === 0) return '';
  const xMin = Math.min(...rates) / 1.3;
  const xMax = Math.max(...rates) * 1.3;
  const xOf = (rate: number) => panel.x + ((Math.log(rate) - Math.log(xMin)) / (Math.log(xMax) - Math.log(xMin))) * panel.width;
  let yOf: (value: number) => number;
  let yTicks: number[];
  if (panel.logY) {
    const yMin = 10 ** Math.floor(Math.log10(Math.min(...values)));
    const yMax = 10 ** Math.ceil(Math.log10(Math.max(...values)));
    yOf = (value) => panel.y + panel.height - ((Math.log(value) - Math.log(yMin)) / (Math.log(yMax) - Math.log(yMin))) * panel.height;
    yTicks = logTicks(yMin, yMax);
  } else {
    const top = Math.max(...values) * 1.1;
    const step = [1, 2, 2.5, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(top / 5))).find((candidate) => top / candidate <= 6) ?? top / 5;
    const yMax = Math.ceil(top / step) * step;
    yOf = (value) => panel.y + panel.height - (value / yMax) * panel.height;
    yTicks = Array.from({ length: Math.round(yMax / step) + 1 }, (_, i) => i * step);
  }
  out.push(`<text x="${px(panel.x + panel.width / 2)}" y="${px(panel.y - 12)}" text-anchor="middle" font-weight="bold">${escape(panel.title)}</text>`);
  out.push(`<rect x="${px(panel.x)}" y="${px(panel.y)}" width="${px(panel.width)}" height="${px(panel.height)}" fill="none" stroke="#999"/>`);
  for (const tick of yTicks) {
    const y = yOf(tick);
    out.push(`<line x1="${px(panel.x)}" y1="${px(y)}" x2="${px(panel.x + panel.width)}" y2="${px(y)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${px(panel.x - 6)}" y="${px(y + 4)}" text-anchor="end">${fmt(tick)}</text>`);
  }
  for (const rate of rates) {
    const x = xOf(rate);
    out.push(`<line x1="${px(x)}" y1="${px(panel.y)}" x2="${px(x)}" y2="${px(panel.y + panel.height)}" stroke="#efefef"/>`);
    out.push(`<text x="${px(x)}" y="${px(panel.y + panel.height + 16)}" text-anchor="middle">${rate}</text>`);
  }
  out.push(`<text x="${px(panel.x + panel.width / 2)}" y="${px(panel.y + panel.height + 34)}" text-anchor="middle">offered load, events/s (log scale)</text>`);
  out.push(`<text transform="translate(${px(panel.x - 44)} ${px(panel.y + panel.height / 2)}) rotate(-90)" text-anchor="middle">${escape(panel.yLabel)}</text>`);
  for (const s of series) {
    const color = colorOf(s.server);
    for (const line of panel.lines) {
      const points = s.points.flatMap((point) => {
        const value = line.pick(point);
        return value ? [{ point, value }] : [];
      });
      if (points.length === 0) continue;
      const path = points.map(({ point, value }) => `${px(xOf(point.rate))},${px(yOf(value.median))}`).join(' ');
      out.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"${line.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
      for (const { point, value } of points) {
        const x = xOf(point.rate);
        if (value.max > value.min) out.push(`<line x1="${px(x)}" y1="${px(yOf(value.min))}" x2="${px(x)}" y2="${px(yOf(value.max))}" stroke="${color}" stroke-width="1.5" opacity="0.6"/>`);
        out.push(`<circle cx="${px(x)}" cy="${px(yOf(value.median))}" r="4" fill="${point.saturated ? 'white' : color}" stroke="${color}" stroke-width="2"/>`);
      }
    }
  }
  return out.join('\n');
}

/** The SVG of the fan-out results of one or more runs, or null when fewer than two rates were measured. */
export function fanOutPlot(reports: readonly RunReport[]): string | null {
  const results = reports.flatMap((report) => report.results);
  const series = seriesOf(results);
  const rates = [...new Set(series.flatMap((s) => s.points.map((point) => point.rate)))].sort((a, b) => a - b);
  if (rates.length < 2) return null;
  const subscribers = [...new Set(results.filter((result) => result.scenario === 'fan-out').map((result) => /fan-out (\d+) subs/.exec(result.label)?.[1]).filter(Boolean))];
  let extra = 0;
  const colorOf = (server: string) => COLORS[server] ?? FALLBACK_COLORS[extra++ % FALLBACK_COLORS.length];
  const colors = new Map(series.map((s) => [s.server, colorOf(s.server)]));
  const width = 1000;
  const height = 520;
  const first = reports[0];
  const last = reports[reports.length - 1];
  const rounds = Math.max(...series.flatMap((s) => s.points.map((point) => point.runs)));
  const subtitle = `${first.started_at.slice(0, 16).replace('T', ' ')} UTC${last !== first ? ` to ${last.finished_at.slice(0, 16).replace('T', ' ')} UTC` : ''}; ${first.machine.nproc} cores (${first.machine.cpu_model}), Node ${first.machine.node}; commit ${first.machine.commit}`;
  const subtitle2 = `${rounds > 1 ? `median of up to ${rounds} runs per point, whiskers: min-max` : 'one run per point'}; server on one core, load on another; load average at start ${first.machine.loadavg.join(' / ')}`;
  const legend: string[] = [];
  let lx = 70;
  for (const [server, color] of colors) {
    legend.push(`<line x1="${lx}" y1="${height - 18}" x2="${lx + 24}" y2="${height - 18}" stroke="${color}" stroke-width="3"/><text x="${lx + 30}" y="${height - 14}">${escape(server)}</text>`);
    lx += 40 + server.length * 8 + 20;
  }
  legend.push(`<text x="${lx + 10}" y="${height - 14}">latency: solid p50, dashed p99 · hollow marker: offered rate not reached (saturated)</text>`);
  const panels: Panel[] = [
    { x: 80, y: 90, width: 380, height: 320, title: 'Latency, sender timestamp to receipt', yLabel: 'ms (log scale)', logY: true, lines: [{ pick: (p) => p.p50, dashed: false }, { pick: (p) => p.p99, dashed: true }] },
    { x: 590, y: 90, width: 380, height: 320, title: 'Server CPU per delivered message', yLabel: 'µs per message', logY: false, lines: [{ pick: (p) => p.cpu, dashed: false }] },
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="26" text-anchor="middle" font-size="17" font-weight="bold">Fan-out${subscribers.length === 1 ? `, ${Number(subscribers[0]).toLocaleString('en-US')} subscribers on one channel` : ''}: latency and CPU against load</text>`,
    `<text x="${width / 2}" y="46" text-anchor="middle" font-size="11" fill="#555">${escape(subtitle)}</text>`,
    `<text x="${width / 2}" y="61" text-anchor="middle" font-size="11" fill="#555">${escape(subtitle2)}</text>`,
    ...panels.map((panel) => drawPanel(panel, series, rates, (server) => colors.get(server) ?? '#000')),
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}

function main(): void {
  const [out, ...files] = process.argv.slice(2);
  if (!out || files.length === 0) {
    process.stderr.write('usage: node dist/bench/plot.js OUT.svg RESULTS.json [RESULTS.json ...]\n');
    process.exit(2);
  }
  const svg = fanOutPlot(files.map((file) => JSON.parse(readFileSync(file, 'utf8')) as RunReport));
  if (!svg) {
    process.stderr.write('plot: the results hold fan-out runs at fewer than two rates\n');
    process.exit(1);
  }
  writeFileSync(out, svg);
  process.stderr.write(`plot: ${out}\n`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) main();
