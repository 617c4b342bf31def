// flow.mjs drives gatehouse's sign-in and consent pages in a real Chromium
// (Debian's, through playwright-core: no browser is ever downloaded) and
// prints one JSON line saying what it saw. e2e/browser_test.go runs it and
// asserts on that line and on what the relying party's callback received.
//
//   node flow.mjs --scenario=allow|deny|wrong-password|demo \
//                 --url=<authorization URL> --redirect=<redirect URI> --username=<name>
//
// The cross-site scenario (--start=<a page of the relying party on another
// site, with a link a#signin to the authorization URL>) first visits the
// login page directly, so that the browser holds a CSRF cookie, then starts
// at the relying party and follows its link: gatehouse is reached by a
// cross-site navigation, on which the SameSite=Strict CSRF cookie is not
// sent. It reports whether the login page's request carried it and whether
// the cookie was replaced, and signs in and allows as "allow" does.
//
// The demo scenario starts at the dev-mode demo relying party (--url is its
// /demo, --redirect its callback) on a 375 px wide phone, signs in, and
// measures the demo's page there and again on a 1280 px desktop.
//
// The password comes from the environment (GATEHOUSE_E2E_PASSWORD), not
// argv, so that it does not show in process listings. If
// GATEHOUSE_E2E_SCREENSHOTS names a directory, screenshots of the pages are
// saved there (login.png, consent.png, login-error.png; demo-login-375.png,
// demo-consent-375.png, demo-375.png, demo-1280.png). The exit status is
// non-zero on any failure; the JSON line then has ok: false and error.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const scenarios = new Set(['allow', 'deny', 'wrong-password', 'demo', 'cross-site']);
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
  if (args.scenario === 'cross-site' && !args.start) throw new Error('missing --start');
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

// layout reports what decides whether a page fits its viewport, and the
// URLs it refers to (which must be relative: gatehouse may be served under
// an issuer path such as /auth).
async function layout(page) {
  return page.evaluate(() => ({
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    viewport: document.querySelector('meta[name=viewport]')?.getAttribute('content') ?? null,
    heading: document.querySelector('h1')?.textContent.trim() ?? '',
    text: document.body.innerText,
    refs: [...document.querySelectorAll('[href], [src]')].map((e) => e.getAttribute('href') ?? e.getAttribute('src')),
    stylesheets: [...document.styleSheets].map((s) => ({ href: s.href, rules: s.cssRules.length })),
  }));
}

// demo signs in through the demo relying party on a phone, then opens it
// again on a desktop with the same cookies (single sign-on: no form).
async function demo(browser, args, password) {
  const failed = [];
  const watch = (page) => {
    page.on('response', (r) => {
      if (r.status() >= 400 && !new URL(r.url()).pathname.endsWith('/favicon.ico')) failed.push(`${r.status()} ${r.url()}`);
    });
    page.on('requestfailed', (r) => failed.push(`failed ${r.url()}`));
  };

  const phone = await browser.newContext({
    viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
  });
  const page = await phone.newPage();
  page.setDefaultTimeout(stepTimeoutMs);
  page.setDefaultNavigationTimeout(stepTimeoutMs);
  watch(page);
  await page.goto(args.url, { waitUntil: 'load' });
  await record(page, 'login');
  await page.locator('input[name=username]').waitFor({ state: 'visible' });
  result.loginLayout = await layout(page);
  await screenshot(page, 'demo-login-375.png');
  result.loginStatus = await submitLogin(page, args.username, password);
  if (!page.url().startsWith(args.redirect)) {
    await page.locator('button[name=decision][value=allow]').waitFor({ state: 'visible' });
    await record(page, 'consent');
    result.consentLayout = await layout(page);
    await screenshot(page, 'demo-consent-375.png');
    await page.locator('button[name=decision][value=allow]').click();
  }
  await untilRedirect(page, args.redirect);
  result.demoPhone = await layout(page);
  await screenshot(page, 'demo-375.png');

  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 }, storageState: await phone.storageState() });
  const wide = await desktop.newPage();
  wide.setDefaultTimeout(stepTimeoutMs);
  wide.setDefaultNavigationTimeout(stepTimeoutMs);
  watch(wide);
  await wide.goto(args.url, { waitUntil: 'load' });
  await wide.waitForURL((u) => u.href.startsWith(args.redirect), { waitUntil: 'load' });
  await record(wide, 'demo-desktop');
  result.demoDesktop = await layout(wide);
  await screenshot(wide, 'demo-1280.png');
  result.failedRequests = failed;
}

// crossSite signs in from a relying party on another site (see the top).
async function crossSite(browser, args, password) {
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(stepTimeoutMs);
  page.setDefaultNavigationTimeout(stepTimeoutMs);
  const csrfCookie = async () => (await context.cookies()).find((c) => c.name.endsWith('gatehouse_csrf'));

  await page.goto(new URL('/login', args.url).href, { waitUntil: 'load' });
  await record(page, 'earlier-login');
  const before = await csrfCookie();
  if (!before) throw new Error('the login page set no CSRF cookie');
  result.csrfSameSite = before.sameSite;

  const sent = [];
  page.on('request', (r) => {
    if (r.method() === 'GET' && new URL(r.url()).pathname === '/login') sent.push(r.allHeaders().then((h) => h.cookie ?? ''));
  });
  await page.goto(args.start, { waitUntil: 'load' });
  await record(page, 'rp-start');
  await page.locator('a#signin').click();
  await page.waitForURL((u) => u.pathname === '/login', { waitUntil: 'load' });
  const loginPage = await record(page, 'login');
  result.loginTitle = loginPage.title;
  const cookies = await Promise.all(sent);
  if (cookies.length === 0) throw new Error('no GET /login was seen');
  result.crossSiteLoginHadCSRF = /gatehouse_csrf=/.test(cookies[0]);
  result.csrfRotated = (await csrfCookie())?.value !== before.value;

  result.loginStatus = await submitLogin(page, args.username, password);
  if (!page.url().startsWith(args.redirect)) {
    const allow = page.locator('button[name=decision][value=allow]');
    await allow.waitFor({ state: 'visible' });
    result.consentTitle = (await record(page, 'consent')).title;
    await allow.click();
  }
  await untilRedirect(page, args.redirect);
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
    if (args.scenario === 'demo') {
      await demo(browser, args, password);
      result.ok = true;
      return;
    }
    if (args.scenario === 'cross-site') {
      await crossSite(browser, args, password);
      result.ok = true;
      return;
    }
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
