/**
 * The seed's own auth backend (`shared/seed`: an Express route answering every channel with
 * `pusher.authenticate(socketId, channelName, authData)`), run as written but for a JSON body
 * parser and the SDK's argument order, as the authoriser of pusher-js for the inbox channel.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import type Pusher from 'pusher';
import { startHarness, type Harness } from '../helpers/harness.js';
import { sdkPush } from '../helpers/inbox.js';
import { once } from '../helpers/wait.js';

/** The seed's Express app, with `express.json()` and `(socketId, channelName, authData)`. */
function seedBackend(pusher: Pusher): express.Express {
  const app = express();
  app.use(express.json());
  app.post('/pusher/authorize', (req, res) => {
    const { channelName, socketId } = req.body as { channelName: string; socketId: string };
    const authData = { user_id: '42', user_info: { name: 'Ada' } };
    const auth = pusher.authenticate(socketId, channelName, authData);
    res.send(auth);
  });
  return app;
}

describe("the seed's Express auth backend", () => {
  let harness: Harness;
  let backend: Server;
  let authorizeUrl: string;

  before(async () => {
    harness = await startHarness();
    const app = seedBackend(harness.backend());
    backend = await new Promise<Server>((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve(server));
    });
    authorizeUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/pusher/authorize`;
  });
  after(async () => {
    backend.closeAllConnections();
    await new Promise((resolve) => backend.close(resolve));
    await harness.close();
  });

  it('authorises pusher-js on private-{userId}, which then receives the inbox push', async () => {
    // Like the Flutter service's onAuthorizer: POST { channelName, socketId } as JSON, use the answer as is.
    const client = harness.client({
      channelAuthorization: {
        customHandler: ({ channelName, socketId }, callback) => {
          fetch(authorizeUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channelName, socketId }) })
            .then((response) => response.json())
            .then((auth) => callback(null, auth as { auth: string; channel_data?: string }))
            .catch((error: Error) => callback(error, null));
        },
      },
    });
    const channel = client.subscribe('private-42');
    const outcome = await once<{ ok: boolean; status?: number }>((done) => {
      channel.bind('pusher:subscription_succeeded', () => done({ ok: true }));
      channel.bind('pusher:subscription_error', (error: { status: number }) => done({ ok: false, status: error.status }));
    }, 'subscription to private-42');
    assert.deepEqual(outcome, { ok: true }, 'the auth carries channel_data, and Herald verifies it over socket_id:channel:channel_data');

    const delivered = once<{ id: string; heading: string; content: string; opened: boolean }>((done) => channel.bind('Internal Notification', done), 'Internal Notification');
    const answer = await sdkPush(harness.backend(), { user_ids: ['42'], notification: { heading: 'Order shipped', content: 'Your parcel is on its way' } });
    const stored = answer.notifications[0];
    const notification = await delivered;
    assert.equal(notification.id, stored.id);
    assert.equal(notification.heading, 'Order shipped');
    assert.equal(notification.content, 'Your parcel is on its way');
    assert.equal(notification.opened, false);
  });
});
