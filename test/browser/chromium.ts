import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's Chromium, installed by .ci/run; override with CHROMIUM_PATH. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Headless Chromium as this machine runs it (no sandbox as root, no background networking: the
 * network is closed), and a page that collects content-security-policy violations.
 */
export async function openBrowser(
  violations: string[],
  timeoutMs: number,
): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) violations.push(message.text());
  });
  page.setDefaultTimeout(timeoutMs);
  return { browser, page };
}
