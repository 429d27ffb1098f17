/**
 * The browser bundle (/sdk/herald-client.js) in headless Chromium: the example page
 * (examples/browser/) loads it from Herald, shows a live notification and the badge, and opens
 * one; a script in the page uses a token function. Skipped, saying so, when Chromium is absent.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { backendCaller, countsOf, tokenFor } from '../helpers/inbox.js';
import { pushMany } from '../helpers/inbox-client.js';
import { sleep } from '../helpers/wait.js';
import { CHROMIUM_MISSING, launchChromium } from '../helpers/chromium.js';

const EXAMPLE_DIR = fileURLToPath(new URL('../../../examples/browser/', import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/** Serves the example's files on a loopback port of its own (another origin than Herald's). */
async function serveExample(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\//, '') || 'index.html';
    if (!/^[\w.-]+$/.test(name) || !(extname(name) in TYPES)) {
      res.writeHead(404).end();
      return;
    }
    readFile(join(EXAMPLE_DIR, name)).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(name)] }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, origin: `http://127.0.0.1:${address.port}` };
}

describe('InboxClient in a browser', { timeout: 40_000 }, () => {
  let harness: Harness;
  let example: { server: Server; origin: string };
  let browser: Browser | null = null;
  const pageErrors: string[] = [];

  before(async () => {
    harness = await startHarness({ apps: [TEST_APP] });
    example = await serveExample();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => example.server.close(() => resolve()));
    await harness.close();
  });

  const newPage = async (): Promise<Page> => {
    const page = await browser!.newPage();
    page.setDefaultTimeout(8_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    return page;
  };

  it('shows a live notification and the badge on the example page, and opens it', async (t) => {
    if (!browser) {
      t.skip(CHROMIUM_MISSING);
      return;
    }
    const [first] = await pushMany(harness, 'wes', 1, 'waiting for wes');
    const query = new URLSearchParams({ herald: harness.baseUrl, appId: TEST_APP.id, appKey: TEST_APP.key, user: 'wes', token: await tokenFor(harness.app, 'wes') });
    const page = await newPage();
    await page.goto(`${example.origin}/index.html?${query}`);
    await page.locator('#status', { hasText: 'In sync as wes.' }).waitFor();
    assert.equal(await page.locator('#badge').textContent(), '1');
    assert.equal(await page.locator('#list li').count(), 1);

    const [live] = await pushMany(harness, 'wes', 1, 'live for wes');
    await page.locator(`#list li[data-id="${live}"]`, { hasText: 'live for wes 0' }).waitFor();
    await page.locator('#badge', { hasText: '2' }).waitFor();
    assert.deepEqual(await page.locator('#list li').evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.id)), [live, first]);

    await page.locator(`#list li[data-id="${live}"] button`).click();
    await page.locator('#badge', { hasText: '1' }).waitFor();
    assert.equal(await page.locator(`#list li[data-id="${live}"]`).getAttribute('class'), 'opened');
    // The badge changed before the server answered (optimistic); the server gets there too.
    let counts = { unread: -1, total: -1 };
    const deadline = Date.now() + 5_000;
    while (counts.unread !== 1 && Date.now() < deadline) {
      counts = await countsOf(backendCaller(harness), 'wes');
      if (counts.unread !== 1) await sleep(20);
    }
    assert.deepEqual(counts, { unread: 1, total: 2 });
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  it('imports the bundle in a page script and uses a token function', async (t) => {
    if (!browser) {
      t.skip(CHROMIUM_MISSING);
      return;
    }
    await pushMany(harness, 'xia', 3, 'for xia');
    const page = await newPage();
    await page.goto(`${example.origin}/index.html`); // any page of another origin
    const token = await tokenFor(harness.app, 'xia');
    const result = await page.evaluate(
      async ({ baseUrl, port, app, token }) => {
        const sdk = (await import(`${baseUrl}/sdk/herald-client.js`)) as typeof import('../../src/client/index.js');
        let asked = 0;
        const inbox = new sdk.InboxClient({ host: '127.0.0.1', port, appId: app.id, appKey: app.key, userId: 'xia', token: async () => (asked++, token) });
        const counts: number[] = [];
        inbox.pendingNotificationsCountStream.listen((n) => counts.push(n));
        await inbox.init();
        await inbox.markAllOpened();
        const contents = inbox.notifications.map((n) => n.content);
        await inbox.dispose();
        return { asked, counts, contents, exports: Object.keys(sdk).sort() };
      },
      { baseUrl: harness.baseUrl, port: harness.port, app: { id: TEST_APP.id, key: TEST_APP.key }, token },
    );
    assert.equal(result.asked, 1);
    assert.deepEqual(result.counts, [0, 3, 0]);
    assert.deepEqual(result.contents, ['for xia 2', 'for xia 1', 'for xia 0']);
    for (const name of ['InboxClient', 'HeraldError', 'HeraldAuthError', 'HeraldNetworkError', 'HeraldRequestError', 'HeraldServerError', 'HeraldDisposedError']) {
      assert.ok(result.exports.includes(name), `the bundle exports ${name}`);
    }
    assert.deepEqual(pageErrors, []);
    await page.close();
  });
});
