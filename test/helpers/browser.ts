import fs from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it when missing). */
export const CHROMIUM = process.env.TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here (no Chromium), or null when they can. */
export function chromiumMissing(): string | null {
  return fs.existsSync(CHROMIUM)
    ? null
    : `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium, as .ci/run does) to run the dashboard's browser tests`;
}

/**
 * Flags for a headless Chromium in a container: no sandbox (no user namespaces), no GPU, and none
 * of the background traffic (updates, sync, QUIC probes) that a test machine must not make.
 */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Starts headless Chromium (playwright-core drives it over CDP). Each {@link newPage} gets a fresh context: no shared storage. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 120_000 });
}

/**
 * A page in a new context, with generous timeouts for a loaded 2-core machine. Errors the page
 * throws are collected in `pageErrors` (a test can assert there are none).
 */
export async function newPage(
  browser: Browser,
  viewport = { width: 1440, height: 900 },
): Promise<{ context: BrowserContext; page: Page; pageErrors: string[] }> {
  const context = await browser.newContext({ viewport, locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  page.setDefaultNavigationTimeout(60_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return { context, page, pageErrors };
}
