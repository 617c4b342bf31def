// flow.mjs drives gatehouse's sign-in and consent pages in a real Chromium
// (Debian's, through playwright-core: no browser is ever downloaded) and
// prints one JSON line saying what it saw. e2e/browser_test.go runs it and
// asserts on that line and on what the relying party's callback received.
//
//   node flow.mjs --scenario=allow|deny|wrong-password \
//                 --url=<authorization URL> --redirect=<redirect URI> --username=<name>
//
// The password comes from the environment (GATEHOUSE_E2E_PASSWORD), not
// argv, so that it does not show in process listings. If
// GATEHOUSE_E2E_SCREENSHOTS names a directory, screenshots of the pages are
// saved there (login.png, consent.png, login-error.png). The exit status is
// non-zero on any failure; the JSON line then has ok: false and error.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const scenarios = new Set(['allow', 'deny', 'wrong-password']);
const stepTimeoutMs = 15000;

function parseArgs(argv) {
  const args = {};
  for (const a of argv) {
    const m = /^--([a-z-]+)=(.*)$/s.exec(a);
    if (!m) throw new Error(`unrecognized argument: ${a}`);
    args[m[1]] = m[2];
  }
  for (const k of ['scenario', 'url', 'redirect', 'username']) {
    if (!args[k]) throw new Error(`missing --${k}`);
  }
  if (!scenarios.has(args.scenario)) throw new Error(`unknown scenario ${args.scenario}`);
  return args;
}

const result = { ok: false, scenario: null, pages: [] };

async function record(page, kind) {
  const entry = { kind, title: await page.title(), url: page.url() };
  result.pages.push(entry);
  return entry;
}

async function screenshot(page, name) {
  const dir = process.env.GATEHOUSE_E2E_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  await page.screenshot({ path, fullPage: true });
  (result.screenshots ??= []).push(path);
}

// submitLogin fills and submits the sign-in form and returns the status of
// the POST /login response (the page after it is loaded when this returns).
async function submitLogin(page, username, password) {
  await page.locator('input[name=username]').fill(username);
  await page.locator('input[name=password]').fill(password);
  const posted = page.waitForResponse(
    (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login',
  );
  await page.locator('form:has(input[name=password]) button[type=submit]').click();
  const resp = await posted;
  await page.waitForLoadState('load');
  return resp.status();
}

// untilRedirect waits for the browser to arrive at the relying party.
async function untilRedirect(page, redirect) {
  await page.waitForURL((u) => u.href.startsWith(redirect), { waitUntil: 'load' });
  result.finalURL = page.url();
  await record(page, 'callback');
}

async function run(args) {
  const password = process.env.GATEHOUSE_E2E_PASSWORD;
  if (!password) throw new Error('GATEHOUSE_E2E_PASSWORD is not set');
  result.scenario = args.scenario;

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic',
    ],
  });
  try {
    result.browserVersion = browser.version();
    const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
    const page = await context.newPage();
    page.setDefaultTimeout(stepTimeoutMs);
    page.setDefaultNavigationTimeout(stepTimeoutMs);

    const first = await page.goto(args.url, { waitUntil: 'load' });
    const loginPage = await record(page, 'login');
    result.loginTitle = loginPage.title;
    result.loginStatus = first ? first.status() : null;
    await page.locator('input[name=username]').waitFor({ state: 'visible' });
    await screenshot(page, 'login.png');

    if (args.scenario === 'wrong-password') {
      result.loginStatus = await submitLogin(page, args.username, `${password}-wrong`);
      await record(page, 'login-error');
      const alert = page.locator('[role=alert]');
      await alert.waitFor({ state: 'visible' });
      result.errorMessage = (await alert.textContent()).trim();
      result.usernameValue = await page.locator('input[name=username]').inputValue();
      result.passwordValue = await page.locator('input[name=password]').inputValue();
      result.finalURL = page.url();
      await screenshot(page, 'login-error.png');
      result.ok = true;
      return;
    }

    result.loginStatus = await submitLogin(page, args.username, password);
    if (!page.url().startsWith(args.redirect)) {
      const allow = page.locator('button[name=decision][value=allow]');
      await allow.waitFor({ state: 'visible' });
      const consentPage = await record(page, 'consent');
      result.consentTitle = consentPage.title;
      result.consentText = (await page.locator('main').innerText()).trim();
      await screenshot(page, 'consent.png');
      const value = args.scenario === 'deny' ? 'deny' : 'allow';
      await page.locator(`button[name=decision][value=${value}]`).click();
    }
    await untilRedirect(page, args.redirect);
    result.ok = true;
  } finally {
    await browser.close();
  }
}

try {
  await run(parseArgs(process.argv.slice(2)));
  console.log(JSON.stringify(result));
} catch (err) {
  result.ok = false;
  result.error = String(err && err.stack ? err.stack : err);
  console.log(JSON.stringify(result));
  process.exitCode = 1;
}
