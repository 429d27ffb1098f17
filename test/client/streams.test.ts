/** InboxClient streams: stop functions, current value for late listeners, `for await`, and the end on dispose(). */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { HeraldError } from '../../src/client/index.js';
import { clientSuite, pushMany } from '../helpers/inbox-client.js';
import { sleep, waitFor } from '../helpers/wait.js';

describe('InboxClient streams', () => {
  const suite = clientSuite();

  it('gives late listeners the current value at once, and stops a listener when asked', { timeout: 10_000 }, async () => {
    const inbox = suite.pool.create('nia');
    const early: number[] = [];
    const stopEarly = inbox.pendingNotificationsCountStream.listen((n) => early.push(n));
    assert.deepEqual(early, [0], 'the current value, synchronously');
    await pushMany(suite.harness, 'nia', 2);
    await inbox.init();
    assert.deepEqual(early, [0, 2]);

    const lists: number[] = [];
    const stopList = inbox.notificationsStream.listen((list) => lists.push(list.length));
    const late: number[] = [];
    inbox.pendingNotificationsCountStream.listen((n) => late.push(n));
    assert.deepEqual(lists, [2]);
    assert.deepEqual(late, [2]);

    stopEarly();
    stopList();
    await pushMany(suite.harness, 'nia', 1);
    await waitFor(() => late.length === 2, 'the late listener to see 3');
    assert.deepEqual(late, [2, 3]);
    assert.deepEqual(early, [0, 2], 'a stopped listener hears nothing more');
    assert.deepEqual(lists, [2]);
  });

  it('reports a throwing listener on errors and keeps delivering to the others', { timeout: 10_000 }, async () => {
    const inbox = suite.pool.create('oli');
    await inbox.init();
    const errors: HeraldError[] = [];
    inbox.errors.listen((error) => errors.push(error));
    inbox.pendingNotificationsCountStream.listen((n) => {
      if (n > 0) throw new Error('a broken badge renderer');
    });
    const seen: number[] = [];
    inbox.pendingNotificationsCountStream.listen((n) => seen.push(n));
    await pushMany(suite.harness, 'oli', 1);
    await waitFor(() => seen.includes(1), 'the healthy listener');
    assert.equal(inbox.notifications.length, 1);
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /broken badge/);
  });

  it('iterates pendingNotificationsCountStream with for await, and finishes it on dispose()', { timeout: 10_000 }, async () => {
    const inbox = suite.pool.create('pia');
    await inbox.init();
    // One loop breaks out by itself once it has seen 3.
    const upToThree = (async () => {
      const values: number[] = [];
      for await (const n of inbox.pendingNotificationsCountStream) {
        values.push(n);
        if (n === 3) break;
      }
      return values;
    })();
    // Another runs until the client is disposed.
    let finished = false;
    const untilDisposed = (async () => {
      const values: number[] = [];
      for await (const n of inbox.pendingNotificationsCountStream) values.push(n);
      finished = true;
      return values;
    })();
    const lists = (async () => {
      let last = 0;
      for await (const list of inbox.notificationsStream) last = list.length;
      return last;
    })();

    const ids = await pushMany(suite.harness, 'pia', 3);
    assert.deepEqual(await withDeadline(upToThree, 'the first loop'), [0, 1, 2, 3]);
    await inbox.markOpened([ids[0]]);
    await sleep(50);
    assert.equal(finished, false, 'the second loop is still waiting');
    await inbox.dispose();
    assert.deepEqual(await withDeadline(untilDisposed, 'the loop to end on dispose()'), [0, 1, 2, 3, 2]);
    assert.equal(await withDeadline(lists, 'the list loop to end'), 3);

    // After dispose(): no values, iterators finish at once, listen() is a no-op.
    const afterDispose: number[] = [];
    for await (const n of inbox.pendingNotificationsCountStream) afterDispose.push(n);
    const stop = inbox.notificationsStream.listen((list) => afterDispose.push(list.length));
    stop();
    assert.deepEqual(afterDispose, []);
  });
});

/** Resolves with `promise`, or rejects if it takes more than 5 s. */
async function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after 5000 ms waiting for ${what}`)), 5_000);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
