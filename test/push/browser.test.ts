/**
 * The service worker at /sdk/herald-sw.js in headless Chromium: registered, given a push through
 * the DevTools protocol (`ServiceWorker.deliverPushMessage`; a real subscription needs the browser
 * vendor's push service, which this machine cannot reach) carrying the very body Herald sent to a
 * local push service, it shows the notification; a click marks it opened on the server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { startHarness, type Harness } from '../helpers/harness.js';
import { signedCall } from '../helpers/inbox.js';
import { waitFor } from '../helpers/wait.js';
import { LocalPushService } from './local-push-service.js';
import { userCall } from './push-helpers.js';
import { CHROMIUM_MISSING, launchChromium } from '../helpers/chromium.js';

const APP = { id: 'sw-app', key: 'sw-key', secret: 'sw-secret', push: { default: { policy: 'if_unseen', delay_seconds: 0, ttl_seconds: 600 } } };

interface ShownNotification {
  title: string;
  body: string;
  tag: string;
  image: string;
  actions: { action: string; title: string }[];
}

describe('the push service worker in Chromium', { timeout: 60_000 }, () => {
  const service = new LocalPushService();
  let harness: Harness;
  let browser: Browser | null = null;
  let context: BrowserContext;

  before(async () => {
    await service.start();
    harness = await startHarness({ apps: [APP], deps: { push: { pollIntervalMs: 40 }, demo: { appId: APP.id } } });
    browser = await launchChromium();
    if (browser) {
      context = await browser.newContext();
    }
  });
  after(async () => {
    await browser?.close();
    await harness?.close();
    await service.close();
  });

  /** The body Herald pushes for one notification, as the local push service decrypted it. */
  async function pushedBody(user: string, notification: Record<string, unknown>): Promise<Record<string, unknown>> {
    const subscription = service.subscribe();
    const call = await userCall(harness, user);
    assert.equal((await call('POST', `/users/${user}/devices`, { kind: 'webpush', subscription: subscription.json })).status, 201);
    await signedCall(harness.baseUrl, harness.app, 'POST', '/notifications', { user_ids: [user], notification });
    await waitFor(() => service.delivered(subscription).length === 1, 'the push at the local push service', 8_000);
    return service.delivered(subscription)[0];
  }

  it('shows a pushed notification and marks it opened on a click', async (t) => {
    if (!browser) {
      t.skip(CHROMIUM_MISSING);
      return;
    }
    const body = await pushedBody('wes', {
      id: 'sw-1',
      heading: 'Invoice ready',
      content: 'Your December invoice is ready',
      image_url: `${harness.baseUrl}/health`,
      buttons: [{ id: 'pay', text: 'Pay now' }, { id: 'later', text: 'Later' }],
    });
    assert.equal(body.id, 'sw-1');

    await context.grantPermissions(['notifications'], { origin: harness.baseUrl });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${harness.baseUrl}/health`);
    const cdp = await context.newCDPSession(page);
    const registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (event: { registrations: typeof registrations }) => registrations.push(...event.registrations));
    await cdp.send('ServiceWorker.enable');

    const script = await fetch(`${harness.baseUrl}/sdk/herald-sw.js`);
    assert.equal(script.status, 200);
    assert.equal(script.headers.get('service-worker-allowed'), '/');
    const scope = await page.evaluate(async (herald) => {
      const registration = await navigator.serviceWorker.register(`/sdk/herald-sw.js?herald=${encodeURIComponent(herald)}`, { scope: '/' });
      await navigator.serviceWorker.ready;
      return registration.scope;
    }, harness.baseUrl);
    assert.equal(scope, `${harness.baseUrl}/`);
    await waitFor(() => registrations.some((r) => r.scopeURL === scope && !r.isDeleted), 'the registration over CDP');
    const registrationId = registrations.find((r) => r.scopeURL === scope)!.registrationId;

    await cdp.send('ServiceWorker.deliverPushMessage', { origin: harness.baseUrl, registrationId, data: JSON.stringify(body) });
    let shown: ShownNotification[] = [];
    for (let i = 0; i < 80 && shown.length === 0; i++) {
      shown = await page.evaluate(async () => {
        const registration = await navigator.serviceWorker.ready;
        return (await registration.getNotifications()).map((n) => ({
          title: n.title,
          body: n.body,
          tag: n.tag,
          image: (n as Notification & { image?: string }).image ?? '',
          actions: [...((n as Notification & { actions?: { action: string; title: string }[] }).actions ?? [])].map((a) => ({ action: a.action, title: a.title })),
        }));
      });
      if (shown.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(shown.length, 1, 'one notification shown');
    assert.equal(shown[0].title, 'Invoice ready');
    assert.equal(shown[0].body, 'Your December invoice is ready');
    assert.equal(shown[0].tag, 'sw-1');
    assert.equal(shown[0].image, `${harness.baseUrl}/health`);
    assert.deepEqual(shown[0].actions, [{ action: 'pay', title: 'Pay now' }, { action: 'later', title: 'Later' }]);

    // The same tag again replaces the shown notification instead of adding one.
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: harness.baseUrl, registrationId, data: JSON.stringify({ ...body, content: 'Updated', message_id: 'updated-1' }) });
    let bodies: string[] = [];
    for (let i = 0; i < 80; i++) {
      bodies = await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => n.body));
      if (bodies.length === 1 && bodies[0] === 'Updated') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(bodies, ['Updated'], 'collapsed by tag');
    const silentOf = () => page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => `${n.body} silent=${n.silent}`));
    assert.deepEqual(await silentOf(), ['Updated silent=false'], 'a new message alerts');

    // The same message again (a resend after Herald crashed before committing it): shown in its slot, silently.
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: harness.baseUrl, registrationId, data: JSON.stringify({ ...body, content: 'Updated', message_id: 'updated-1', badge: 9 }) });
    let shownAgain: string[] = [];
    for (let i = 0; i < 80; i++) {
      shownAgain = await silentOf();
      if (shownAgain[0]?.endsWith('silent=true')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(shownAgain, ['Updated silent=true'], 'a repeated message does not alert twice');

    // A click on the "Pay now" action, dispatched in the worker as the browser would.
    const worker = context.serviceWorkers().find((w) => w.url().includes('/sdk/herald-sw.js'));
    assert.ok(worker, 'the service worker is running');
    await worker.evaluate(async () => {
      const scope = globalThis as unknown as { registration: { getNotifications(): Promise<unknown[]> }; dispatchEvent(event: Event): boolean };
      const [notification] = await scope.registration.getNotifications();
      const NotificationEventClass = (globalThis as unknown as { NotificationEvent: new (type: string, init: unknown) => Event }).NotificationEvent;
      scope.dispatchEvent(new NotificationEventClass('notificationclick', { notification, action: 'pay' }));
    });
    const call = await userCall(harness, 'wes');
    let opened = false;
    for (let i = 0; i < 80 && !opened; i++) {
      opened = (await call<{ opened: boolean }>('GET', '/users/wes/notifications/sw-1')).body.opened;
      if (!opened) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(opened, true, 'the click marked it opened on the server');
    const left = await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).length);
    assert.equal(left, 0, 'the clicked notification is closed');
  });

  it('the demo page offers "notify me when I\'m away", which registers the service worker over /demo', async (t) => {
    if (!browser) {
      t.skip(CHROMIUM_MISSING);
      return;
    }
    const demo = await browser.newContext();
    try {
      await demo.grantPermissions(['notifications'], { origin: harness.baseUrl });
      const page = await demo.newPage();
      page.setDefaultTimeout(10_000);
      await page.goto(`${harness.baseUrl}/demo?user=away`);
      const status = page.getByTestId('away-push').getByRole('status');
      await page.getByRole('button', { name: "Notify me when I'm away" }).click();
      // Playwright's contexts are incognito, where Chromium refuses push subscriptions: the page says
      // so. Everything before the subscription (permission, service worker, VAPID key) has run.
      await page.waitForFunction(() => !/^(Asking|Pushes)/.test(document.querySelector('[data-testid="away-push"] [role="status"]')?.textContent ?? ''));
      const text = (await status.textContent()) ?? '';
      assert.ok(/^On:/.test(text) || /Registration failed/.test(text), text);
      const scopes = await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).map((r) => [r.scope, r.active?.scriptURL ?? r.installing?.scriptURL ?? '']));
      assert.equal(scopes.length, 1);
      assert.equal(scopes[0][0], `${harness.baseUrl}/demo`);
      assert.match(scopes[0][1], /\/sdk\/herald-sw\.js\?herald=/);
    } finally {
      await demo.close();
    }
  });

  it('refuses a click whose receipt is not the push’s', async () => {
    const forged = await fetch(`${harness.baseUrl}/apps/${APP.id}/push/clicks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'wes', id: 'sw-1', receipt: 'A'.repeat(43) }),
    });
    assert.equal(forged.status, 401);
  });
});
