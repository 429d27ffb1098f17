/** State events to every device of a user, and the built-in `/auth` and `/user-auth` routes with pusher-js. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { PusherJsPresenceChannel } from '../../src/client/pusher-js.js';
import { DELETED_EVENT, OPENED_EVENT } from '../../src/inbox/inbox.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import {
  builtInChannelAuth,
  builtInUserAuth,
  inboxDevice,
  postForm,
  sdkPush,
  subscription,
  tokenCall,
  tokenFor,
  userCaller,
} from '../helpers/inbox.js';
import { once, sleep, waitFor } from '../helpers/wait.js';

interface OpenedEvent {
  ids: string[];
  all: boolean;
  unread: number;
  total: number;
  opened_at: string;
}
interface DeletedEvent {
  id: string;
  unread: number;
  total: number;
}

/** An app whose inbox channels are presence channels: a user must still reach only its own. */
const PRESENCE_INBOX_APP = { id: 'presence-inbox-app', key: 'presence-inbox-key', secret: 'presence-inbox-secret', inbox_channel_template: 'presence-inbox-{userId}' };

const sign = (secret: string, text: string) => createHmac('sha256', secret).update(text).digest('hex');

describe('inbox live state and built-in auth', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ apps: [TEST_APP, PRESENCE_INBOX_APP] });
  });
  after(() => harness.close());

  it('tells every device of the user about opened and deleted notifications, with the new unread count', async () => {
    const phone = await inboxDevice(harness, 'sam');
    const laptop = await inboxDevice(harness, 'sam');
    const stranger = await inboxDevice(harness, 'not-sam');
    const answer = await sdkPush(harness.backend(), { user_ids: ['sam'], notification: { content: 'one' } });
    await sdkPush(harness.backend(), { user_ids: ['sam'], notification: { content: 'two' } });
    await sdkPush(harness.backend(), { user_ids: ['sam'], notification: { content: 'three' } });
    await phone.waitFor('Internal Notification', 3);
    await laptop.waitFor('Internal Notification', 3);
    const [first, second] = phone.of('Internal Notification');
    assert.equal(first.id, answer.notifications[0].id);

    // The phone opens one: both devices learn it, with unread 2.
    const call = userCaller(harness, await tokenFor(harness.app, 'sam'));
    const opened = await call<{ opened: string[]; unread: number }>('POST', '/users/sam/notifications/open', { ids: [first.id] });
    assert.deepEqual(opened.body.opened, [first.id]);
    for (const device of [phone, laptop]) {
      const [event] = await device.waitFor<OpenedEvent>(OPENED_EVENT);
      assert.deepEqual({ ...event, opened_at: typeof event.opened_at }, { ids: [first.id], all: false, unread: 2, total: 3, last_seq: 3, opened_at: 'string' });
    }

    // Opening it again changes nothing, so nothing is broadcast.
    await call('POST', '/users/sam/notifications/open', { ids: [first.id] });

    // The laptop deletes one: both devices learn it.
    const deleted = await call('DELETE', `/users/sam/notifications/${second.id}`);
    assert.equal(deleted.status, 200);
    for (const device of [phone, laptop]) {
      const [event] = await device.waitFor<DeletedEvent>(DELETED_EVENT);
      assert.deepEqual(event, { id: second.id, unread: 1, total: 2, last_seq: 3 });
    }

    // Open all (by the backend): both devices see all: true and unread 0.
    await harness.backend().post({ path: '/users/sam/notifications/open', body: { all: true } as unknown as string });
    for (const device of [phone, laptop]) {
      const events = await device.waitFor<OpenedEvent>(OPENED_EVENT, 2);
      assert.equal(events.length, 2, 'the repeated open of an opened one was not broadcast');
      assert.equal(events[1].all, true);
      assert.equal(events[1].unread, 0);
      assert.equal(events[1].total, 2);
    }

    await sleep(150);
    assert.deepEqual(stranger.received, [], "another user's devices hear nothing of it");
    assert.equal(phone.of(OPENED_EVENT).length, 2);
    assert.equal(phone.of(DELETED_EVENT).length, 1);
  });

  it('works end to end for a user id shaped like an e-mail address', async () => {
    const user = 'jane.doe@example.com';
    const device = await inboxDevice(harness, user);
    assert.equal(device.channel.name, `private-${user}`);
    const answer = await sdkPush(harness.backend(), { user_ids: [user], notification: { content: 'hello Jane' } });
    const [event] = await device.waitFor('Internal Notification');
    assert.equal(event.id, answer.notifications[0].id);
    const call = userCaller(harness, await tokenFor(harness.app, user));
    const path = `/users/${encodeURIComponent(user)}/notifications`;
    const listed = await call<{ notifications: { id: string }[] }>('GET', path);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.notifications.map((n) => n.id), [event.id]);
    const opened = await call<{ unread: number }>('POST', `${path}/open`, { all: true });
    assert.equal(opened.body.unread, 0);
    const [state] = await device.waitFor<OpenedEvent>(OPENED_EVENT);
    assert.equal(state.unread, 0);
  });

  describe('POST /apps/{appId}/auth', () => {
    const auth = (token: string | null, fields: Record<string, string>, appId = harness.app.id) =>
      postForm(`${harness.baseUrl}/apps/${appId}/auth`, token, fields);
    const status = async (promise: Promise<unknown>) => {
      try {
        await promise;
      } catch (error) {
        return (error as { status?: number }).status;
      }
      return 200;
    };

    it("signs the token user's own inbox channel", async () => {
      const token = await tokenFor(harness.app, 'dana');
      const answer = (await auth(token, { socket_id: '123.456', channel_name: 'private-dana' })) as { auth: string; channel_data?: string };
      assert.equal(answer.auth, `${harness.app.key}:${sign(harness.app.secret, '123.456:private-dana')}`);
      assert.equal(answer.channel_data, undefined);
    });

    it("signs presence channels as the token's user, with its user_info", async () => {
      const token = await tokenFor(harness.app, 'dana', { userInfo: { name: 'Dana' } });
      const answer = (await auth(token, { socket_id: '123.456', channel_name: 'presence-lobby' })) as { auth: string; channel_data: string };
      assert.deepEqual(JSON.parse(answer.channel_data), { user_id: 'dana', user_info: { name: 'Dana' } });
      assert.equal(answer.auth, `${harness.app.key}:${sign(harness.app.secret, `123.456:presence-lobby:${answer.channel_data}`)}`);
    });

    it("refuses another user's private channel (403) and other private channels", async () => {
      const token = await tokenFor(harness.app, 'dana');
      assert.equal(await status(auth(token, { socket_id: '123.456', channel_name: 'private-erin' })), 403);
      assert.equal(await status(auth(token, { socket_id: '123.456', channel_name: 'private-dana-admin' })), 403);
      assert.equal(await status(auth(token, { socket_id: '123.456', channel_name: 'private-encrypted-dana' })), 403);
    });

    it('is 401 without a token or with a bad one, 400 for a bad socket id or channel, 404 for an unknown app', async () => {
      const token = await tokenFor(harness.app, 'dana');
      assert.equal(await status(auth(null, { socket_id: '123.456', channel_name: 'private-dana' })), 401);
      assert.equal(await status(auth(`${token}x`, { socket_id: '123.456', channel_name: 'private-dana' })), 401);
      const expired = await tokenFor(harness.app, 'dana', { expiresInSeconds: -10 });
      assert.equal(await status(auth(expired, { socket_id: '123.456', channel_name: 'private-dana' })), 401);
      assert.equal(await status(auth(token, { socket_id: 'nope', channel_name: 'private-dana' })), 400);
      assert.equal(await status(auth(token, { channel_name: 'private-dana' })), 400);
      assert.equal(await status(auth(token, { socket_id: '123.456' })), 400);
      assert.equal(await status(auth(token, { socket_id: '123.456', channel_name: 'private-dana' }, 'no-such-app')), 404);
    });

    it("refuses another user's inbox channel when the app's inbox channels are presence channels", async () => {
      const app = harness.apps[1];
      const token = await tokenFor(app, 'dana');
      const own = (await auth(token, { socket_id: '123.456', channel_name: 'presence-inbox-dana' }, app.id)) as { channel_data: string };
      assert.equal(JSON.parse(own.channel_data).user_id, 'dana');
      assert.equal(await status(auth(token, { socket_id: '123.456', channel_name: 'presence-inbox-erin' }, app.id)), 403);
      assert.equal(await status(auth(token, { socket_id: '123.456', channel_name: 'presence-lobby' }, app.id)), 200, 'other presence channels are still signed');

      // And the inbox works on it end to end.
      const device = await inboxDevice(harness, 'dana', { app, token });
      const answer = await sdkPush(harness.backend(app), { user_ids: ['dana'], notification: { content: 'on presence' } });
      const [event] = await device.waitFor('Internal Notification');
      assert.equal(event.id, answer.notifications[0].id);
    });

    it('lets pusher-js join a presence channel as the token user, and refuses another user\'s inbox', async () => {
      const danaToken = await tokenFor(harness.app, 'dana', { userInfo: { name: 'Dana' } });
      const erinToken = await tokenFor(harness.app, 'erin', { userInfo: { name: 'Erin' } });
      const dana = harness.client({ channelAuthorization: builtInChannelAuth(harness.baseUrl, harness.app.id, danaToken) });
      const erin = harness.client({ channelAuthorization: builtInChannelAuth(harness.baseUrl, harness.app.id, erinToken) });
      const danaRoom = dana.subscribe('presence-room') as PusherJsPresenceChannel;
      await subscription(danaRoom, 'presence-room');
      assert.equal(danaRoom.members.me.id, 'dana');
      assert.deepEqual(danaRoom.members.me.info, { name: 'Dana' });
      const added = once<{ id: string; info: unknown }>((done) => danaRoom.bind('pusher:member_added', done), 'member_added');
      const erinRoom = erin.subscribe('presence-room') as PusherJsPresenceChannel;
      await subscription(erinRoom, 'presence-room');
      assert.deepEqual(await added, { id: 'erin', info: { name: 'Erin' } });
      assert.equal(erinRoom.members.count, 2);

      const spy = erin.subscribe('private-dana');
      await assert.rejects(subscription(spy, 'private-dana'), (error: { detail?: { type?: string; error?: string } }) => {
        assert.equal(error.detail?.type, 'AuthError');
        assert.match(String(error.detail?.error), /answered 403/);
        return true;
      });
    });
  });

  describe('POST /apps/{appId}/user-auth', () => {
    it('answers pusher:signin for the token user, so sendToUser reaches it', async () => {
      const token = await tokenFor(harness.app, 'fay', { userInfo: { name: 'Fay' } });
      const client = harness.client({ userAuthentication: builtInUserAuth(harness.baseUrl, harness.app.id, token) });
      const success = once<void>((done) => client.connection.bind('message', (message: { event: string }) => message.event === 'pusher:signin_success' && done()), 'pusher:signin_success');
      client.signin();
      await success;
      await waitFor(() => client.user.serverToUserChannel?.subscribed === true, '#server-to-user-fay subscription');
      assert.equal((client.user.user_data as { id: string }).id, 'fay');
      const received = once<unknown>((done) => client.user.bind('direct', done), 'sendToUser event');
      await harness.backend().sendToUser('fay', 'direct', { hello: 'fay' });
      assert.deepEqual(await received, { hello: 'fay' });
    });

    it('signs user data with the token claims, and is 401 without a valid token', async () => {
      const token = await tokenFor(harness.app, 'fay', { userInfo: { name: 'Fay' }, watchlist: ['gus'] });
      const answer = (await postForm(`${harness.baseUrl}/apps/${harness.app.id}/user-auth`, token, { socket_id: '1.2' })) as { auth: string; user_data: string };
      assert.deepEqual(JSON.parse(answer.user_data), { id: 'fay', user_info: { name: 'Fay' }, watchlist: ['gus'] });
      assert.equal(answer.auth, `${harness.app.key}:${sign(harness.app.secret, `1.2::user::${answer.user_data}`)}`);
      for (const bad of [null, `${token}x`]) {
        const reply = await tokenCall<{ code: string }>(harness.baseUrl, harness.app.id, bad, 'POST', '/user-auth', 'socket_id=1.2');
        assert.equal(reply.status, 401);
        assert.equal(reply.body.code, 'unauthorized');
      }
    });
  });
});
