/**
 * `<herald-inbox>` end to end in headless Chromium (playwright-core with Debian's chromium), on a
 * plain HTML page of another origin that loads /sdk/herald-inbox.js with one script tag, and on a
 * React page: live arrival, badge, open, buttons, load more, mark all read, two tabs of one user,
 * offline and reconnect, keyboard only, Arabic right to left, the error and empty states, and an
 * axe-core check of the open feed. Saves docs/img/inbox-*.png when missing or HERALD_SCREENSHOTS=1.
 * Skipped, saying so, when Chromium is absent.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContextOptions, Locator, Page } from 'playwright-core';
import { startHarness, TEST_APP, type Harness } from '../helpers/harness.js';
import { backendCaller, countsOf, sdkPush } from '../helpers/inbox.js';
import { pushMany } from '../helpers/inbox-client.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { sleep } from '../helpers/wait.js';
import { serveAppPages, type AppPages } from './pages.js';
import { CHROMIUM_MISSING, launchChromium } from '../helpers/chromium.js';

const IMG_DIR = fileURLToPath(new URL('../../../docs/img/', import.meta.url));
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Where to (re)write a screenshot: when it is missing, or when asked with HERALD_SCREENSHOTS=1. */
function screenshotPath(name: string): string | null {
  const path = `${IMG_DIR}${name}`;
  if (process.env.HERALD_SCREENSHOTS !== '1' && existsSync(path)) return null;
  mkdirSync(IMG_DIR, { recursive: true });
  return path;
}

/** The parts of design.md §7, through the open shadow root (Playwright's CSS pierces it). */
const part = {
  bell: (page: Page) => page.locator('herald-inbox [part~="bell"]'),
  badge: (page: Page) => page.locator('herald-inbox [part~="badge"]'),
  feed: (page: Page) => page.locator('herald-inbox [part~="feed"]'),
  rows: (page: Page) => page.locator('herald-inbox [part~="notification"]'),
  row: (page: Page, id: string) => page.locator(`herald-inbox [part~="notification"][data-id="${id}"]`),
  banner: (page: Page) => page.locator('herald-inbox [part~="banner"]'),
};

async function badgeIs(page: Page, count: number): Promise<void> {
  await page.locator('herald-inbox [part~="badge"]', { hasText: new RegExp(`^${count}$`) }).waitFor({ state: 'attached' });
}

/** The data-id of the element focused inside the inbox's shadow root (or its tag). */
function focusedInInbox(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const active = document.querySelector('herald-inbox')?.shadowRoot?.activeElement as HTMLElement | null | undefined;
    if (!active) return null;
    return active.closest<HTMLElement>('[data-id]')?.dataset.id ?? active.getAttribute('part') ?? active.tagName;
  });
}

async function unreadOnServer(harness: Harness, user: string, expected: number): Promise<void> {
  let counts = { unread: -1, total: -1 };
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    counts = await countsOf(backendCaller(harness), user);
    if (counts.unread === expected) return;
    await sleep(25);
  }
  assert.equal(counts.unread, expected, `unread of ${user} on the server`);
}

/** A few realistic notifications, for the screenshots and the accessibility check. */
/**
 * An element's box once the layout holds still: the same box twice in a row. Right after the feed
 * opens, live updates re-render rows and the popover settles, and Playwright answers null for an
 * element caught between two renders.
 */
async function settledBox(locator: Locator): Promise<{ x: number; y: number; width: number; height: number }> {
  let last: string | null = null;
  for (let attempt = 0; attempt < 50; attempt++) {
    const box = await locator.boundingBox();
    const key = box && JSON.stringify(box);
    if (box && key === last) return box;
    last = key;
    await sleep(20);
  }
  throw new Error(`the box of ${String(locator)} did not settle within 50 looks`);
}

