/**
 * /dashboard and /demo in headless Chromium (playwright-core with Debian's chromium): sign in, watch
 * a pusher-js connection and an HTTP-triggered event arrive; on the demo, a pushed notification
 * raises the badge, opening it lowers it, and a second page of the same user follows. Saves
 * docs/img/dashboard.png and docs/img/demo.png when they are missing or HERALD_SCREENSHOTS=1.
 * Skipped, saying so, when Chromium is absent.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { PusherJs } from '../../src/client/pusher-js.js';
import { connected, sdkChannelAuth, subscribed } from '../helpers/auth.js';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { sleep } from '../helpers/wait.js';
import { ADMIN_TOKEN, adminCall, bearer } from './admin-helpers.js';
import { CHROMIUM_MISSING, launchChromium } from '../helpers/chromium.js';

const OTHER_APP = { id: 'other-app', key: 'other-key', secret: 'other-secret' };
const IMG_DIR = fileURLToPath(new URL('../../../docs/img/', import.meta.url));

/** Whether to (re)write a screenshot: when it is missing, or when asked with HERALD_SCREENSHOTS=1. */
function screenshotPath(name: string): string | null {
  const path = `${IMG_DIR}${name}`;
  if (process.env.HERALD_SCREENSHOTS !== '1' && existsSync(path)) return null;
  mkdirSync(IMG_DIR, { recursive: true });
  return path;
}

