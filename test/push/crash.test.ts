/**
 * Push crash safety of the real process: SIGKILL while a stream of due pushes is being sent,
 * restart under the same node name, and every due push reaches every device of its user. A
 * delivery the provider accepted in the moment before the kill, before its removal was committed,
 * goes out again after the restart as the same message (same message_id and collapse key), which
 * the service worker shows without alerting twice; the test counts such repeats and bounds them
 * by what can be in flight.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defineApp } from '../../src/config/apps.js';
import { startHeraldProcess, type HeraldProcess } from '../helpers/herald-process.js';
import { signedCall } from '../helpers/inbox.js';
import { sleep } from '../helpers/wait.js';
import { LocalPushService, type TestSubscription } from './local-push-service.js';

const APP = { id: 'push-crash', key: 'push-crash-key', secret: 'push-crash-secret' };
const USERS = ['ana', 'ben', 'cai', 'dee'];
const ROUNDS = 3;
const PER_ROUND = 60;
/** Deliveries one node sends at once (the worker's maxInFlight): what one kill can leave undecided. */
const MAX_IN_FLIGHT = 16;

describe('push crash safety (real process, SIGKILL)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-push-crash-'));
  const appsFile = join(dir, 'apps.json');
  writeFileSync(
    appsFile,
    JSON.stringify({
      apps: [{ ...APP, push: { vapid: { subject: 'mailto:ops@example.com' }, default: { policy: 'always', delay_seconds: 0, ttl_seconds: 3600 } } }],
    }),
  );
  const databaseUrl = `sqlite:${join(dir, 'herald.db')}`;
  const children = new Set<ChildProcess>();
  const service = new LocalPushService();
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const app = defineApp(APP);
  const start = () => startHeraldProcess({ databaseUrl, env: { HERALD_APPS_FILE: appsFile, HERALD_NODE_NAME: 'push-crash-node' }, tracker: children });
  const push = (node: HeraldProcess, id: string, user: string) =>
    signedCall(node.baseUrl, app, 'POST', '/notifications', { user_ids: [user], notification: { id, content: `push ${id}` }, idempotency_key: id });

  /** The notification ids a device was sent: single pushes and the ids of summaries. */
  function idsSentTo(subscription: TestSubscription): string[] {
    return service.delivered(subscription).flatMap((body) => (body.id === null ? (body.ids as string[]) : [body.id as string]));
  }

  it(`delivers every due push to every device across ${ROUNDS} kill -9 rounds`, { timeout: 90_000 }, async (t) => {
    await service.start();
    const devices = new Map<string, TestSubscription[]>(USERS.map((user) => [user, [service.subscribe(), service.subscribe()]]));
    const pushed = new Map<string, string>();
    let node = await start();
    for (const [user, subscriptions] of devices) {
      for (const subscription of subscriptions) {
        const reply = await signedCall(node.baseUrl, app, 'POST', `/users/${user}/devices`, { kind: 'webpush', subscription: subscription.json });
        assert.equal(reply.status, 201, JSON.stringify(reply.body));
      }
    }
    let killedMidStream = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const ids = Array.from({ length: PER_ROUND }, (_, i) => `r${round}-${i}`);
      const before = service.received.length;
      // A stream: one push every 40 ms, each due at once, so passes of the worker keep finding new ones.
      const current = node;
      const replies = Promise.allSettled(ids.map(async (id, i) => {
        await sleep(i * 40);
        return push(current, id, USERS[i % USERS.length]);
      }));
      // Kill once part of this round's stream went out, while the rest is due or being sent.
      const deadline = Date.now() + 15_000;
      while (service.received.length - before < 12 && Date.now() < deadline) await sleep(5);
      const sentBeforeKill = service.received.length - before;
      await node.kill();
      if (service.received.length - before < PER_ROUND * 2 && sentBeforeKill > 0) killedMidStream++;
      for (const [i, outcome] of (await replies).entries()) if (outcome.status === 'fulfilled' && outcome.value.status === 200) pushed.set(ids[i], USERS[i % USERS.length]);
      node = await start();
      // Pushes whose answer the kill cut off are sent again with their idempotency key: stored (and their jobs) once.
      for (const [i, id] of ids.entries()) {
        if (pushed.has(id)) continue;
        const reply = await push(node, id, USERS[i % USERS.length]);
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        pushed.set(id, USERS[i % USERS.length]);
      }
    }
    assert.ok(killedMidStream > 0, 'at least one kill hit the middle of a stream');

    const missing = (): string[] => {
      const gaps: string[] = [];
      for (const [id, user] of pushed) {
        for (const [n, subscription] of devices.get(user)!.entries()) if (!idsSentTo(subscription).includes(id)) gaps.push(`${user}#${n}/${id}`);
      }
      return gaps;
    };
    const deadline = Date.now() + 30_000;
    while (missing().length > 0 && Date.now() < deadline) await sleep(100);
    assert.deepEqual(missing(), [], 'every due push reached every device of its user');
    assert.equal(service.rejected.length, 0, service.rejected.join('; '));

    // A repeat: a device got the same message again. Each repeat carries the message_id of the
    // first send, so the service worker shows it without alerting twice.
    let repeats = 0;
    for (const subscriptions of devices.values()) {
      for (const subscription of subscriptions) {
        const bodies = service.delivered(subscription);
        const byIds = bodies.map((body) => JSON.stringify(body.id === null ? body.ids : body.id));
        const byMessage = bodies.map((body) => String(body.message_id));
        assert.equal(byMessage.length - new Set(byMessage).size, byIds.length - new Set(byIds).size, 'a repeat is the same message (same message_id)');
        repeats += byMessage.length - new Set(byMessage).size;
      }
    }
    const messages = USERS.flatMap((user) => devices.get(user)!.map((subscription) => service.delivered(subscription).length)).reduce((a, b) => a + b, 0);
    t.diagnostic(`${pushed.size} notifications in ${messages} pushes to 8 devices; ${repeats} pushes went out again after a kill`);
    assert.ok(repeats <= ROUNDS * MAX_IN_FLIGHT, `at most what was in flight at each kill went out again: ${repeats}`);
    await node.kill();
  });
});
