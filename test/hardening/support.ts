/** Shared pieces of the hardening tests: real server processes with an apps file, their memory, raw sockets. */
import type { ChildProcess } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHeraldProcess, type HeraldProcess } from '../helpers/herald-process.js';
import { RawClient, type RawOptions } from '../helpers/raw-client.js';

/** App credentials as the tests use them. */
export interface TestApp {
  readonly id: string;
  readonly key: string;
  readonly secret: string;
}

/** Writes `apps` as an apps file in `dir` and starts `herald start` on it with a SQLite file in `dir`. */
export function startWithApps(options: {
  readonly dir: string;
  readonly apps: readonly Record<string, unknown>[];
  readonly tracker: Set<ChildProcess>;
  readonly env?: Record<string, string>;
  readonly database?: string;
}): Promise<HeraldProcess> {
  const appsFile = join(options.dir, 'apps.json');
  writeFileSync(appsFile, JSON.stringify({ apps: options.apps }));
  return startHeraldProcess({
    databaseUrl: `sqlite:${options.database ?? join(options.dir, 'herald.db')}`,
    env: { HERALD_APPS_FILE: appsFile, ...options.env },
    tracker: options.tracker,
  });
}

/** Memory of a server process: RSS from /proc, V8 heap in use from its own `/metrics`. */
export interface Memory {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

/** Reads a server process's memory. */
export async function memoryOf(node: HeraldProcess): Promise<Memory> {
  const status = readFileSync(`/proc/${node.child.pid}/status`, 'utf8');
  const rss = /VmRSS:\s+(\d+) kB/.exec(status);
  const metrics = await metricsOf(node);
  return { rssBytes: rss ? Number(rss[1]) * 1024 : Number.NaN, heapUsedBytes: metrics.get('nodejs_heap_size_used_bytes') ?? Number.NaN };
}

/** The server's Prometheus samples, by series (`name` or `name{labels}`). */
export async function metricsOf(node: HeraldProcess): Promise<Map<string, number>> {
  const response = await fetch(`${node.baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** A raw socket on `/app/{key}` of a server, open. */
export function rawSocket(port: number, key: string, options: RawOptions = {}): Promise<RawClient> {
  return RawClient.connect(`ws://127.0.0.1:${port}/app/${encodeURIComponent(key)}?protocol=7&client=hardening&version=1`, options);
}

/** The `auth` of a private or presence subscription, signed here with the app secret. */
export function channelAuth(app: TestApp, socketId: string, channel: string, channelData?: string): string {
  const signed = channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
  return `${app.key}:${createHmac('sha256', app.secret).update(signed).digest('hex')}`;
}

/** Megabytes, for messages. */
export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * `/apps/{id}{path}?...&auth_signature=...`: a path signed the Pusher way, here, with the path kept
 * exactly as given (no normalisation, no re-encoding), for raw requests.
 */
export function signedPath(app: TestApp, method: string, path: string, body?: string): string {
  const fullPath = `/apps/${app.id}${path}`;
  const params: Record<string, string> = { auth_key: app.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: '1.0' };
  if (body !== undefined) params.body_md5 = createHash('md5').update(body).digest('hex');
  const keys = Object.keys(params).sort();
  const signature = createHmac('sha256', app.secret)
    .update(`${method}\n${fullPath}\n${keys.map((key) => `${key}=${params[key]}`).join('&')}`)
    .digest('hex');
  return `${fullPath}?${keys.map((key) => `${key}=${encodeURIComponent(params[key])}`).join('&')}&auth_signature=${signature}`;
}