describe('dashboard and demo in Chromium', { timeout: 60_000 }, () => {
  let harness: Harness;
  let browser: Browser | null = null;
  const problems: string[] = [];
  const clients: PusherJs[] = [];

  before(async () => {
    harness = await startHarness({ apps: [TEST_APP, OTHER_APP], deps: { dashboard: { adminToken: ADMIN_TOKEN }, demo: { appId: TEST_APP.id } } });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    for (const client of clients) client.disconnect();
    await harness.close();
  });

  const newPage = async (viewport: { width: number; height: number }): Promise<Page> => {
    const page = await browser!.newPage({ viewport, colorScheme: 'light' });
    page.setDefaultTimeout(8_000);
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    // Failed loads are reported with their URL below; other console errors (CSP, exceptions) are problems.
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
    });
    page.on('response', (response) => {
      // The one refusal a test provokes on purpose: signing in with a wrong secret.
      const expected = response.status() === 401 && response.url().endsWith('/admin/session');
      if (response.status() >= 400 && !expected) problems.push(`${response.status()} ${response.request().method()} ${response.url()}`);
    });
    return page;
  };

  const skipWithoutChromium = (t: { skip: (message: string) => void }): boolean => {
    problems.length = 0;
    if (browser) return false;
    t.skip(CHROMIUM_MISSING);
    return true;
  };

  it('signs in to the dashboard, shows a pusher-js connection and an event triggered over HTTP', async (t) => {
    if (skipWithoutChromium(t)) return;
    const page = await newPage({ width: 1100, height: 760 });
    await page.goto(`${harness.baseUrl}/dashboard`);

    // A wrong secret is refused, saying so.
    await page.locator('input[name=app_id]').fill(TEST_APP.id);
    await page.locator('input[name=secret]').fill('not-the-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid=signin-error]', { hasText: 'Not signed in' }).waitFor();

    await page.locator('input[name=secret]').fill(TEST_APP.secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid=app-name]', { hasText: TEST_APP.id }).waitFor();
    const connections = page.locator('[data-testid=stat-connections] .value');
    await connections.filter({ hasText: /^0$/ }).waitFor();

    const client = harness.client();
    clients.push(client);
    const socketId = await connected(client);
    const channel = await subscribed(client, 'news');
    await connections.filter({ hasText: /^1$/ }).waitFor();
    await page.locator('[data-testid=stat-channels] .value', { hasText: /^1$/ }).waitFor();

    await page.locator('nav a[href="#console"]').click();
    await page.locator('[data-testid=stream-state]', { hasText: 'live' }).waitFor();
    await page.locator('[data-testid=console] li[data-type=connection_opened]', { hasText: socketId }).waitFor();
    await page.locator('[data-testid=console] li[data-type=channel_occupied]', { hasText: 'news' }).waitFor();

    let delivered = 0;
    channel.bind('headline', () => delivered++);
    await harness.backend().trigger('news', 'headline', { title: 'Hello from the pusher SDK' });
    const line = page.locator('[data-testid=console] li[data-type=event_published]', { hasText: 'headline' });
    await line.waitFor();
    assert.match((await line.textContent()) ?? '', /news.*headline.*Hello from the pusher SDK/s);
    assert.equal(delivered, 1, 'the pusher-js client got the event too');

    // Filterable: a filter that matches nothing hides everything, and clearing it shows the lines again.
    await page.getByLabel('Filter').fill('no-such-thing');
    await page.locator('[data-testid=console] li', { hasText: 'Nothing matches the filter.' }).waitFor();
    await page.getByLabel('Filter').fill('headline');
    await line.waitFor();
    await page.getByLabel('Filter').fill('');

    // Pausable: events that arrive while paused wait behind the Resume button.
    await page.locator('[data-testid=pause]').click();
    await harness.backend().trigger('news', 'while-paused', { n: 2 });
    await page.locator('[data-testid=pause]', { hasText: 'Resume (1 new)' }).waitFor();
    assert.equal(await page.locator('[data-testid=console] li', { hasText: 'while-paused' }).count(), 0);
    await page.locator('[data-testid=pause]').click();
    await page.locator('[data-testid=console] li[data-type=event_published]', { hasText: 'while-paused' }).waitFor();

    // The send-event form publishes to subscribers.
    await page.locator('nav a[href="#send"]').click();
    await page.locator('input[name=channels]').fill('news');
    await page.locator('input[name=event]').fill('from-form');
    await page.getByRole('button', { name: 'Send event' }).click();
    await page.locator('[data-testid=send-result]', { hasText: 'Sent "from-form"' }).waitFor();

    // The inbox browser: look up a user, push a test notification, see the unread count change.
    await page.locator('nav a[href="#inbox"]').click();
    await page.getByLabel('User id').fill('ivy');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.locator('[data-testid=inbox-unread] .value', { hasText: /^0$/ }).waitFor();
    await page.getByRole('button', { name: 'Push', exact: true }).click();
    await page.locator('[data-testid=inbox-unread] .value', { hasText: /^1$/ }).waitFor();
    await page.locator('[data-testid=inbox-list] li', { hasText: 'Sent from the Herald dashboard' }).waitFor();

    const path = screenshotPath('dashboard.png');
    if (path) {
      // Some traffic to show: more connections, a presence channel, a few events, then a burst for the charts.
      const backend = harness.backend();
      for (const user of ['ann', 'bob', 'cy']) {
        const extra = harness.client({ channelAuthorization: sdkChannelAuth(backend, (name) => (name.startsWith('presence-') ? { user_id: user } : undefined)) });
        clients.push(extra);
        await subscribed(extra, 'presence-lobby');
        await subscribed(extra, `private-${user}`);
      }
      await backend.trigger('presence-lobby', 'order-shipped', { order: 1042, carrier: 'DHL' });
      await backend.trigger('private-ann', 'invoice-ready', { invoice: 'INV-7' });
      await page.locator('nav a[href="#console"]').click();
      await page.locator('[data-testid=console] li', { hasText: 'invoice-ready' }).waitFor();
      const consolePath = screenshotPath('dashboard-console.png');
      if (consolePath) {
        await page.setViewportSize({ width: 1100, height: 640 });
        await page.screenshot({ path: consolePath });
      }
      await page.locator('nav a[href="#overview"]').click();
      for (let second = 0; second < 4; second++) {
        for (let i = 0; i < 5 + second * 4; i++) await backend.trigger(['news', 'presence-lobby'], 'tick', { second, i });
        await sleep(1_000);
      }
      await page.locator('[data-testid=stat-connections] .value', { hasText: /^4$/ }).waitFor();
      await page.setViewportSize({ width: 1100, height: 420 });
      await page.screenshot({ path, fullPage: true });
    }
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('signs in with the admin token and offers every app', async (t) => {
    if (skipWithoutChromium(t)) return;
    const page = await newPage({ width: 800, height: 600 });
    await page.goto(`${harness.baseUrl}/dashboard#channels`);
    await page.getByRole('tab', { name: 'Admin token' }).click();
    await page.locator('input[name=token]').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const select = page.locator('[data-testid=app-select]');
    await select.waitFor();
    assert.deepEqual(await select.locator('option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value)), [TEST_APP.id, OTHER_APP.id]);
    await page.locator('[data-testid=channels] td', { hasText: 'news' }).first().waitFor();
    await select.selectOption(OTHER_APP.id);
    await page.locator('[data-testid=channels] td', { hasText: 'No occupied channels' }).waitFor();
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('demo: a pushed notification raises the badge, opening it lowers it, a second page follows', async (t) => {
    if (skipWithoutChromium(t)) return;
    const first = await newPage({ width: 420, height: 860 });
    const second = await newPage({ width: 420, height: 860 });
    for (const page of [first, second]) {
      await page.goto(`${harness.baseUrl}/demo?user=wes`);
      await page.locator('[data-testid=status]', { hasText: 'Live as wes' }).waitFor();
      assert.equal(await page.locator('[data-testid=badge]').textContent(), '0');
    }

    // The push box on the first page (to itself by default: image and buttons on).
    await first.locator('[data-testid=push-box] input[name=heading]').fill('Welcome');
    await first.locator('[data-testid=push-box] textarea[name=content]').fill('Your first notification');
    await first.getByRole('button', { name: 'Send' }).click();
    for (const page of [first, second]) await page.locator('[data-testid=badge]', { hasText: /^1$/ }).waitFor();
    const item = first.locator('[data-testid=notification]', { hasText: 'Your first notification' });
    assert.equal(await item.locator('.heading').textContent(), 'Welcome');
    assert.equal(await item.locator('img').count(), 1);
    assert.deepEqual(await item.locator('.buttons button').allTextContents(), ['Accept', 'Later']);

    await item.locator('.item-main').click();
    for (const page of [first, second]) await page.locator('[data-testid=badge]', { hasText: /^0$/ }).waitFor();
    await second.locator('[data-testid=notification].opened', { hasText: 'Your first notification' }).waitFor();

    // Another demo user pushes to wes; "mark all read" on the second page clears both.
    const bob = await adminCall<{ token: string }>(harness.baseUrl, null, 'POST', '/demo/token', { user_id: 'bob' });
    for (const content of ['Lunch at noon?', 'The build is green']) {
      const sent = await adminCall(harness.baseUrl, bearer(bob.body.token), 'POST', '/demo/push', { to: ['wes'], notification: { heading: 'From Bob', content } });
      assert.equal(sent.status, 200);
    }
    for (const page of [first, second]) await page.locator('[data-testid=badge]', { hasText: /^2$/ }).waitFor();
    await second.locator('[data-testid=mark-all]').click();
    for (const page of [first, second]) await page.locator('[data-testid=badge]', { hasText: /^0$/ }).waitFor();

    const path = screenshotPath('demo.png');
    if (path) {
      const sent = await adminCall(harness.baseUrl, bearer(bob.body.token), 'POST', '/demo/push', {
        to: ['wes'],
        notification: {
          heading: 'Deploy finished',
          content: 'herald 0.1.0 is live on all nodes.',
          image_url: `${harness.baseUrl}/demo/sample.svg`,
          buttons: [
            { id: 'view', text: 'View' },
            { id: 'dismiss', text: 'Dismiss' },
          ],
        },
      });
      assert.equal(sent.status, 200);
      await first.locator('[data-testid=badge]', { hasText: /^1$/ }).waitFor();
      await first.screenshot({ path, fullPage: true });
    }
    assert.deepEqual(problems, []);
    await first.close();
    await second.close();
  });
});
