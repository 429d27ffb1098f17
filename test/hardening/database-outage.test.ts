/**
 * A PostgreSQL outage under load (issue 19, point 1), on a throwaway cluster this test makes on its
 * own port (never the machine's shared one): two real Herald processes push (with idempotency keys
 * held inside PostgreSQL by a row lock), list, open (webhooks) and schedule while the cluster is
 * stopped with `pg_ctl stop -m immediate`, then started again, then frozen (SIGSTOP). Every node
 * stays up, answers 503 `store_unavailable` (never 500) while the database is out, `/ready` answers
 * promptly, and each recovers by itself; no acknowledged push is lost.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import Pusher from 'pusher';
import { defineApp } from '../../src/config/apps.js';
import { freePort, startHeraldProcess, type HeraldProcess } from '../helpers/herald-process.js';
import { signedCall } from '../helpers/inbox.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { Receiver } from '../webhooks/receiver.js';

const run = promisify(execFile);
const APP = defineApp({ id: 'outage-app', key: 'outage-key', secret: 'outage-secret' });
const CONNECT_TIMEOUT_MS = 1_000;
const STATEMENT_TIMEOUT_MS = 2_000;

/** The newest PostgreSQL server binaries installed, or null. */
function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((version) => existsSync(join(root, version, 'bin', 'pg_ctl')) && existsSync(join(root, version, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length === 0 ? null : join(root, versions[0], 'bin');
}

/** The uid and gid of the `postgres` OS user, or null. */
function postgresUser(): { uid: number; gid: number } | null {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((entry) => entry.startsWith('postgres:'));
    if (!line) return null;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return null;
  }
}

/** Why this test cannot run here, or null. PostgreSQL refuses to run as root: as root it runs the cluster as `postgres`. */
function skipReason(): string | null {
  if (process.platform !== 'linux') return 'needs Linux';
  if (!postgresBin()) return 'no PostgreSQL server binaries under /usr/lib/postgresql/*/bin';
  if (process.getuid?.() === 0) {
    if (!postgresUser()) return 'running as root and there is no postgres OS user to run the throwaway cluster as';
    if (!existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return 'running as root without runuser to drop to the postgres user';
  }
  return null;
}

/** A PostgreSQL cluster of its own, in a temporary directory, on its own port. */
class ThrowawayCluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
  ) {}

  static async create(): Promise<ThrowawayCluster> {
    const bin = postgresBin()!;
    const dir = mkdtempSync(join(tmpdir(), 'herald-pg-outage-'));
    const owner = process.getuid?.() === 0 ? postgresUser() : null;
    if (owner) chownSync(dir, owner.uid, owner.gid);
    const cluster = new ThrowawayCluster(dir, await freePort(), bin);
    await cluster.exec('initdb', ['-D', cluster.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    return cluster;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Runs one of the server binaries, as the postgres user when this process is root. */
  private async exec(tool: string, args: string[]): Promise<string> {
    const command = join(this.bin, tool);
    const [file, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
    const { stdout } = await run(file, argv, { cwd: this.dir, timeout: 60_000 });
    return stdout;
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`;
    await this.exec('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start']);
  }

  /** A crash as far as clients can tell: every server process is killed at once, nothing is shut down cleanly. */
  async stopImmediate(): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
  }

  /** The postmaster and every process it started. */
  private pids(): number[] {
    const postmaster = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          // Field 4 of /proc/PID/stat is the parent; the command (field 2) may contain spaces, so split after it.
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
        } catch {
          return false;
        }
      })
      .map(Number);
    return [postmaster, ...children];
  }

  private frozen: number[] = [];

  /** Stops every server process (SIGSTOP): connections stay open, nothing answers. */
  freeze(): void {
    this.frozen = this.pids();
    for (const pid of this.frozen) process.kill(pid, 'SIGSTOP');
  }

  thaw(): void {
    for (const pid of this.frozen) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Already gone.
      }
    }
    this.frozen = [];
  }

  async destroy(): Promise<void> {
    this.thaw();
    await this.stopImmediate().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What a request got: its status and error code, or how it failed without an answer. */
interface Outcome {
  readonly status: number;
  readonly code?: string;
  readonly ms: number;
}

async function timed<T>(call: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await call();
  return { value, ms: performance.now() - started };
}

const skip = skipReason();
if (skip) console.log(`SKIP database outage test: ${skip}`);

describe('a PostgreSQL outage (throwaway cluster)', { skip: skip ?? false }, () => {
  let cluster: ThrowawayCluster;
  let receiver: Receiver;
  let workDir: string;
  const nodes: HeraldProcess[] = [];
  const tracker = new Set<ChildProcess>();
  /** Every answer the load got, per node. */
  const outcomes: Outcome[] = [];
  /** Pushes the nodes acknowledged (200): they must all be stored afterwards. */
  const acknowledged: { userId: string; id: string }[] = [];
  let loadRunning = false;
  let load: Promise<void> = Promise.resolve();

  const call = async (node: HeraldProcess, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Outcome & { body: Record<string, unknown> }> => {
    const { value, ms } = await timed(() => signedCall(node.baseUrl, APP, method, path, body));
    return { status: value.status, code: typeof value.body.code === 'string' ? value.body.code : undefined, ms, body: value.body };
  };

  /** One node's stream of pushes (with keys), lists, counts and opens, until stopped. */
  async function loadOn(node: HeraldProcess, index: number): Promise<void> {
    for (let i = 0; loadRunning; i++) {
      const userId = `load-${index}-${i % 5}`;
      const id = `n-${index}-${i}`;
      try {
        const push = await call(node, 'POST', '/notifications', { user_ids: [userId], notification: { id, content: `load ${i}` }, idempotency_key: `key-${index}-${i}` });
        outcomes.push(push);
        if (push.status === 200) acknowledged.push({ userId, id });
        outcomes.push(await call(node, 'GET', `/users/${userId}/notifications?limit=5`));
        outcomes.push(await call(node, 'POST', `/users/${userId}/notifications/open`, { all: true }));
      } catch (error) {
        // A request without any answer would be a node that stopped answering: recorded as status 0.
        outcomes.push({ status: 0, code: (error as Error).message, ms: 0 });
      }
      await sleep(20);
    }
  }

  /** Pushes to a user whose cursor row another transaction holds: the push waits inside PostgreSQL. */
  function heldPush(node: HeraldProcess, key: string | null): Promise<Outcome> {
    return call(node, 'POST', '/notifications', {
      user_ids: ['held-user'],
      notification: { content: 'held inside PostgreSQL' },
      ...(key === null ? {} : { idempotency_key: key }),
    }).catch((error: unknown) => ({ status: 0, code: (error as Error).message, ms: 0 }));
  }

  async function assertAlive(): Promise<void> {
    for (const node of nodes) {
      assert.equal(node.child.exitCode, null, `node ${node.port} exited: ${node.stderr()}`);
      assert.equal(node.child.signalCode, null, `node ${node.port} was killed: ${node.stderr()}`);
      const health = await fetch(`${node.baseUrl}/health`, { signal: AbortSignal.timeout(2_000) });
      assert.equal(health.status, 200);
    }
  }

  async function readyWithin(node: HeraldProcess, ms: number): Promise<number> {
    const { value } = await timed(async () => {
      const response = await fetch(`${node.baseUrl}/ready`, { signal: AbortSignal.timeout(ms) });
      await response.arrayBuffer();
      return response.status;
    });
    return value;
  }

  /** Waits until every node stores pushes again, without being restarted. */
  async function waitForRecovery(what: string): Promise<void> {
    for (const node of nodes) {
      let ok = false;
      const deadline = Date.now() + 30_000;
      while (!ok && Date.now() < deadline) {
        const push = await call(node, 'POST', '/notifications', { user_ids: ['recovery'], notification: { content: what } });
        ok = push.status === 200;
        if (!ok) {
          assert.equal(push.status, 503, `while recovering (${what}) a node answered ${push.status} ${push.code}`);
          await sleep(200);
        }
      }
      assert.ok(ok, `node ${node.port} did not recover (${what}) within 30 s`);
      assert.equal(await readyWithin(node, 3_000), 200);
    }
  }

  before(async () => {
    cluster = await ThrowawayCluster.create();
    await cluster.start();
    receiver = await Receiver.start();
    workDir = mkdtempSync(join(tmpdir(), 'herald-outage-apps-'));
    const appsFile = join(workDir, 'apps.json');
    writeFileSync(appsFile, JSON.stringify({ apps: [{ id: APP.id, key: APP.key, secret: APP.secret, webhooks: [{ url: receiver.url(), events: ['notification_opened'] }] }] }));
    const env = {
      HERALD_APPS_FILE: appsFile,
      HERALD_DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      HERALD_DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
      HERALD_DEMO: 'false',
    };
    for (let i = 0; i < 2; i++) nodes.push(await startHeraldProcess({ databaseUrl: cluster.url, env, tracker, timeoutMs: 30_000 }));
  });

  after(async () => {
    loadRunning = false;
    await load.catch(() => undefined);
    for (const node of nodes) await node.kill().catch(() => undefined);
    await receiver?.down();
    await cluster?.destroy();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('survives pg_ctl stop -m immediate under load, answers 503 meanwhile, and recovers by itself', async () => {
    const backend = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(nodes[0].port), useTLS: false });
    assert.equal((await call(nodes[0], 'POST', '/notifications', { user_ids: ['held-user'], notification: { content: 'first' } })).status, 200);
    // Scheduled through the outage: released by the scheduler (its transaction) once the database is back.
    const dueAt = new Date(Date.now() + 4_000).toISOString();
    const scheduled = await call(nodes[1], 'POST', '/notifications', { user_ids: ['scheduled-user'], notification: { id: 'due-during-outage', content: 'later', send_after: dueAt } });
    assert.equal(scheduled.status, 200);

    loadRunning = true;
    load = Promise.all(nodes.map((node, index) => loadOn(node, index))).then(() => undefined);
    await sleep(1_000);

    // Due while the locks below are held: the scheduler's release waits on the held user's cursor.
    // Due late enough for the locks to be taken first on a loaded machine (connecting the locker
    // took over 300 ms in a full-suite run, and the scheduler released it before the lock).
    const heldDueMs = Date.now() + 1_200;
    const heldDue = new Date(heldDueMs).toISOString();
    assert.equal((await call(nodes[0], 'POST', '/notifications', { user_ids: ['held-user'], notification: { id: 'held-scheduled', content: 'due', send_after: heldDue } })).status, 200);
    // Hold the held user's cursor row and the webhook outbox's write lock, so pushes to that user,
    // the scheduler's release and the webhook writes each wait inside PostgreSQL, in transaction()
    // on a checked-out connection.
    const locker = new pg.Client({ connectionString: cluster.url });
    locker.on('error', () => undefined);
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query("SELECT last_seq FROM user_cursors WHERE app_id = $1 AND user_id = 'held-user' FOR UPDATE", [APP.id]);
    await locker.query("SELECT pg_advisory_xact_lock(hashtextextended('herald.webhook_outbox:', 0))");
    const held = nodes.flatMap((node, index) => [heldPush(node, `held-key-${index}`), heldPush(node, null)]);
    const waiting = async () => {
      // Statistics views are a snapshot per transaction, and the locker stays in its transaction.
      await locker.query('SELECT pg_stat_clear_snapshot()');
      const active = await locker.query<{ query: string }>("SELECT query FROM pg_stat_activity WHERE application_name = 'herald' AND state = 'active' AND wait_event_type = 'Lock'");
      return active.rows.map((row) => row.query);
    };
    const heldPaths = { push: false, scheduler: false, webhooks: false };
    for (const deadline = Math.max(Date.now(), heldDueMs) + 1_500; Date.now() < deadline && !(heldPaths.push && heldPaths.scheduler && heldPaths.webhooks); ) {
      const queries = await waiting();
      // pg_stat_activity keeps the first 1 KB of a query: the push statement is told by its start.
      heldPaths.push ||= queries.some((query) => query.startsWith('WITH cursors AS ('));
      heldPaths.scheduler ||= queries.some((query) => query.includes('unnest($1::text[], $2::text[], $3::bigint[])'));
      heldPaths.webhooks ||= queries.some((query) => query.includes('pg_advisory_xact_lock'));
      await sleep(50);
    }
    assert.deepEqual(heldPaths, { push: true, scheduler: true, webhooks: true }, 'a push, the scheduler and a webhook write wait inside PostgreSQL');

    await cluster.stopImmediate();
    const outcomesBefore = outcomes.length;
    for (const outcome of await Promise.all(held)) {
      assert.equal(outcome.status, 503, `a push held inside PostgreSQL when it stopped: ${outcome.status} ${outcome.code}`);
      assert.equal(outcome.code, 'store_unavailable');
    }
    await sleep(1_500);
    await assertAlive();
    for (const node of nodes) {
      const push = await call(node, 'POST', '/notifications', { user_ids: ['during'], notification: { content: 'x' }, idempotency_key: 'during' });
      assert.equal(push.status, 503);
      assert.equal(push.code, 'store_unavailable');
      assert.ok(push.ms < CONNECT_TIMEOUT_MS + 2_000, `a push while the database is down took ${push.ms} ms`);
      const { value: ready, ms } = await timed(() => readyWithin(node, 5_000));
      assert.equal(ready, 503);
      assert.ok(ms < 3_000, `/ready took ${ms} ms while the database is down`);
    }
    assert.ok(outcomes.length > outcomesBefore, 'the load kept getting answers while the database was down');
    await locker.end().catch(() => undefined);

    await cluster.start();
    await waitForRecovery('after the restart');
    await sleep(500);
    loadRunning = false;
    await load;
    await assertAlive();

    const statuses = new Map<number, number>();
    for (const outcome of outcomes) statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
    const unexpected = outcomes.filter((outcome) => outcome.status !== 200 && !(outcome.status === 503 && outcome.code === 'store_unavailable'));
    assert.deepEqual(unexpected, [], `every answer is 200 or 503 store_unavailable (counts: ${JSON.stringify([...statuses])})`);
    assert.ok((statuses.get(503) ?? 0) > 0 && (statuses.get(200) ?? 0) > 0);

    // Nothing acknowledged was lost, and the scheduler released what fell due during the outage.
    for (const { userId, id } of acknowledged) {
      assert.equal((await call(nodes[0], 'GET', `/users/${userId}/notifications/${id}`)).status, 200, `acknowledged ${userId}/${id}`);
    }
    const deadline = Date.now() + 10_000;
    let released = 0;
    while (released !== 200 && Date.now() < deadline) {
      released = (await call(nodes[0], 'GET', '/users/scheduled-user/notifications/due-during-outage')).status;
      if (released !== 200) await sleep(200);
    }
    assert.equal(released, 200, 'the scheduled notification is released after the outage');
    assert.equal((await call(nodes[0], 'GET', '/users/held-user/notifications/held-scheduled')).status, 200, 'and so is the one whose release was cut off');
    // Webhooks go through the outbox (the same transactions) after the outage too.
    const deliveredBefore = receiver.deliveries.length;
    assert.equal((await call(nodes[1], 'POST', '/notifications', { user_ids: ['hooked'], notification: { content: 'x' } })).status, 200);
    assert.equal((await call(nodes[1], 'POST', '/users/hooked/notifications/open', { all: true })).status, 200);
    await waitFor(() => receiver.deliveries.length > deliveredBefore, 'a webhook sent after the outage', 15_000);
    await receiver.waitForEvents(backend, (events) => events.some((event) => event.name === 'notification_opened' && event.user_id === 'hooked'), 'the opened webhook', 15_000);
  });

  it('bounds every wait on a frozen database: pushes answer 503 within the timeouts, /ready at once', async () => {
    cluster.freeze();
    try {
      for (const node of nodes) {
        const push = await call(node, 'POST', '/notifications', { user_ids: ['frozen'], notification: { content: 'x' }, idempotency_key: `frozen-${node.port}` });
        assert.equal(push.status, 503, `a push on a frozen database: ${push.status} ${push.code}`);
        assert.equal(push.code, 'store_unavailable');
        assert.ok(push.ms < STATEMENT_TIMEOUT_MS + CONNECT_TIMEOUT_MS + 2_500, `a push on a frozen database took ${Math.round(push.ms)} ms`);
        const list = await call(node, 'GET', '/users/frozen/notifications');
        assert.equal(list.status, 503);
        const { value: ready, ms } = await timed(() => readyWithin(node, 5_000));
        assert.equal(ready, 503);
        assert.ok(ms < 3_000, `/ready took ${Math.round(ms)} ms on a frozen database`);
      }
      await assertAlive();
    } finally {
      cluster.thaw();
    }
    await waitForRecovery('after the freeze');
    await assertAlive();
  });
});
