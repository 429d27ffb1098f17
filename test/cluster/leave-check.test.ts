/**
 * The webhooks' leave delay in a cluster: a held channel_vacated / member_removed is checked
 * against the cluster-wide state when its delay runs out (a return on another node never reaches
 * this node's delay). Pure: the shared state is a stub.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChannelStats, PresenceMember } from '../../src/cluster/adapter.js';
import { LeaveDelay, stillGone, type AppEvent, type LeaveState } from '../../src/webhooks/leave-delay.js';
import { sleep } from '../helpers/wait.js';

const vacated: AppEvent = { appId: 'a', event: { name: 'channel_vacated', channel: 'room' } };
const occupied: AppEvent = { appId: 'a', event: { name: 'channel_occupied', channel: 'room' } };
const removed: AppEvent = { appId: 'a', event: { name: 'member_removed', channel: 'presence-room', user_id: 'ann' } };

/** Shared state answering from plain values; `gate` holds answers back until it resolves. */
function state(subscriptions: number, members: string[], gate: Promise<void> = Promise.resolve()): LeaveState {
  return {
    async channelStats(): Promise<ChannelStats> {
      await gate;
      return { subscriptionCount: subscriptions, userCount: 0 };
    },
    async presenceMembers(): Promise<PresenceMember[]> {
      await gate;
      return members.map((userId) => ({ userId, userInfo: null }));
    },
  };
}

describe('LeaveDelay checked against the cluster', () => {
  it('stillGone reads the channel count and the members', async () => {
    assert.equal(await stillGone(state(0, []), vacated), true);
    assert.equal(await stillGone(state(2, []), vacated), false);
    assert.equal(await stillGone(state(0, ['bob']), removed), true);
    assert.equal(await stillGone(state(0, ['ann']), removed), false);
  });

  it('releases a leave that still holds, drops one whose channel or member came back elsewhere', async () => {
    for (const [shared, expected] of [[state(0, []), [vacated, removed]], [state(1, ['ann']), []]] as const) {
      const released: AppEvent[] = [];
      const delay = new LeaveDelay(20, (e) => released.push(e), (item) => stillGone(shared, item));
      delay.offer(vacated);
      delay.offer(removed);
      await sleep(80);
      assert.deepEqual(released, expected);
      assert.equal(delay.size, 0);
    }
  });

  it('releases the leave when the shared state cannot be read', async () => {
    const released: AppEvent[] = [];
    const delay = new LeaveDelay(10, (e) => released.push(e), () => Promise.reject(new Error('redis down')));
    delay.offer(vacated);
    await sleep(60);
    assert.deepEqual(released, [vacated]);
  });

  it('a return on this node while the check runs drops both, as within the delay; flush releases what is being checked', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const released: AppEvent[] = [];
    const delay = new LeaveDelay(10, (e) => released.push(e), (item) => stillGone(state(0, []), item).then(async (gone) => (await gate, gone)));
    delay.offer(vacated);
    await sleep(40); // the delay ran out; the check waits at the gate
    assert.equal(delay.size, 1);
    assert.equal(delay.offer(occupied), true, 'the return is taken, not passed on');
    open();
    await sleep(10);
    assert.equal(released.length, 0);

    const slow = new LeaveDelay(10, (e) => released.push(e), () => new Promise<boolean>(() => undefined));
    slow.offer(removed);
    await sleep(40);
    slow.flush();
    assert.deepEqual(released, [removed]);
    assert.equal(slow.size, 0);
  });
});
