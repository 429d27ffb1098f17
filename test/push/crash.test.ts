/**
 * Push crash safety of the real process: SIGKILL while a stream of due pushes is being sent,
 * restart under the same node name, and every due push reaches every device of its user. A
 * delivery the provider accepted in the moment before the kill, before its removal was committed,
 * goes out again after the restart as the same message (same message_id and Topic). The test reads
 * the database the killed node left and proves the strongest property that holds: the only repeats
 * are deliveries whose attempt marker was committed and whose completion was not (in flight at the
 * kill), and the service worker's dedup shows one notification per message on every device.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { notificationOf, type PushBody } from '../../src/client/push-display.js';
import { defineApp } from '../../src/config/apps.js';
import { startHeraldProcess, type HeraldProcess } from '../helpers/herald-process.js';
import { signedCall } from '../helpers/inbox.js';
import { sleep } from '../helpers/wait.js';
import { LocalPushService, type TestSubscription } from './local-push-service.js';

const APP = { id: 'push-crash', key: 'push-crash-key', secret: 'push-crash-secret' };
const USERS = ['ana', 'ben', 'cai', 'dee'];
const ROUNDS = 3;
const PER_ROUND = 60;

/** The deliveries a dead node left in flight: attempt marker committed, completion not; as `subscription|message_id`. */
function inFlightAt(databaseFile: string): string[] {
  const db = new Database(databaseFile, { readonly: true });
  try {
    const rows = db
      .prepare<[], { address: string; message: string }>(
        `SELECT d.address, o.message FROM push_outbox o JOIN push_devices d ON d.id = o.device_id
         WHERE o.attempt_started_ms IS NOT NULL AND o.lease_token IS NOT NULL`,
      )
      .all();
    return rows.map((row) => `${row.address.split('/').pop()}|${(JSON.parse(row.message) as { message_id: string }).message_id}`);
  } finally {
    db.close();
  }
}

describe('push crash safety (real process, SIGKILL)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-push-crash-'));
  const appsFile = join(dir, 'apps.json');
  writeFileSync(
    appsFile,
    JSON.stringify({
      apps: [{ ...APP, push: { vapid: { subject: 'mailto:ops@example.com' }, default: { policy: 'always', delay_seconds: 0, ttl_seconds: 3600 } } }],
    }),
  );
  const databaseFile = join(dir, 'herald.db');
  const databaseUrl = `sqlite:${databaseFile}`;
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
  function idsSentTo(subscription: TestSubscription, bodies = service.delivered(subscription)): string[] {
    return bodies.flatMap((body) => (body.id === null ? (body.ids as string[]) : [body.id as string]));
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
    const inFlightAtKills = new Set<string>();
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
      const killedAt = Date.now();
      await node.kill();
      const inFlight = inFlightAt(databaseFile);
      for (const key of inFlight) inFlightAtKills.add(key);
      // How long before the kill the push service had accepted what was still in flight (negative: after it, already on the wire).
      const acceptedAt = new Map(service.received.map((push) => [`${push.subscription}|${String(push.body.message_id)}`, push.at]));
      const ages = inFlight.map((key) => (acceptedAt.has(key) ? killedAt - acceptedAt.get(key)! : 'never'));
      t.diagnostic(`round ${round}: ${sentBeforeKill} accepted when the kill was sent, ${inFlight.length} in flight at the kill, accepted ms before it: ${ages.join(' ')}`);
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

    // A repeat: a device got the same message again. The only ones allowed are deliveries that
    // were in flight at a kill; each is the same message (message_id, Topic) as the first send, and
    // no notification id reaches a device in two different messages (no re-planned summary).
    let repeats = 0;
    let alerts = 0;
    let messages = 0;
    for (const subscriptions of devices.values()) {
      for (const subscription of subscriptions) {
        const pushes = service.received.filter((push) => push.subscription === subscription.id && push.status === 201);
        const first = new Map<string, (typeof pushes)[number]>();
        const messageOfId = new Map<string, string>();
        const shownOnDevice = new Set<string>();
        for (const push of pushes) {
          const messageId = String(push.body.message_id);
          // What the service worker shows: it remembers the message ids it showed (Cache Storage).
          const shown = notificationOf(push.body as unknown as PushBody, shownOnDevice.has(messageId));
          shownOnDevice.add(messageId);
          if (!shown.options.silent) alerts++;
          const earlier = first.get(messageId);
          if (earlier === undefined) {
            first.set(messageId, push);
            for (const id of idsSentTo(subscription, [push.body])) {
              assert.equal(messageOfId.get(id), undefined, `${id} reached ${subscription.id} in two messages`);
              messageOfId.set(id, messageId);
            }
            continue;
          }
          repeats++;
          assert.ok(inFlightAtKills.has(`${subscription.id}|${messageId}`), `${messageId} repeated on ${subscription.id} without being in flight at a kill`);
          assert.deepEqual(push.body, earlier.body, 'a repeat is the same message');
          assert.equal(push.headers.topic, earlier.headers.topic, 'a repeat has the same Topic');
        }
        messages += first.size;
      }
    }
    t.diagnostic(`${pushed.size} notifications in ${messages} messages to 8 devices; ${repeats} went out again after a kill (${inFlightAtKills.size} were in flight at the kills)`);
    assert.equal(alerts, messages, 'the service worker alerts once per message on each device');
    await node.kill();
  });
});
