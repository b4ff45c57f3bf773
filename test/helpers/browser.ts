import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import type { Browser, Page } from 'puppeteer-core';
import { eventually } from './kube.js';

/**
 * Debian's chromium (install.sh), headless, on a fresh profile that close() removes. Chromium's own
 * connections (component updates, sync, field trials, Google look-ups) are switched off: on a closed network
 * they fail at every start, and a test should reach only the pages it opens. No sandbox: the tests run as root.
 */
export async function launchChromium(executablePath: string): Promise<{ browser: Browser; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    userDataDir: profile,
    defaultViewport: { width: 1400, height: 1000 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// A string, run in the page: the project compiles without the DOM's types. A frame may go away while it is read.
const INNER_TEXT = "document.body?.innerText ?? ''";

/**
 * What the page shows a person now: its rendered text, not its markup, with that of its frames (the Temporal
 * UI renders Markdown, such as a run's summary and details, in a frame each).
 */
export async function pageText(page: Page): Promise<string> {
  const texts = await Promise.all(page.frames().map((frame) => frame.evaluate<[], () => string>(INNER_TEXT).catch(() => '')));
  return texts.join('\n');
}

/**
 * Waits until the page shows every one of `texts`, calling `between` between looks (a key that refreshes part
 * of the page, say). The error names what was missing and ends with the page's text.
 */
export async function seeText(page: Page, texts: (string | RegExp)[], { between = async () => {}, timeoutMs = 30_000 } = {}): Promise<string> {
  const missing = (text: string) => texts.filter((t) => (typeof t === 'string' ? !text.includes(t) : !t.test(text)));
  let last = '';
  try {
    return await eventually(
      async () => {
        if (last) await between();
        last = await pageText(page);
        return missing(last).length === 0 && last;
      },
      `the page to show ${texts.join(', ')}`,
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; missing ${missing(last).join(', ')}; the page shows:\n${last}`, { cause: error });
  }
}

/** Saves a screenshot of the whole page as `<dir>/<name>.png`. */
export async function screenshot(page: Page, dir: string, name: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}
