/**
 * Summarises V8 CPU profiles (`npm run bench -- --cpu-prof` writes Herald's to
 * bench/results/profiles/): the functions and files with the most self time, and the functions
 * with the most inclusive time (self and everything they call), as shares of the busy time.
 *
 * `node dist/bench/profile-summary.js bench/results/profiles/herald-fan-out-20.cpuprofile [top] [filter]`
 * (`filter`: only list inclusive times of frames whose name or file contains it, e.g. `dist/src`).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  /** Sampled time, and the part of it not `(idle)`, in microseconds. */
  readonly total: number;
  readonly busy: number;
  readonly self: [string, number][];
  readonly files: [string, number][];
  readonly inclusive: [string, number][];
}

function shortUrl(url: string): string {
  if (!url.startsWith('file://')) return url;
  const path = relative(process.cwd(), fileURLToPath(url));
  const modules = path.lastIndexOf('node_modules/');
  return modules === -1 ? path : path.slice(modules + 'node_modules/'.length);
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ''}`;
}

const sortedEntries = (map: Map<string, number>): [string, number][] => [...map].sort((a, b) => b[1] - a[1]);

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}

export function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const files = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    total += delta;
    if (node.callFrame.functionName === '(idle)') return;
    busy += delta;
    add(self, frameName(node), delta);
    add(files, shortUrl(node.callFrame.url) || node.callFrame.functionName, delta);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = frameName(byId.get(at)!);
      if (!seen.has(name)) {
        seen.add(name);
        add(inclusive, name, delta);
      }
    }
  });
  return { total, busy, self: sortedEntries(self), files: sortedEntries(files), inclusive: sortedEntries(inclusive) };
}

function main(): void {
  const [file, topArg, filter] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile-summary.js FILE.cpuprofile [top] [filter]\n');
    process.exit(2);
  }
  const top = Number(topArg ?? 30);
  const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const pct = (value: number) => `${((value / summary.busy) * 100).toFixed(1).padStart(5)} %`;
  const list = (entries: [string, number][]) => entries.slice(0, top).map(([name, time]) => `${pct(time)}  ${name}`);
  const inclusive = summary.inclusive.filter(([name]) => !name.startsWith('(root)') && (filter === undefined || name.includes(filter)));
  const lines = [
    `${file}: ${(summary.total / 1000).toFixed(0)} ms sampled, ${(summary.busy / 1000).toFixed(0)} ms busy (percentages are of busy time)`,
    '',
    'self time by function:',
    ...list(summary.self),
    '',
    'self time by file:',
    ...list(summary.files),
    '',
    `inclusive time by function${filter === undefined ? '' : ` (matching ${filter})`}:`,
    ...list(inclusive),
    '',
  ];
  process.stdout.on('error', () => undefined);
  process.stdout.write(lines.join('\n'));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) main();
