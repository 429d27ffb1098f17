/**
 * Crash safety of the real process: every push the server acknowledged survives `kill -9`
 * exactly once, and retrying the unacknowledged ones with their idempotency keys stores each once.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defineApp } from '../../src/config/apps.js';
import type { NotificationJson } from '../../src/inbox/notification-json.js';
import { startHeraldProcess, type HeraldProcess } from '../helpers/herald-process.js';
import { countsOf, listAll, signedCall, type Call, type PushAnswer } from '../helpers/inbox.js';

const APP = defineApp({ id: 'crash-app', key: 'crash-key', secret: 'crash-secret' });
const ENV = { HERALD_APP_ID: APP.id, HERALD_APP_KEY: APP.key, HERALD_APP_SECRET: APP.secret };
const USERS = ['crash-a', 'crash-b', 'crash-c'];
const ROUNDS = 3;
const BURST = 120;
/** Kill once this many pushes of the burst were acknowledged. */
const KILL_AFTER = 30;

interface Attempt {
  readonly key: string;
  readonly id: string;
  readonly users: string[];
}

describe('inbox crash safety (real process, SIGKILL)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-crash-'));
  const databaseUrl = `sqlite:${join(dir, 'herald.db')}`;
  const children = new Set<ChildProcess>();
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () => startHeraldProcess({ databaseUrl, env: ENV, tracker: children });
  const caller = (node: HeraldProcess): Call => (method, path, body) => signedCall(node.baseUrl, APP, method, path, body);
  const push = (node: HeraldProcess, attempt: Attempt) =>
    signedCall<PushAnswer>(node.baseUrl, APP, 'POST', '/notifications', {
      user_ids: attempt.users,
      notification: { id: attempt.id, content: `push ${attempt.id}` },
      idempotency_key: attempt.key,
    });

  /** Every user's inbox is gap-free and free of duplicates; returns each user's notifications. */
  async function inboxes(node: HeraldProcess): Promise<Map<string, NotificationJson[]>> {
    const byUser = new Map<string, NotificationJson[]>();
    for (const user of USERS) {
      const list = await listAll(caller(node), user);
      assert.deepEqual(list.map((n) => n.seq), Array.from({ length: list.length }, (_, i) => i + 1), `${user}: seqs 1..n without a gap`);
      assert.equal(new Set(list.map((n) => n.id)).size, list.length, `${user}: no notification twice`);
      assert.deepEqual(await countsOf(caller(node), user), { unread: list.length, total: list.length }, `${user}: counts agree with the list`);
      byUser.set(user, list);
    }
    return byUser;
  }

  it(`keeps every acknowledged push exactly once over ${ROUNDS} kill -9 rounds`, { timeout: 45_000 }, async () => {
    /** Acknowledged rows: `user/id` -> seq. */
    const acknowledged = new Map<string, number>();
    const allAttempts: Attempt[] = [];
    let killedWithInFlight = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const node = await start();
      const attempts: Attempt[] = Array.from({ length: BURST }, (_, i) => ({
        key: `round-${round}-push-${i}`,
        id: `r${round}-n${i}`,
        users: i % 3 === 0 ? [...USERS] : [USERS[i % USERS.length]],
      }));
      allAttempts.push(...attempts);
      let acks = 0;
      let killed = false;
      const outcomes = await Promise.allSettled(
        attempts.map(async (attempt) => {
          const reply = await push(node, attempt);
          assert.equal(reply.status, 200, `push ${attempt.id} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
          for (const row of reply.body.notifications) {
            assert.equal(row.id, attempt.id);
            assert.ok(typeof row.seq === 'number');
            acknowledged.set(`${row.user_id}/${row.id}`, row.seq);
          }
          if (++acks >= KILL_AFTER && !killed) {
            killed = true;
            node.child.kill('SIGKILL');
          }
        }),
      );
      await node.kill();
      const exit = await node.exited;
      assert.equal(exit.signal, 'SIGKILL', `round ${round}: the server was killed, not exited (stderr: ${node.stderr()})`);
      const failed = outcomes.filter((outcome) => outcome.status === 'rejected');
      // Anything but a lost connection (a 4xx/5xx answer, a wrong row) is a failure of its own.
      for (const outcome of failed) {
        const reason = (outcome as PromiseRejectedResult).reason as Error;
        assert.ok(!(reason instanceof assert.AssertionError), reason.message);
      }
      killedWithInFlight += failed.length;

      // Restarted on the same file: everything acknowledged so far is there, once, with its seq.
      const restarted = await start();
      const byUser = await inboxes(restarted);
      for (const [key, seq] of acknowledged) {
        const [user, id] = key.split('/');
        const found = byUser.get(user)!.filter((n) => n.id === id);
        assert.equal(found.length, 1, `acknowledged ${key} is stored exactly once after the crash`);
        assert.equal(found[0].seq, seq, `acknowledged ${key} keeps seq ${seq}`);
      }
      await restarted.kill();
    }
    assert.ok(killedWithInFlight > 0, 'some pushes were in flight when the server was killed');

    // Retrying every push with its idempotency key stores each exactly once for each of its users.
    const node = await start();
    for (let i = 0; i < allAttempts.length; i += 40) {
      const replies = await Promise.all(allAttempts.slice(i, i + 40).map((attempt) => push(node, attempt)));
      for (const reply of replies) assert.equal(reply.status, 200, JSON.stringify(reply.body));
    }
    const byUser = await inboxes(node);
    for (const user of USERS) {
      const expected = allAttempts.filter((attempt) => attempt.users.includes(user)).map((attempt) => attempt.id).sort();
      assert.deepEqual(byUser.get(user)!.map((n) => n.id).sort(), expected, `${user}: every push exactly once after the retries`);
    }
    for (const [key, seq] of acknowledged) {
      const [user, id] = key.split('/');
      assert.equal(byUser.get(user)!.find((n) => n.id === id)?.seq, seq, `${key} kept its acknowledged seq through the retries`);
    }
    await node.kill();
  });
});