async function pushShowcase(harness: Harness, pages: AppPages, user: string, language: 'en' | 'ar' = 'en'): Promise<string[]> {
  const backend = harness.backend();
  const arabic = [
    { heading: 'اكتمل النشر', content: 'الإصدار 4.2.0 متاح الآن في كل المناطق.', image_url: `${pages.origin}/avatar/CI.svg` },
    { heading: 'علّقت مايا على «خطة الربع الثالث»', content: 'تبدو رائعة. هل يمكننا تقديم العمل على الفوترة؟', image_url: `${pages.origin}/avatar/Maya.svg` },
    { heading: 'الفاتورة INV-2041 جاهزة', content: 'المبلغ 1240 يورو مستحق في 14 ديسمبر.', buttons: [{ id: 'pay', text: 'ادفع الآن' }, { id: 'later', text: 'ذكّرني لاحقًا' }] },
    { heading: 'دعاك يونس إلى «تطبيق الجوال»', content: 'انضم إلى المشروع لترى مهامه وملفاته.', buttons: [{ id: 'accept', text: 'قبول' }, { id: 'decline', text: 'رفض' }] },
  ];
  const english = [
    { heading: 'Deploy finished', content: 'acme-web 4.2.0 is live in all regions.', image_url: `${pages.origin}/avatar/CI.svg` },
    { heading: 'Maya commented on “Q3 roadmap”', content: 'Looks great. Can we move the billing work up a sprint?', image_url: `${pages.origin}/avatar/Maya.svg` },
    {
      heading: 'Invoice INV-2041 is ready',
      content: '€1,240.00 due on 14 December.',
      image_url: `${pages.origin}/avatar/Billing.svg`,
      buttons: [
        { id: 'pay', text: 'Pay now' },
        { id: 'later', text: 'Remind me later' },
      ],
    },
    { heading: 'Jonas invited you to “Mobile app”', content: 'Join the project to see its tasks and files.', buttons: [{ id: 'accept', text: 'Accept' }, { id: 'decline', text: 'Decline' }] },
  ];
  const items = language === 'ar' ? arabic : english;
  const ids: string[] = [];
  for (const notification of [...items].reverse()) {
    const answer = await sdkPush(backend, { user_ids: [user], notification });
    ids.push(answer.notifications[0].id);
  }
  return ids.reverse();
}

