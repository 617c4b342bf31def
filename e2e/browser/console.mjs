// console.mjs drives the admin console and the account pages in a real
// Chromium (Debian's, through playwright-core) and prints one JSON line with
// what each scenario saw. e2e/browser_console_test.go runs it with a plan in
// the environment (GATEHOUSE_CONSOLE_PLAN: the issuer, the people and their
// passwords — kept out of argv so they do not show in process listings) and
// asserts on the report, on the database and at the relying party.
//
//   GATEHOUSE_CONSOLE_PLAN='{"issuer": ..., "scenarios": [...], "people": {...}}' node console.mjs
//
// Elements are found by role and accessible name (getByRole), so the names
// the issue makes part of the contract are asserted on the way. Each
// scenario saves screenshots of the views it checks at 1280 and 375 px
// under GATEHOUSE_E2E_SCREENSHOTS (<scenario>-<view>-<width>.png).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const stepTimeoutMs = 15000;
const plan = JSON.parse(process.env.GATEHOUSE_CONSOLE_PLAN || '{}');
const report = { ok: false, scenarios: {}, screenshots: [] };
const shotDir = process.env.GATEHOUSE_E2E_SCREENSHOTS;

// check fails the scenario with a message when cond is false.
function check(cond, message) {
  if (!cond) throw new Error(message);
}

async function shoot(page, scenario, view) {
  if (!shotDir) return;
  mkdirSync(shotDir, { recursive: true });
  const size = page.viewportSize();
  for (const width of [1280, 375]) {
    await page.setViewportSize({ width, height: width === 375 ? 780 : 860 });
    // Let the layout settle at the new width before the picture.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const path = join(shotDir, `${scenario}-${view}-${width}.png`);
    await page.screenshot({ path, fullPage: true });
    report.screenshots.push(path);
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    check(fits, `${view} scrolls sideways at ${width} px`);
  }
  await page.setViewportSize(size);
}

let current = null;

async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  page.setDefaultTimeout(stepTimeoutMs);
  page.setDefaultNavigationTimeout(stepTimeoutMs);
  const problems = [];
  // Refused API calls are listed apart: some scenarios provoke them.
  const refused = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (r.status() < 400 || u.pathname.endsWith('/favicon.ico')) return;
    if (u.pathname.includes('/api/v1/')) refused.push(`${r.status()} ${r.request().method()} ${u.pathname}`);
    else problems.push(`${r.status()} ${r.request().method()} ${u.pathname}`);
  });
  page.refused = refused;
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.problems = problems;
  current = page;
  return page;
}

// signInAt fills the gatehouse login page the browser was sent to.
async function signInAt(page, person) {
  await page.waitForURL((u) => u.pathname.endsWith('/login'));
  await page.locator('input[name=username]').fill(person.username);
  await page.locator('input[name=password]').fill(person.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// openConsole visits path unauthenticated, signs in on the login page and
// waits for the view's heading.
async function openConsole(page, person, path, heading) {
  await page.goto(plan.issuer + path);
  await signInAt(page, person);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

function nav(page) {
  return page.getByRole('navigation', { name: 'Main' });
}

async function navLinks(page) {
  return (await nav(page).getByRole('link').allInnerTexts()).map((t) => t.replace(/\s+\d+\+?$/, '').trim());
}

async function go(page, name) {
  await nav(page).getByRole('link', { name, exact: true }).click();
  const h1 = page.getByRole('heading', { level: 1 });
  await h1.filter({ hasText: name }).waitFor();
  check((await h1.count()) === 1, `${name}: ${await h1.count()} level-1 headings`);
  check((await h1.innerText()).trim() === name, `${name}: heading is ${await h1.innerText()}`);
}

const scenarios = {
  // An administrator opens the console without a session: the login page,
  // then back to the console; a reload signs in again silently; sign out
  // goes through end_session and back.
  async signin(browser, out) {
    const page = await newPage(browser);
    const admin = plan.people.admin;
    await page.goto(`${plan.issuer}/console/`);
    await page.waitForURL((u) => u.pathname.endsWith('/login'));
    out.loginPage = new URL(page.url()).pathname;
    await signInAt(page, admin);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    out.afterLogin = new URL(page.url()).pathname;
    out.nav = await navLinks(page);
    out.storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length }));
    for (const name of out.nav) await go(page, name);
    await go(page, 'Dashboard');
    await shoot(page, 'signin', 'dashboard');

    // A reload keeps no token: it signs in again through the session cookie.
    await page.goto(`${plan.issuer}/console/users`);
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    out.afterReload = new URL(page.url()).pathname;

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'You are signed out' }).waitFor();
    out.afterSignOut = new URL(page.url()).pathname;
    // Signed out for real: the console asks for the password again.
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname.endsWith('/login'));
    out.problems = page.problems;
    await page.context().close();
  },
};

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
  report.browserVersion = browser.version();
  let failed = false;
  try {
    for (const name of plan.scenarios || []) {
      const out = { ok: false };
      report.scenarios[name] = out;
      const started = Date.now();
      try {
        check(scenarios[name], `unknown scenario ${name}`);
        await scenarios[name](browser, out);
        out.ok = true;
      } catch (err) {
        failed = true;
        out.error = String(err && err.stack ? err.stack : err);
        if (current && !current.isClosed()) {
          out.failedAt = current.url();
          out.problems = current.problems;
          out.text = (await current.locator('body').innerText().catch(() => '')).slice(0, 3000);
          if (shotDir) {
            const path = join(shotDir, `${name}-failure.png`);
            await current.screenshot({ path, fullPage: true }).catch(() => {});
            report.screenshots.push(path);
          }
        }
      }
      out.ms = Date.now() - started;
    }
  } finally {
    await browser.close();
  }
  report.ok = !failed;
}

try {
  await main();
} catch (err) {
  report.ok = false;
  report.error = String(err && err.stack ? err.stack : err);
}
console.log(JSON.stringify(report));
if (!report.ok) process.exitCode = 1;
