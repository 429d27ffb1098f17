import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sdkUserAuth, signedIn } from '../helpers/auth.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import type { RawClient } from '../helpers/raw-client.js';
import { once, sleep, waitFor } from '../helpers/wait.js';

interface WatchlistEvent {
  readonly name: string;
  readonly user_ids: string[];
}

describe('pusher:signin, server-to-user events and watchlists', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(() => harness.close());

  const userClient = (id: string, watchlist?: string[]) =>
    harness.client({ userAuthentication: sdkUserAuth(harness.backend(), watchlist ? { id, watchlist } : { id }) });

  /** A raw socket signed in as `id`. */
  async function rawUser(id: string, watchlist?: string[]): Promise<RawClient> {
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    raw.send({ event: 'pusher:signin', data: harness.backend().authenticateUser(socketId, watchlist ? { id, watchlist } : { id }) });
    await raw.next('pusher:signin_success');
    return raw;
  }

  it('answers a valid pusher:signin with signin_success echoing user_data', async () => {
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    const signed = harness.backend().authenticateUser(socketId, { id: 'echo', name: 'Echo' });
    raw.send({ event: 'pusher:signin', data: signed });
    const success = await raw.next('pusher:signin_success');
    assert.equal((success.data as { user_data: string }).user_data, signed.user_data);
  });

  it('signs in pusher-js through userAuthentication.customHandler', async () => {
    const client = userClient('pjs-user');
    await signedIn(client);
    assert.equal(client.user.user_data.id, 'pjs-user');
  });

  it('closes the socket with 4009 on a bad signin signature', async () => {
    const raw = await harness.raw();
    await raw.established();
    raw.send({ event: 'pusher:signin', data: { auth: `${harness.app.key}:${'f'.repeat(64)}`, user_data: JSON.stringify({ id: 'mallory' }) } });
    assert.equal((await raw.error()).code, 4009);
    assert.equal((await raw.closedWithin()).code, 4009);
  });

  it('closes the socket with 4009 on a signin signed for another socket', async () => {
    const raw = await harness.raw();
    await raw.established();
    raw.send({ event: 'pusher:signin', data: harness.backend().authenticateUser('1.1', { id: 'mallory' }) });
    assert.equal((await raw.closedWithin()).code, 4009);
  });

  it('refuses a raw subscription to another user\'s #server-to-user- channel', async () => {
    const raw = await rawUser('owner');
    const own = await raw.subscribe('#server-to-user-owner');
    assert.equal(own.event, 'pusher_internal:subscription_succeeded');
    const other = await raw.subscribe('#server-to-user-someone-else');
    assert.equal(other.event, 'pusher:subscription_error');
    const anonymous = await harness.raw();
    await anonymous.established();
    assert.equal((await anonymous.subscribe('#server-to-user-owner')).event, 'pusher:subscription_error');
  });

  it('delivers sendToUser to every socket of that user and to nobody else', async () => {
    const first = userClient('dana');
    const second = userClient('dana');
    const stranger = userClient('eve');
    await Promise.all([signedIn(first), signedIn(second), signedIn(stranger)]);
    const got: string[] = [];
    first.user.bind('memo', (data: { text: string }) => got.push(`first:${data.text}`));
    second.user.bind('memo', (data: { text: string }) => got.push(`second:${data.text}`));
    stranger.user.bind('memo', (data: { text: string }) => got.push(`stranger:${data.text}`));
    await harness.backend().sendToUser('dana', 'memo', { text: 'hi' });
    await waitFor(() => got.length >= 2, 'both of dana\'s sockets');
    await sleep(100);
    assert.deepEqual(got.sort(), ['first:hi', 'second:hi']);
  });

  it('sends watchlist online when a watched user signs in, and offline after its last socket leaves', async () => {
    const watcher = userClient('watcher-1', ['frank']);
    const events: WatchlistEvent[] = [];
    watcher.user.watchlist.bind('online', (e: WatchlistEvent) => events.push(e));
    watcher.user.watchlist.bind('offline', (e: WatchlistEvent) => events.push(e));
    await signedIn(watcher);

    const frankA = await rawUser('frank');
    await waitFor(() => events.length === 1, 'online event');
    assert.deepEqual(events[0], { name: 'online', user_ids: ['frank'] });
    const frankB = await rawUser('frank');
    frankA.close();
    await sleep(150);
    assert.equal(events.length, 1, 'no offline while frank has a socket, no second online');
    frankB.close();
    await waitFor(() => events.length === 2, 'offline event');
    assert.deepEqual(events[1], { name: 'offline', user_ids: ['frank'] });
  });

  it('tells a new watcher which watched users are already online', async () => {
    await rawUser('gina');
    const watcher = userClient('watcher-2', ['gina', 'nobody-online']);
    const online = once<WatchlistEvent>((done) => watcher.user.watchlist.bind('online', done), 'initial online event');
    await signedIn(watcher);
    assert.deepEqual(await online, { name: 'online', user_ids: ['gina'] });
  });

  it('refuses a watchlist of more than 100 users with 4302', async () => {
    const raw = await harness.raw();
    const { socketId } = await raw.established();
    const watchlist = Array.from({ length: 101 }, (_, i) => `w${i}`);
    raw.send({ event: 'pusher:signin', data: harness.backend().authenticateUser(socketId, { id: 'greedy', watchlist }) });
    assert.equal((await raw.error()).code, 4302);
    await raw.none('pusher:signin_success', 100);
  });

  it('accepts a watchlist of exactly 100 users', async () => {
    const watchlist = Array.from({ length: 100 }, (_, i) => `ok${i}`);
    await rawUser('hundred', watchlist);
  });

  it('terminateUserConnections closes every socket of that user, and only those', async () => {
    const one = await rawUser('ivan');
    const two = await rawUser('ivan');
    const bystander = await rawUser('judy');
    // Raw sockets only: pusher-js in Node holds a 30 s close timer after a 40xx close.
    await harness.backend().terminateUserConnections('ivan');
    assert.equal((await one.closedWithin()).code, 4009);
    assert.equal((await two.closedWithin()).code, 4009);
    await bystander.roundTrip();
  });
});
