/**
 * Where the memory of an idle connection goes: starts a server (Herald or the floor) pinned like the
 * benchmark does, takes a V8 heap snapshot (`--heapsnapshot-signal`, after a full GC), opens N
 * sockets each subscribed to its own private channel, takes another, and prints per connection the
 * RSS growth, the live heap growth, and the heap growth by constructor (what `ws`, `net.Socket`,
 * Node's stream states and Herald's own objects each cost).
 *
 * `node dist/bench/memory-probe.js [--server herald|floor|both] [--connections 10000] [--top 30] [--cli OTHER/dist/src/cli.js]`
 * (`--cli`: probe another Herald build).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { installCleanup, killAllChildren } from './children.js';
import { LoadPool } from './load/pool.js';
import type { ScenarioContext, ServerUnderTest } from './scenarios/context.js';
import { connectSubscribers } from './scenarios/subscribers.js';
import { processRssBytes, startFloorProcess, startHeraldProcess, type ServerProcess } from './server-process.js';

interface HeapSnapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: [string[], ...unknown[]] } };
  readonly nodes: number[];
  readonly strings: string[];
}

/** Self size and count of the heap's nodes by kind: the constructor for objects, the node type otherwise. */
function tally(file: string): Map<string, { bytes: number; count: number }> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const byKind = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]];
    const name = heap.strings[heap.nodes[i + nameAt]];
    const kind = type === 'object' || type === 'native' || type === 'closure' ? `${type === 'object' ? '' : `(${type}) `}${name}` : `(${type})`;
    let entry = byKind.get(kind);
    if (!entry) byKind.set(kind, (entry = { bytes: 0, count: 0 }));
    entry.bytes += heap.nodes[i + sizeAt];
    entry.count++;
  }
  return byKind;
}

/** Asks the server for a heap snapshot and waits until the file is complete; returns its path. */
async function snapshot(server: ServerProcess, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(server.pid, 'SIGUSR2');
  const deadline = Date.now() + 120_000;
  for (;;) {
    const file = readdirSync(dir).find((name) => name.endsWith('.heapsnapshot') && !before.has(name));
    if (file) {
      // The event loop is blocked while V8 writes: once the server answers again, the file is complete.
      try {
        const response = await fetch(`http://${server.host}:${server.port}/health`, { signal: AbortSignal.timeout(60_000) });
        await response.arrayBuffer();
        const path = join(dir, file);
        if (existsSync(path) && statSync(path).size > 0) return path;
      } catch {
        // Still writing.
      }
    }
    if (Date.now() > deadline) throw new Error('no heap snapshot within 120 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function probe(kind: 'herald' | 'floor', connections: number, top: number, cli: string | undefined): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `herald-memory-${kind}-`));
  const nodeArgs = ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`];
  const server = kind === 'herald' ? await startHeraldProcess({ core: 0, nodeArgs, cli }) : await startFloorProcess({ core: 0, nodeArgs });
  const pool = new LoadPool(1);
  try {
    const first = await snapshot(server, dir);
    const rssBefore = processRssBytes(server.pid);
    const under: ServerUnderTest = { name: kind, address: { host: server.host, port: server.port, app: server.app }, pid: server.pid };
    const ctx: ScenarioContext = {
      server: under,
      sizes: {} as ScenarioContext['sizes'],
      loadCore: 1,
      subscriberWorkers: 1,
      log: (message) => process.stderr.write(`[${kind}] ${message}\n`),
    };
    const group = await connectSubscribers(ctx, pool, connections, { kind: 'per-socket', prefix: 'private-probe-', count: connections });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const rssConnected = processRssBytes(server.pid);
    const second = await snapshot(server, dir);
    const rssAfterSnapshot = processRssBytes(server.pid);
    const a = tally(first);
    const b = tally(second);
    const rows = [...new Set([...a.keys(), ...b.keys()])]
      .map((key) => ({ key, bytes: (b.get(key)?.bytes ?? 0) - (a.get(key)?.bytes ?? 0), count: (b.get(key)?.count ?? 0) - (a.get(key)?.count ?? 0) }))
      .sort((x, y) => y.bytes - x.bytes);
    const heapDelta = rows.reduce((sum, row) => sum + row.bytes, 0);
    const n = group.connected;
    const lines = [
      `## ${kind}: ${n} subscribed idle sockets`,
      '',
      `- RSS per connection: ${Math.round((rssConnected - rssBefore) / n)} bytes (${(rssBefore / 2 ** 20).toFixed(1)} MB before, ${(rssConnected / 2 ** 20).toFixed(1)} MB connected; ${(rssAfterSnapshot / 2 ** 20).toFixed(1)} MB after the second snapshot's GC)`,
      `- live JS heap per connection (after a full GC, as the snapshots count it): ${Math.round(heapDelta / n)} bytes`,
      '',
      '| what (constructor, or node type) | per connection: objects | per connection: bytes |',
      '| --- | ---: | ---: |',
      ...rows.slice(0, top).map((row) => `| ${row.key.replace(/\|/g, '/').slice(0, 80)} | ${(row.count / n).toFixed(2)} | ${Math.round(row.bytes / n)} |`),
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await pool.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { server: { type: 'string', default: 'both' }, connections: { type: 'string', default: '10000' }, top: { type: 'string', default: '30' }, cli: { type: 'string' } } });
  installCleanup();
  const kinds = values.server === 'both' ? (['herald', 'floor'] as const) : [values.server as 'herald' | 'floor'];
  for (const kind of kinds) await probe(kind, Number(values.connections), Number(values.top), values.cli);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`memory-probe: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    killAllChildren();
    process.exit(1);
  },
);
