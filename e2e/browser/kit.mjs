// kit.mjs is what the page scripts (device.mjs, passkeys.mjs) share: the
// Chromium they launch, with the flags DESIGN.md section 8 names, and the
// record of pages and screenshots they print as their one JSON line.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const stepTimeoutMs = 15000;

// newResult is the JSON line a script prints; ok turns true at its end.
export function newResult() {
  return { ok: false, pages: [], screenshots: [], failedRequests: [], consoleErrors: [] };
}

// launch starts Debian's Chromium (CHROMIUM overrides the path) headless,
// without the background traffic this machine's closed network refuses.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic',
    ],
  });
}

// record notes the page a step reached.
export async function record(result, page, kind) {
  const entry = { kind, title: await page.title(), url: page.url() };
  result.pages.push(entry);
  return entry;
}

// shoot saves the page at 375 and 1280 px (into GATEHOUSE_E2E_SCREENSHOTS
// when set) and records how wide it is at each: wider than the viewport
// means it scrolls sideways.
export async function shoot(result, page, name) {
  const dir = process.env.GATEHOUSE_E2E_SCREENSHOTS;
  const size = page.viewportSize();
  const widths = {};
  for (const width of [375, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    widths[width] = await page.evaluate(() => document.documentElement.scrollWidth);
    if (dir) {
      mkdirSync(dir, { recursive: true });
      const path = join(dir, `${name}-${width}.png`);
      await page.screenshot({ path, fullPage: true });
      result.screenshots.push(path);
    }
  }
  await page.setViewportSize(size);
  (result.widths ??= {})[name] = widths;
}
