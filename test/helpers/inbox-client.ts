/** Helpers for tests of the client SDK: InboxClients pointed at a harness, pushes, list checks. */
import assert from 'node:assert/strict';
import { InboxClient, type InboxClientOptions } from '../../src/client/index.js';
import type { Notification } from '../../src/client/notifications.js';
import type { App } from '../../src/config/apps.js';
import { after, before } from 'node:test';
import { startHarness, TEST_APP, type Harness } from './harness.js';
import { sdkPush, tokenFor } from './inbox.js';

/** Creates InboxClients for a harness and disposes every one of them at the end of a test. */
export class ClientPool {
  private readonly clients: InboxClient[] = [];

  constructor(private readonly harness: Harness) {}

  /** A client of `userId` with a token function (fresh one-hour tokens) unless `token` is given. */
  create(userId: string, options: Partial<InboxClientOptions> & { app?: App } = {}): InboxClient {
    const { app = this.harness.app, ...rest } = options;
    const client = new InboxClient({
      host: '127.0.0.1',
      port: this.harness.port,
      appId: app.id,
      appKey: app.key,
      userId,
      token: () => tokenFor(app, userId),
      initTimeoutMs: 5_000,
      ...rest,
    });
    this.clients.push(client);
    return client;
  }

  /** Disposes every client created so far. */
  async disposeAll(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((client) => client.dispose()));
  }
}

/** The harness (one node, TEST_APP) and client pool a suite shares: set up before its first test, closed after its last. */
export interface ClientSuite {
  readonly harness: Harness;
  readonly pool: ClientPool;
}

/** Registers the suite's before/after hooks; read `harness` and `pool` from the result inside tests. */
export function clientSuite(): ClientSuite {
  let started: { harness: Harness; pool: ClientPool } | null = null;
  const current = () => {
    if (!started) throw new Error('the client suite is used before its before() hook ran');
    return started;
  };
  before(async () => {
    const harness = await startHarness({ apps: [TEST_APP] });
    started = { harness, pool: new ClientPool(harness) };
  });
  after(async () => {
    if (!started) return;
    await started.pool.disposeAll();
    await started.harness.close();
  });
  return {
    get harness() {
      return current().harness;
    },
    get pool() {
      return current().pool;
    },
  };
}

/** Pushes `count` notifications to one user, one call each, in order; resolves with their ids. */
export async function pushMany(harness: Harness, userId: string, count: number, label = 'n'): Promise<string[]> {
  const ids: string[] = [];
  const backend = harness.backend();
  for (let i = 0; i < count; i++) {
    const answer = await sdkPush(backend, { user_ids: [userId], notification: { content: `${label} ${i}` } });
    ids.push(answer.notifications[0].id);
  }
  return ids;
}

/** Asserts a list is exactly `ids` (pushed oldest first), newest first, without duplicates, in strictly decreasing seq. */
export function assertExactly(list: readonly Notification[], pushedOldestFirst: readonly string[]): void {
  const seen = new Set<string>();
  for (const n of list) {
    assert.ok(!seen.has(n.id), `duplicate notification ${n.id}`);
    seen.add(n.id);
  }
  for (let i = 1; i < list.length; i++) {
    assert.ok(list[i - 1].seq > list[i].seq, `not newest first at index ${i}: seq ${list[i - 1].seq} then ${list[i].seq}`);
  }
  assert.deepEqual(
    list.map((n) => n.id),
    [...pushedOldestFirst].reverse(),
  );
}