describe('<herald-inbox> in Chromium', { timeout: 120_000 }, () => {
  let harness: Harness;
  let pages: AppPages;
  let browser: Browser | null = null;
  const problems: string[] = [];

  before(async () => {
    harness = await startHarness({ apps: [TEST_APP] });
    pages = await serveAppPages(harness);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await pages.close();
    await harness.close();
  });

  const newPage = async (options: BrowserContextOptions = {}): Promise<Page> => {
    const context = await browser!.newContext({ viewport: { width: 1100, height: 720 }, colorScheme: 'light', ...options });
    const page = await context.newPage();
    page.setDefaultTimeout(8_000);
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
    });
    return page;
  };

  const skipWithoutChromium = (t: { skip: (message: string) => void }): boolean => {
    problems.length = 0;
    if (browser) return false;
    t.skip(CHROMIUM_MISSING);
    return true;
  };

  const openFeed = async (page: Page): Promise<Locator> => {
    await part.bell(page).click();
    await part.feed(page).waitFor();
    return part.feed(page);
  };

  it('shows live notifications and the badge, opens on click, presses buttons, loads more and marks all read', async (t) => {
    if (skipWithoutChromium(t)) return;
    await pushMany(harness, 'ann', 22, 'older');
    const page = await newPage();
    await page.goto(pages.plain({ user: 'ann' }));
    await badgeIs(page, 22);
    assert.equal(await part.bell(page).getAttribute('aria-expanded'), 'false');
    assert.equal(await part.bell(page).getAttribute('aria-label'), 'Notifications, 22 unread');

    await openFeed(page);
    assert.equal(await part.bell(page).getAttribute('aria-expanded'), 'true');
    await part.rows(page).nth(19).waitFor();
    assert.equal(await part.rows(page).count(), 20, 'the first page');
    // Load more on scroll: the rest comes when the end of the list is reached.
    await part.rows(page).nth(19).scrollIntoViewIfNeeded();
    await part.rows(page).nth(21).waitFor();
    assert.equal(await part.rows(page).count(), 22);

    const [live] = (await sdkPush(harness.backend(), { user_ids: ['ann'], notification: { heading: 'Build passed', content: 'main is green', buttons: [{ id: 'view', text: 'View run' }] } })).notifications.map((n) => n.id);
    const row = part.row(page, live);
    await row.waitFor();
    await badgeIs(page, 23);
    assert.equal(await part.rows(page).first().getAttribute('data-id'), live, 'newest first');
    assert.equal(await row.locator('.heading').textContent(), 'Build passed');
    assert.match((await row.locator('time').textContent()) ?? '', /now|second/);

    await row.locator('.item-main').click();
    await badgeIs(page, 22);
    await page.locator(`herald-inbox [part~="notification"][data-id="${live}"].opened`).waitFor();
    await unreadOnServer(harness, 'ann', 22);

    const second = part.rows(page).nth(1);
    const secondId = (await second.getAttribute('data-id'))!;
    const [withButtonId] = (await sdkPush(harness.backend(), { user_ids: ['ann'], notification: { content: 'with a button', buttons: [{ id: 'ok', text: 'OK' }] } })).notifications.map((n) => n.id);
    // The badge (counts) and the row (the notification event) arrive separately: wait for both.
    await badgeIs(page, 23);
    const withButton = part.row(page, withButtonId);
    await withButton.waitFor();
    assert.equal(await part.rows(page).first().getAttribute('data-id'), withButtonId, 'newest first');
    await withButton.getByRole('button', { name: 'OK' }).click();
    await badgeIs(page, 22);
    assert.notEqual(withButtonId, secondId);

    await page.locator('herald-inbox [part~="mark-all"]').click();
    await badgeIs(page, 0);
    await unreadOnServer(harness, 'ann', 0);
    await page.waitForFunction(() => {
      const badge = document.querySelector('herald-inbox')?.shadowRoot?.querySelector('[part~="badge"]');
      return badge !== null && badge !== undefined && getComputedStyle(badge).opacity === '0';
    });

    const events = (await page.evaluate(() => (window as unknown as { heraldEvents: { type: string; id: string | null; buttonId: string | null }[] }).heraldEvents)).filter((e) => e.type !== 'herald-ready');
    assert.deepEqual(events, [
      { type: 'herald-open', id: live, buttonId: null },
      { type: 'herald-action', id: withButtonId, buttonId: 'ok' },
    ]);
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  it('keeps two tabs of one user in sync', async (t) => {
    if (skipWithoutChromium(t)) return;
    const first = await newPage();
    const second = await first.context().newPage();
    second.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    for (const page of [first, second]) {
      await page.goto(pages.plain({ user: 'bo' }));
      await page.locator('herald-inbox[data-state=ready]').waitFor({ state: 'attached' });
    }
    const ids = await pushMany(harness, 'bo', 2, 'for bo');
    for (const page of [first, second]) await badgeIs(page, 2);
    await openFeed(second);
    await first.bringToFront();
    await openFeed(first);
    await part.row(first, ids[1]).locator('.item-main').click();
    for (const page of [first, second]) await badgeIs(page, 1);
    await second.locator(`herald-inbox [part~="notification"][data-id="${ids[1]}"].opened`).waitFor();
    await second.bringToFront();
    await second.locator('herald-inbox [part~="mark-all"]').click();
    for (const page of [first, second]) await badgeIs(page, 0);
    await first.locator(`herald-inbox [part~="notification"][data-id="${ids[0]}"].opened`).waitFor();
    assert.deepEqual(problems, []);
    await first.context().close();
  });

  it('shows the offline state while the connection is down and catches up after reconnecting', async (t) => {
    if (skipWithoutChromium(t)) return;
    const proxy = await TcpProxy.start(harness.port);
    try {
      const page = await newPage();
      await page.goto(pages.plain({ user: 'cy', port: proxy.port }));
      await page.locator('herald-inbox[data-state=ready]').waitFor({ state: 'attached' });
      await openFeed(page);
      await page.locator('herald-inbox [part~="empty"]', { hasText: 'You’re all caught up' }).waitFor();

      proxy.pause();
      proxy.killAll();
      await page.locator('herald-inbox [part~="banner"][data-state=offline]', { hasText: 'offline' }).waitFor();
      assert.equal(await page.locator('herald-inbox').getAttribute('data-state'), 'offline');
      const [missed] = await pushMany(harness, 'cy', 1, 'while offline');
      proxy.resume();
      await part.row(page, missed).waitFor({ timeout: 20_000 });
      await badgeIs(page, 1);
      await page.locator('herald-inbox[data-state=ready]').waitFor({ state: 'attached' });
      assert.equal(await part.banner(page).isVisible(), false);

      // The browser's own offline signal shows the state too.
      await page.context().setOffline(true);
      await page.locator('herald-inbox [part~="banner"][data-state=offline]').waitFor();
      await page.context().setOffline(false);
      await part.banner(page).waitFor({ state: 'hidden', timeout: 20_000 });
      assert.deepEqual(problems, []);
      await page.context().close();
    } finally {
      await proxy.close();
    }
  });

  it('is usable with the keyboard alone', async (t) => {
    if (skipWithoutChromium(t)) return;
    const ids = await pushMany(harness, 'dee', 3, 'for dee');
    const page = await newPage();
    await page.goto(pages.plain({ user: 'dee' }));
    await badgeIs(page, 3);
    await page.keyboard.press('Tab');
    assert.equal(await focusedInInbox(page), 'bell');
    await page.keyboard.press('Enter');
    await part.feed(page).waitFor();
    await page.waitForFunction(() => document.querySelector('herald-inbox')?.shadowRoot?.activeElement?.closest('[data-id]') != null);
    assert.equal(await focusedInInbox(page), ids[2], 'the newest row has the focus');
    await page.keyboard.press('ArrowDown');
    assert.equal(await focusedInInbox(page), ids[1]);
    await page.keyboard.press('Enter');
    await badgeIs(page, 2);
    await page.keyboard.press('ArrowUp');
    assert.equal(await focusedInInbox(page), ids[2]);
    await page.keyboard.press(' ');
    await badgeIs(page, 1);
    await page.keyboard.press('Escape');
    await part.feed(page).waitFor({ state: 'hidden' });
    assert.equal(await focusedInInbox(page), 'bell', 'Escape gives the focus back to the bell');
    assert.equal(await part.bell(page).getAttribute('aria-expanded'), 'false');
    await page.keyboard.press('ArrowDown');
    await part.feed(page).waitFor();
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  it('speaks Arabic right to left, German, and English relative times', async (t) => {
    if (skipWithoutChromium(t)) return;
    await pushShowcase(harness, pages, 'eli', 'ar');
    const page = await newPage();
    await page.goto(pages.plain({ user: 'eli', locale: 'ar' }));
    await badgeIs(page, 4);
    assert.equal(await part.bell(page).getAttribute('aria-label'), 'الإشعارات، 4 غير مقروءة');
    await openFeed(page);
    await part.rows(page).nth(3).waitFor();
    assert.equal(await page.locator('herald-inbox [part~="root"]').getAttribute('dir'), 'rtl');
    assert.equal(await page.locator('herald-inbox [part~="title"]').textContent(), 'الإشعارات');
    assert.match((await part.rows(page).first().locator('time').textContent()) ?? '', /[\u0600-\u06FF]/, 'the relative time is in Arabic');
    // Right to left: the unread dot is left of the text, and the popover opens toward the page's start side.
    const row = part.rows(page).first();
    const dot = await settledBox(row.locator('.dot'));
    const text = await settledBox(row.locator('.text'));
    assert.ok(dot.x < text.x, 'the dot is on the left in RTL');
    const bell = await settledBox(part.bell(page));
    const panel = await settledBox(page.locator('herald-inbox [part~="panel"]'));
    assert.ok(Math.abs(panel.x - bell.x) < 2, 'the popover is aligned with the bell on its left edge');
    const path = screenshotPath('inbox-rtl.png');
    if (path) await page.screenshot({ path });

    await page.locator('herald-inbox').evaluate((element) => element.setAttribute('locale', 'de'));
    await page.locator('herald-inbox [part~="title"]', { hasText: 'Benachrichtigungen' }).waitFor();
    assert.equal(await page.locator('herald-inbox [part~="root"]').getAttribute('dir'), 'ltr');
    assert.equal(await page.locator('herald-inbox [part~="mark-all"]').textContent(), 'Alle als gelesen markieren');
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  it('passes an axe-core check with the feed open, and looks right in light, dark and on a phone', async (t) => {
    if (skipWithoutChromium(t)) return;
    await pushShowcase(harness, pages, 'fay');
    for (const variant of ['light', 'dark', 'mobile'] as const) {
      const page = await newPage(variant === 'mobile' ? { viewport: { width: 390, height: 760 }, isMobile: true, hasTouch: true } : { colorScheme: variant });
      await page.goto(pages.plain({ user: 'fay' }));
      await badgeIs(page, 4);
      await openFeed(page);
      await part.rows(page).nth(3).waitFor();
      await page.locator('herald-inbox [part~="notification"] img').first().evaluate((img) => (img as HTMLImageElement).decode());
      await page.addScriptTag({ content: AXE_SOURCE });
      const result = await page.evaluate(async () => {
        const axe = (window as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: { id: string; help: string; nodes: { target: unknown }[] }[] }> } }).axe;
        const { violations } = await axe.run(document, { resultTypes: ['violations'] });
        return violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')})`);
      });
      assert.deepEqual(result, [], `axe violations (${variant})`);
      if (variant === 'mobile') {
        const panel = (await page.locator('herald-inbox [part~="panel"]').boundingBox())!;
        assert.deepEqual([panel.x, panel.width], [0, 390], 'the feed fills the phone screen');
        await page.locator('herald-inbox [part~="close"]').click();
        await part.feed(page).waitFor({ state: 'hidden' });
        await part.bell(page).click();
      }
      const path = screenshotPath(`inbox-${variant}.png`);
      if (path) await page.screenshot({ path });
      await page.context().close();
    }
    assert.deepEqual(problems, []);
  });

  it('shows the error state when the token route fails, and the empty state', async (t) => {
    if (skipWithoutChromium(t)) return;
    const page = await newPage();
    await page.goto(pages.plain({ user: 'gus', brokenToken: true }));
    await page.locator('herald-inbox[data-state=error]').waitFor({ state: 'attached' });
    await openFeed(page);
    await page.locator('herald-inbox [part~="banner"][data-state=error]', { hasText: 'could not be loaded' }).waitFor();
    await page.locator('herald-inbox [part~="retry"]').waitFor();
    assert.equal(await page.locator('herald-inbox [part~="empty"]').isVisible(), false);
    // A failing token route is the app's problem, reported as an event and shown; nothing throws in the page.
    const errors = await page.evaluate(() => (window as unknown as { heraldEvents: { type: string }[] }).heraldEvents.filter((e) => e.type === 'herald-error').length);
    assert.ok(errors >= 1);
    await page.context().close();
    problems.length = 0;
  });

  it('inbox v2 on a real server: tabs, seen on view, archive, snooze and mark all read reach the server, and a second tab follows', async (t) => {
    if (skipWithoutChromium(t)) return;
    const call = backendCaller(harness);
    const serverCounts = async () => (await call<{ unseen: number; unread: number; total: number }>('GET', '/users/ivy/notifications/count')).body;
    const serverIds = async (query: string) => (await call<{ notifications: { id: string }[] }>('GET', `/users/ivy/notifications?${query}`)).body.notifications.map((n) => n.id);
    const until = async (what: string, check: () => Promise<boolean>) => {
      const deadline = Date.now() + 5_000;
      while (!(await check())) {
        if (Date.now() > deadline) assert.fail(`the server never got: ${what}`);
        await sleep(25);
      }
    };
    const ids = await pushMany(harness, 'ivy', 3, 'for ivy');
    const first = await newPage();
    const second = await first.context().newPage();
    second.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    for (const page of [first, second]) {
      await page.goto(pages.plain({ user: 'ivy' }));
      await badgeIs(page, 3);
    }
    assert.equal((await serverCounts()).unseen, 3, 'nothing is seen before the feed is shown');
    // The tab opened last is in front; a background tab gets about one animation frame a second,
    // which makes every Playwright stability check on it take seconds.
    await first.bringToFront();
    await openFeed(first);
    await first.locator('herald-inbox [role=tab][data-view=unread] .tab-count', { hasText: /^3$/ }).waitFor();
    await until('seen on view', async () => (await serverCounts()).unseen === 0);

    await part.row(first, ids[2]).hover();
    await part.row(first, ids[2]).getByRole('button', { name: 'Archive' }).click();
    await part.row(first, ids[2]).waitFor({ state: 'detached' });
    for (const page of [first, second]) await badgeIs(page, 2);
    await until('archived', async () => (await serverIds('archived=only')).includes(ids[2]));

    await part.row(first, ids[1]).hover();
    await part.row(first, ids[1]).getByRole('button', { name: 'Snooze' }).click();
    await first.locator('herald-inbox [role=menuitem]', { hasText: 'For 1 hour' }).click();
    await part.row(first, ids[1]).waitFor({ state: 'detached' });
    for (const page of [first, second]) await badgeIs(page, 1);
    await until('snoozed', async () => (await serverIds('snoozed=only')).includes(ids[1]));

    await first.locator('herald-inbox [part~="mark-all"]').click();
    for (const page of [first, second]) await badgeIs(page, 0);
    await until('all read', async () => (await serverCounts()).unread === 0);
    assert.deepEqual(problems, []);
    await first.context().close();
  });

  /** The calls the page's stand-in v2 client received. */
  const fakeCalls = (page: Page) => page.evaluate(() => (window as unknown as { fake: { calls: { method: string; ids?: string[]; filter?: unknown; until?: string }[] } }).fake.calls);

  it('inbox v2 (against the agreed client API): tabs with counts, seen on view only in a visible page, archive, snooze, mark all read of a view', async (t) => {
    if (skipWithoutChromium(t)) return;
    const page = await newPage();
    // The page starts hidden (a background tab): nothing is marked seen until it is shown.
    await page.addInitScript(() => {
      let state: DocumentVisibilityState = 'hidden';
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
      (window as unknown as { setVisible: (visible: boolean) => void }).setVisible = (visible) => {
        state = visible ? 'visible' : 'hidden';
        document.dispatchEvent(new Event('visibilitychange'));
      };
    });
    await page.goto(pages.v2());
    await badgeIs(page, 2);
    await openFeed(page);
    const tabs = page.locator('herald-inbox [role=tab]');
    assert.deepEqual(await tabs.allTextContents(), ['All2', 'Unread2', 'Archived0']);
    assert.equal(await tabs.nth(0).getAttribute('aria-selected'), 'true');
    await part.rows(page).nth(2).waitFor();
    await sleep(400);
    assert.deepEqual(await fakeCalls(page), [], 'a hidden page marks nothing seen');
    await page.evaluate(() => (window as unknown as { setVisible: (visible: boolean) => void }).setVisible(true));
    await page.waitForFunction(() => (window as unknown as { fake: { calls: unknown[] } }).fake.calls.length > 0);
    assert.deepEqual(await fakeCalls(page), [{ method: 'markSeen', ids: ['n3', 'n1'] }], 'the unseen rows on screen, in one call');

    // Tabs: the Unread view, by keyboard.
    await tabs.nth(0).focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await tabs.nth(1).getAttribute('aria-selected'), 'true');
    await page.locator('herald-inbox [part~="notification"]').nth(1).waitFor();
    assert.deepEqual(await part.rows(page).evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.id)), ['n3', 'n1']);

    // Archive: the row leaves the view and shows up under Archived.
    await part.row(page, 'n3').hover();
    await part.row(page, 'n3').getByRole('button', { name: 'Archive' }).click();
    await part.row(page, 'n3').waitFor({ state: 'detached' });
    await page.locator('herald-inbox [role=tab][data-view=unread] .tab-count', { hasText: /^1$/ }).waitFor();
    await badgeIs(page, 1);
    await tabs.nth(2).click();
    await part.row(page, 'n3').getByRole('button', { name: 'Move to inbox' }).waitFor();
    await tabs.nth(0).click();

    // Snooze from the keyboard: the menu button, its menu, the second item.
    await part.row(page, 'n1').locator('.item-main').focus();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.querySelector('herald-inbox')!.shadowRoot!.activeElement?.getAttribute('aria-label')), 'Archive');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    const menu = page.locator('herald-inbox [role=menu]');
    await menu.waitFor();
    assert.deepEqual(await menu.locator('[role=menuitem]').allTextContents(), ['For 1 hour', 'Until tomorrow', 'Until next week']);
    assert.equal(await part.row(page, 'n1').locator('[aria-haspopup=menu]').getAttribute('aria-expanded'), 'true');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await part.row(page, 'n1').waitFor({ state: 'detached' });
    const snooze = (await fakeCalls(page)).find((call) => call.method === 'snooze')!;
    assert.deepEqual(snooze.ids, ['n1']);
    const until = new Date(snooze.until!);
    assert.equal(until.getHours(), 9, 'until tomorrow 9:00');
    assert.ok(until.getTime() > Date.now() && until.getTime() < Date.now() + 2 * 86_400_000);

    // Mark all read marks the current view's notifications, by its filter.
    await page.evaluate(() => (window as unknown as { fake: { add: (n: object) => void } }).fake.add({ heading: 'New invoice', content: 'INV-8', category: 'billing' }));
    await badgeIs(page, 1);
    await page.locator('herald-inbox [part~="mark-all"]').click();
    await badgeIs(page, 0);
    const markAll = (await fakeCalls(page)).find((call) => call.method === 'markAllOpened')!;
    assert.deepEqual(markAll.filter, {});
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  it('loads the next page when the end of the list came into view while the first page was still loading', async (t) => {
    if (skipWithoutChromium(t)) return;
    const page = await newPage();
    await page.goto(`${pages.v2()}?held=1`);
    await openFeed(page);
    await part.rows(page).nth(27).waitFor();
    await page.locator('herald-inbox [part~="scroller"]').evaluate((scroller) => (scroller.scrollTop = scroller.scrollHeight));
    // Two frames: the intersection observer has reported the end of the list by then.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    const loads = async () => (await fakeCalls(page)).filter((call) => call.method === 'view.loadMore').length;
    assert.equal(await loads(), 0, 'nothing more loads while the first page is loading');
    await page.evaluate(() => (window as unknown as { fake: { releaseViews: () => void } }).fake.releaseViews());
    await page.waitForFunction(() => (window as unknown as { fake: { calls: { method: string }[] } }).fake.calls.some((call) => call.method === 'view.loadMore'));
    assert.equal(await loads(), 1);
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  it('inbox v2: the badge counts unseen notifications with badge="unseen", and opening a row opens it', async (t) => {
    if (skipWithoutChromium(t)) return;
    const page = await newPage();
    await page.goto(pages.v2('unseen'));
    await badgeIs(page, 2);
    assert.equal(await part.bell(page).getAttribute('aria-label'), 'Notifications, 2 new');
    await openFeed(page);
    // Visible: the rows on screen become seen, and the unseen badge goes to zero while they stay unread.
    await badgeIs(page, 0);
    assert.equal(await page.locator('herald-inbox [part~="notification"].unread').count(), 2);
    await part.row(page, 'n3').locator('.item-main').click();
    await page.locator('herald-inbox [part~="notification"][data-id="n3"].opened').waitFor();
    assert.deepEqual((await fakeCalls(page)).map((call) => call.method), ['markSeen', 'markOpened']);
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  it('works inside a React app: <HeraldInbox>, useInbox and useCounts', async (t) => {
    if (skipWithoutChromium(t)) return;
    const page = await newPage();
    await page.goto(pages.react('hal'));
    await page.locator('[data-testid=own][data-ready=true]').waitFor();
    await badgeIs(page, 0);
    const [id] = await pushMany(harness, 'hal', 1, 'hello react');
    await badgeIs(page, 1);
    await page.locator(`[data-testid=own] li[data-id="${id}"]`, { hasText: 'hello react 0' }).waitFor();
    await page.locator('[data-testid=own-unread]', { hasText: /^1$/ }).waitFor();
    await openFeed(page);
    await part.row(page, id).locator('.item-main').click();
    await badgeIs(page, 0);
    await page.locator('[data-testid=opened]', { hasText: id }).waitFor();
    await page.locator('[data-testid=own-unread]', { hasText: /^0$/ }).waitFor();
    await unreadOnServer(harness, 'hal', 0);
    assert.deepEqual(problems, []);
    await page.context().close();
  });
});
