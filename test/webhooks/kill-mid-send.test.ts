/**
 * A node killed while it sends a webhook batch leaves that batch leased (60 s). Restarted under the
 * same node name (`HERALD_NODE_NAME`), it ends its old leases as it starts and sends the batch at
 * once; restarted under another name, the batch waits for the lease, as another node would.
 * Real processes, SIGKILL, a receiver that holds the first request unanswered.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { HeraldProcess } from '../helpers/herald-process.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { rawSocket, startWithApps } from '../hardening/support.js';

const APP = { id: 'kill-app', key: 'kill-key', secret: 'kill-secret' };

/** Records webhook bodies; while `holding`, leaves requests unanswered (a send in progress). */
class HoldingReceiver {
  holding = true;
  readonly received: string[] = [];
  readonly answered: string[] = [];
  private readonly held: ServerResponse[] = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<HoldingReceiver> {
    const server = createServer();
    const receiver = new HoldingReceiver(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        receiver.received.push(body);
        if (receiver.holding) {
          receiver.held.push(res);
          return;
        }
        receiver.answered.push(body);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('a node killed in the middle of sending a webhook batch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-kill-mid-send-'));
  const database = join(dir, 'herald.db');
  const children = new Set<ChildProcess>();
  let receiver: HoldingReceiver | null = null;
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const leasedBatches = (): number => {
    const db = new Database(database, { readonly: true, fileMustExist: true });
    try {
      return db.prepare<[number], number>('SELECT count(*) FROM webhook_outbox WHERE lease_until_ms > ?').pluck().get(Date.now())!;
    } finally {
      db.close();
    }
  };

  /** Starts a node, occupies a fresh channel (a webhook event), and kills the node once its batch is being sent. */
  async function killWhileSending(nodeName: string, channel: string): Promise<void> {
    const apps = [{ ...APP, webhooks: [{ url: receiver!.url, events: ['channel_occupied'] }] }];
    const node: HeraldProcess = await startWithApps({ dir, apps, tracker: children, database, env: { HERALD_NODE_NAME: nodeName } });
    const socket = await rawSocket(node.port, APP.key);
    await socket.established();
    assert.equal((await socket.subscribe(channel)).event, 'pusher_internal:subscription_succeeded');
    const before = receiver!.received.length;
    await waitFor(() => receiver!.received.length > before, `the batch of ${channel} reached the receiver`, 10_000);
    node.child.kill('SIGKILL');
    await node.exited;
    socket.close();
    assert.equal(leasedBatches(), 1, 'the batch in flight is still leased in the file');
  }

  it('sends it at once when the node starts again under the same name, not after the 60 s lease', { timeout: 40_000 }, async () => {
    receiver = await HoldingReceiver.start();
    await killWhileSending('node-one', 'room-1');
    receiver.holding = false;

    const restarted = await startWithApps({ dir, apps: [{ ...APP, webhooks: [{ url: receiver.url, events: ['channel_occupied'] }] }], tracker: children, database, env: { HERALD_NODE_NAME: 'node-one' } });
    await waitFor(() => receiver!.answered.some((body) => body.includes('room-1')), 'the batch of room-1 delivered after the restart', 10_000);
    await waitFor(() => leasedBatches() === 0, 'no lease left', 5_000);
    await restarted.kill();
  });

  it('leaves the lease of another node name alone: that batch waits for its lease to run out', { timeout: 40_000 }, async () => {
    receiver!.holding = true;
    await killWhileSending('node-two', 'room-2');
    receiver!.holding = false;

    const other = await startWithApps({ dir, apps: [{ ...APP, webhooks: [{ url: receiver!.url, events: ['channel_occupied'] }] }], tracker: children, database, env: { HERALD_NODE_NAME: 'node-three' } });
    await sleep(3_000);
    assert.equal(receiver!.answered.some((body) => body.includes('room-2')), false, 'not sent while node-two may still be sending it');
    assert.equal(leasedBatches(), 1);
    await other.kill();
  });
});
