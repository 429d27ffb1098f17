/**
 * Signals on the real process (`node dist/src/cli.js start`): SIGHUP reloads the apps file without
 * dropping sockets (and keeps the running apps when the file is bad); SIGTERM under load drains,
 * closes every socket with 4200 and exits 0.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Pusher from 'pusher';
import { sampleValue, scrape } from '../metrics/prometheus-text.js';
import { freePort, startHeraldProcess, type HeraldProcess } from '../helpers/herald-process.js';
import { signedRequest } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

interface AppEntry {
  readonly id: string;
  readonly key: string;
  readonly secret: string;
  readonly [option: string]: unknown;
}

const CHAT: AppEntry = { id: 'chat-app', key: 'chat-key', secret: 'chat-secret' };
const OTHER: AppEntry = { id: 'other-app', key: 'other-key', secret: 'other-secret' };

describe('signals (real process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-signals-'));
  const children = new Set<ChildProcess>();
  const sockets: RawClient[] = [];
  after(() => {
    for (const socket of sockets) socket.close();
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const writeApps = (file: string, apps: AppEntry[]) => writeFileSync(file, JSON.stringify({ apps }));

  async function start(name: string, apps: AppEntry[], env: Record<string, string> = {}): Promise<{ node: HeraldProcess; file: string; metricsUrl: string }> {
    const file = join(dir, `${name}-apps.json`);
    writeApps(file, apps);
    const metricsPort = await freePort();
    const node = await startHeraldProcess({
      databaseUrl: `sqlite:${join(dir, `${name}.db`)}`,
      env: { HERALD_APPS_FILE: file, HERALD_METRICS_PORT: String(metricsPort), ...env },
      tracker: children,
    });
    return { node, file, metricsUrl: `http://127.0.0.1:${metricsPort}` };
  }

  /** A raw socket of an app, subscribed to a private channel. */
  async function member(node: HeraldProcess, app: AppEntry, channel: string): Promise<RawClient> {
    const raw = await RawClient.connect(`ws://127.0.0.1:${node.port}/app/${app.key}?protocol=7&client=raw&version=1`);
    sockets.push(raw);
    const { socketId } = await raw.established();
    const backend = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(node.port), useTLS: false });
    const { auth } = backend.authorizeChannel(socketId, channel);
    assert.equal((await raw.subscribe(channel, auth)).event, 'pusher_internal:subscription_succeeded');
    return raw;
  }

  /** Sends SIGHUP and waits until the node counted the reload with this result. */
  async function reload(node: HeraldProcess, metricsUrl: string, result: 'success' | 'failure'): Promise<void> {
    const count = async () => sampleValue(await scrape(metricsUrl), 'herald_apps_reloads_total', { result }) ?? 0;
    const before = await count();
    node.child.kill('SIGHUP');
    let now = before;
    const deadline = Date.now() + 5_000;
    while (now === before) {
      if (Date.now() > deadline) throw new Error(`no ${result} reload counted within 5 s; stderr: ${node.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
      now = await count();
    }
  }

  it('SIGHUP reloads the apps file without dropping sockets; a bad file keeps the running apps', { timeout: 30_000 }, async () => {
    const { node, file, metricsUrl } = await start('reload', [CHAT, OTHER]);
    const sender = await member(node, CHAT, 'private-room');
    const receiver = await member(node, CHAT, 'private-room');
    const leaving = await member(node, OTHER, 'private-other');

    sender.send({ event: 'client-hello', channel: 'private-room', data: { n: 1 } });
    assert.equal((await sender.error()).code, 4301, 'client events are off at first');

    // Turn client events on and remove the other app.
    writeApps(file, [{ ...CHAT, client_events: true }]);
    await reload(node, metricsUrl, 'success');
    sender.send({ event: 'client-hello', channel: 'private-room', data: { n: 2 } });
    assert.deepEqual((await receiver.next('client-hello')).data, { n: 2 }, 'the same socket now relays client events');
    assert.equal((await leaving.closedWithin()).code, 4001, 'sockets of a removed app are closed with 4001');
    const removed = await signedRequest(node.baseUrl, OTHER, { method: 'GET', path: '/channels' });
    assert.equal(removed.status, 404);

    // A file that does not validate changes nothing.
    writeApps(file, [{ ...CHAT, client_events: 'sometimes' }]);
    await reload(node, metricsUrl, 'failure');
    writeFileSync(file, '{ "apps": [ ');
    await reload(node, metricsUrl, 'failure');
    sender.send({ event: 'client-hello', channel: 'private-room', data: { n: 3 } });
    assert.deepEqual((await receiver.next('client-hello')).data, { n: 3 }, 'the running apps stay after a bad file');

    assert.equal(sender.closeState, null, 'the sender was never disconnected');
    assert.equal(receiver.closeState, null, 'the receiver was never disconnected');
    await sender.roundTrip();
    const metrics = await scrape(metricsUrl);
    assert.equal(sampleValue(metrics, 'herald_connections_opened_total', { app: CHAT.id }), 2, 'no reconnection happened');
    assert.equal(sampleValue(metrics, 'herald_apps'), 1);

    node.child.kill('SIGTERM');
    assert.deepEqual(await node.exited, { code: 0, signal: null });
  });

  it('SIGTERM under load drains HTTP, closes every socket with 4200 and exits 0', { timeout: 45_000 }, async () => {
    const { node } = await start('drain', [CHAT], { HERALD_SHUTDOWN_TIMEOUT: '10' });
    const clients: RawClient[] = [];
    for (let i = 0; i < 60; i++) clients.push(await member(node, CHAT, `private-user-${i % 10}`));
    const backend = new Pusher({ appId: CHAT.id, key: CHAT.key, secret: CHAT.secret, host: '127.0.0.1', port: String(node.port), useTLS: false });

    const PUSHES = 200;
    const EVENTS = 200;
    let answered = 0;
    const pushes = Array.from({ length: PUSHES }, (_, i) =>
      // A client timeout longer than the whole shutdown: a push is either answered or refused, never abandoned by the client.
      signedRequest(node.baseUrl, CHAT, {
        method: 'POST',
        path: '/notifications',
        body: JSON.stringify({ user_ids: [`user-${i}`], notification: { content: `n${i}` } }),
        timeoutMs: 30_000,
      }).then(
        (response) => {
          answered++;
          return { user: `user-${i}`, status: response.status };
        },
        (error: Error & { cause?: { code?: string; message?: string } }) => ({ user: `user-${i}`, status: 0, error: `${error.message} ${error.cause?.code ?? error.cause?.message ?? ''}` }),
      ),
    );
    const events = Array.from({ length: EVENTS }, (_, i) =>
      backend.trigger(`private-user-${i % 10}`, 'tick', { i }).then(
        (response) => {
          answered++;
          return response.status;
        },
        (error: { status?: number }) => error.status ?? 0,
      ),
    );
    await waitFor(() => answered >= 1, 'the first answer of the load', 10_000);
    const started = Date.now();
    node.child.kill('SIGTERM');
    const answeredBefore = answered;

    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([node.exited, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 15_000)))]);
    clearTimeout(timer);
    assert.deepEqual(exit, { code: 0, signal: null }, `exit within 15 s; stderr: ${node.stderr()}`);
    assert.ok(Date.now() - started < 10_000, 'within the shutdown timeout');
    const closes = await Promise.all(clients.map((client) => client.closedWithin(2_000)));
    assert.deepEqual(new Set(closes.map((closed) => closed.code)), new Set([4200]), 'every client was told to reconnect elsewhere');

    const pushResults = await Promise.all(pushes);
    const eventResults = await Promise.all(events);
    const statuses = [...pushResults.map((result) => result.status), ...eventResults];
    assert.ok(!statuses.some((status) => status >= 500), `no request failed inside the server: ${statuses.filter((s) => s >= 500).join(', ')}`);
    assert.ok(answered > answeredBefore, 'requests under way when SIGTERM came were still answered');

    // Every push the server acknowledged is stored; the others (connections reset before their
    // request was read) were never started: none was cut off half done.
    const again = await startHeraldProcess({ databaseUrl: `sqlite:${join(dir, 'drain.db')}`, env: { HERALD_APPS_FILE: join(dir, 'drain-apps.json') }, tracker: children });
    try {
      for (const { user, status, error } of pushResults as { user: string; status: number; error?: string }[]) {
        const count = await signedRequest(again.baseUrl, CHAT, { method: 'GET', path: `/users/${user}/notifications/count` });
        assert.equal(count.status, 200, count.text);
        assert.equal(count.body?.total, status === 200 ? 1 : 0, `push to ${user} (answered ${status} ${error ?? ''}) stored exactly when acknowledged`);
      }
    } finally {
      await again.kill();
    }
  });
});
