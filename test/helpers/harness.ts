/** Test harness: a real Herald node on a free loopback port, and official clients pointed at it. */
import Pusher from 'pusher';
import { PusherJs as PusherClient, type PusherJsOptions as PusherClientOptions } from '../../src/client/pusher-js.js';
import { defineApp, type App } from '../../src/config/apps.js';
import type { RealtimeOptions } from '../../src/realtime/realtime.js';
import { createServer, type HeraldDeps, type HeraldServer } from '../../src/server.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { RawClient, type RawOptions } from './raw-client.js';

/** Options for a test node. */
export interface HarnessOptions {
  readonly apps?: Parameters<typeof defineApp>[0][];
  readonly realtime?: Partial<RealtimeOptions>;
  readonly deps?: Partial<HeraldDeps>;
}

/** A started node and helpers to reach it. */
export interface Harness {
  readonly server: HeraldServer;
  readonly port: number;
  readonly app: App;
  /** Every app of the node, in the order given. */
  readonly apps: readonly App[];
  /** `http://127.0.0.1:{port}`. */
  readonly baseUrl: string;
  /** A raw `ws` socket on `/app/{key}` (default: the first app's key), open; closed with the harness. */
  raw(options?: RawOptions & { key?: string; query?: string }): Promise<RawClient>;
  /** A pusher-js client for the first app (or the given key), connecting over WebSocket only. */
  client(options?: Partial<PusherClientOptions> & { key?: string }): PusherClient;
  /** The official `pusher` server SDK for an app (default: the first). */
  backend(app?: App): Pusher;
  close(): Promise<void>;
}

/** Default test app: client events on, short limits irrelevant. */
export const TEST_APP = { id: 'test-app', key: 'test-key', secret: 'test-secret', client_events: true };

/** Starts a node on 127.0.0.1 with a free port. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const apps = (options.apps ?? [TEST_APP]).map(defineApp);
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-test-'));
  const store = options.deps?.store ?? SqliteStore.open(join(dataDir, 'herald.db'));
  const server = createServer({ apps, store, realtime: options.realtime, scheduler: { intervalMs: 50 }, ...options.deps });
  const { port } = await server.listen(0, '127.0.0.1');
  const clients: PusherClient[] = [];
  const raws: RawClient[] = [];
  let closing: Promise<void> | null = null;
  return {
    server,
    port,
    app: apps[0],
    apps,
    baseUrl: `http://127.0.0.1:${port}`,
    async raw(rawOptions = {}) {
      const { key, query, ...rest } = rawOptions;
      const url = `ws://127.0.0.1:${port}/app/${key ?? apps[0].key}?${query ?? 'protocol=7&client=raw&version=1'}`;
      const client = await RawClient.connect(url, rest);
      raws.push(client);
      return client;
    },
    client(clientOptions = {}) {
      const { key, ...rest } = clientOptions;
      const client = new PusherClient(key ?? apps[0].key, {
        cluster: 'local',
        wsHost: '127.0.0.1',
        wsPort: port,
        forceTLS: false,
        enabledTransports: ['ws'],
        disableStats: true,
        channelAuthorization: { endpoint: `http://127.0.0.1:${port}/unused`, transport: 'ajax' },
        ...rest,
      });
      clients.push(client);
      return client;
    },
    backend(app = apps[0]) {
      return new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(port), useTLS: false });
    },
    close() {
      closing ??= (async () => {
        for (const client of clients) client.disconnect();
        for (const client of raws) client.close();
        await server.close();
        if (!options.deps?.store) await store.close();
        rmSync(dataDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
