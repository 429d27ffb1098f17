/** Debian's chromium driven by playwright-core for the browser tests, which skip, saying why, without it. */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** What a browser test says when it skips. */
export const CHROMIUM_MISSING = `SKIP: chromium not installed: ${CHROMIUM} is missing (apt-get install chromium)`;

/** A headless chromium with nothing running in the background, or null when it is not installed. */
export async function launchChromium(): Promise<Browser | null> {
  if (!existsSync(CHROMIUM)) return null;
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 15_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
