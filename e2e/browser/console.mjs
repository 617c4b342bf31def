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

// shoot saves the page at both widths; a view with a dialog open is taken
// as the viewport shows it (the backdrop covers the viewport only).
async function shoot(page, scenario, view, { full = true } = {}) {
  if (!shotDir) return;
  mkdirSync(shotDir, { recursive: true });
  const size = page.viewportSize();
  for (const width of [1280, 375]) {
    await page.setViewportSize({ width, height: width === 375 ? 780 : 860 });
    // Let the layout settle at the new width before the picture.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const path = join(shotDir, `${scenario}-${view}-${width}.png`);
    await page.screenshot({ path, fullPage: full });
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

// describedBy is the text of the elements an element's aria-describedby
// names: where the console puts a field's error.
async function describedBy(locator) {
  return locator.evaluate((el) => (el.getAttribute('aria-describedby') || '').split(/\s+/)
    .map((id) => document.getElementById(id)?.textContent.trim() || '').filter(Boolean).join(' '));
}

function userCard(page, username) {
  return page.getByRole('list', { name: 'Users' }).getByRole('listitem')
    .filter({ has: page.getByRole('heading', { name: username, exact: true }) });
}

async function texts(locator) {
  return (await locator.allInnerTexts()).map((t) => t.trim());
}

// hook has the Go test act at this point (see consoleHooks) and waits
// until it has.
async function hook(name) {
  const r = await fetch(`${plan.hooks}/${name}`, { method: 'POST' });
  check(r.ok, `hook ${name}: ${r.status} ${await r.text()}`);
}

// names are the accessible names of buttons: the label of an icon
// button, the text of the others.
async function names(locator) {
  return locator.evaluateAll((els) => els.map((el) => el.getAttribute('aria-label') || el.innerText.trim()));
}

const scenarios = {
  // An administrator creates a user through the dialog, with a goal the
  // role suggests and one of its own, and sees the card; a search finds a
  // user with many goals in one API call.
  async 'create-user'(browser, out) {
    const page = await newPage(browser);
    const v = plan.values['create-user'];
    await openConsole(page, plan.people.admin, '/console/users', 'Users');
    await page.getByRole('button', { name: 'Create user' }).click();
    const dlg = page.getByRole('dialog', { name: 'Create user' });
    await dlg.waitFor();
    await dlg.getByLabel('Username', { exact: true }).fill(v.username);
    await dlg.getByLabel('Email', { exact: true }).fill(`${v.username}@example.com`);
    await dlg.getByLabel('Password', { exact: true }).fill(v.password);
    await dlg.getByLabel('Full name', { exact: true }).fill('Nadia Trader');
    await dlg.getByLabel('Department', { exact: true }).fill('Markets');
    await dlg.getByLabel('Role', { exact: true }).selectOption(v.role);
    await dlg.getByRole('button', { name: `Add goal: ${v.suggested}` }).click();
    await dlg.getByRole('button', { name: `Remove goal: ${v.suggested}` }).waitFor();
    check(await dlg.getByRole('button', { name: `Add goal: ${v.suggested}` }).count() === 0, 'the added suggestion is still offered');
    await dlg.getByLabel('New goal', { exact: true }).fill(v.custom);
    await dlg.getByRole('button', { name: 'Add goal', exact: true }).click();
    await dlg.getByRole('button', { name: `Remove goal: ${v.custom}` }).waitFor();
    await shoot(page, 'create-user', 'dialog', { full: false });
    await dlg.getByRole('button', { name: 'Save' }).click();
    await dlg.waitFor({ state: 'detached' });
    const c = userCard(page, v.username);
    await c.waitFor();
    out.card = await c.innerText();
    out.cardRoles = await texts(c.getByRole('list', { name: 'Roles' }).getByRole('listitem'));
    out.cardGoals = await texts(c.getByRole('list', { name: 'Goals' }).getByRole('listitem'));
    out.cardButtons = await texts(c.getByRole('button'));
    await shoot(page, 'create-user', 'users');

    // Edit: the dialog shows what was saved; a change and a removed goal
    // reach the card.
    await c.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit user' });
    await edit.waitFor();
    out.editDepartment = await edit.getByLabel('Department', { exact: true }).inputValue();
    await edit.getByLabel('Department', { exact: true }).fill('Rates');
    await edit.getByRole('button', { name: `Remove goal: ${v.custom}` }).click();
    await shoot(page, 'create-user', 'edit', { full: false });
    await edit.getByRole('button', { name: 'Save' }).click();
    await edit.waitFor({ state: 'detached' });
    await c.getByText('Rates', { exact: true }).waitFor();
    out.editedGoals = await texts(c.getByRole('list', { name: 'Goals' }).getByRole('listitem'));

    // Two admins: the other one saves while this dialog is open; this
    // save, with the ETag the dialog read, is refused as a conflict.
    await c.getByRole('button', { name: 'Edit' }).click();
    await edit.waitFor();
    await hook('other-admin-edits');
    await edit.getByLabel('Department', { exact: true }).fill('Treasury');
    await edit.getByRole('button', { name: 'Save' }).click();
    const conflict = edit.getByRole('alert').filter({ hasText: /\S/ });
    await conflict.waitFor();
    out.conflict = await conflict.innerText();
    await shoot(page, 'create-user', 'conflict', { full: false });
    await page.keyboard.press('Escape');
    await edit.waitFor({ state: 'detached' });

    // The search asks the API once per pause in typing.
    const searches = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.endsWith('/api/v1/users') && u.searchParams.has('q')) searches.push(u.searchParams.get('q'));
    });
    await page.getByRole('searchbox', { name: 'Search' }).pressSequentially(v.busy, { delay: 40 });
    const busy = userCard(page, v.busy);
    await page.getByRole('status').filter({ hasText: 'Showing 1 user, all that match.' }).waitFor();
    await busy.waitFor();
    out.searches = searches;
    out.busyGoals = await texts(busy.getByRole('list', { name: 'Goals' }).getByRole('listitem'));
    out.listed = await page.locator('ul[aria-label="Users"] > li').count();
    out.address = new URL(page.url()).search;
    await shoot(page, 'create-user', 'search');
    out.problems = page.problems;
    out.refused = page.refused;
    await page.context().close();
  },

  // A taken username is shown at the Username field, an invalid email at
  // the Email field: aria-invalid and the message as the description.
  async 'taken-username'(browser, out) {
    const page = await newPage(browser);
    const v = plan.values['taken-username'];
    await openConsole(page, plan.people.admin, '/console/users', 'Users');
    await page.getByRole('button', { name: 'Create user' }).click();
    const dlg = page.getByRole('dialog', { name: 'Create user' });
    const username = dlg.getByRole('textbox', { name: 'Username', exact: true });
    const email = dlg.getByRole('textbox', { name: 'Email', exact: true });
    // The dialog keeps Tab inside: back from its first field, past Close,
    // comes round to Save.
    out.firstFocus = await username.evaluate((el) => el === document.activeElement);
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    out.wrapped = await page.evaluate(() => document.activeElement?.textContent.trim());
    await username.fill(v.taken);
    await email.fill(v.email);
    await dlg.getByLabel('Password', { exact: true }).fill(v.password);
    await dlg.getByRole('button', { name: 'Save' }).click();
    await dlg.locator('[aria-invalid="true"]').first().waitFor();
    out.usernameInvalid = await username.getAttribute('aria-invalid');
    out.usernameError = await describedBy(username);
    out.focused = await username.evaluate((el) => el === document.activeElement);
    await shoot(page, 'taken-username', 'dialog', { full: false });

    await username.fill(v.free);
    await email.fill('not an email');
    await dlg.getByRole('button', { name: 'Save' }).click();
    await email.and(page.locator('[aria-invalid="true"]')).waitFor();
    out.usernameInvalidAfter = await username.getAttribute('aria-invalid');
    out.emailInvalid = await email.getAttribute('aria-invalid');
    out.emailError = await describedBy(email);
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'detached' });
    out.focusBack = await page.evaluate(() => document.activeElement?.textContent.trim());
    out.problems = page.problems;
    out.refused = page.refused;
    await page.context().close();
  },

  // A pending person signs in at a relying party and asks for access; an
  // administrator, whose console is open, sees the badge and approves in
  // the queue; the person's next sign-in at the relying party succeeds.
  async 'access-request'(browser, out) {
    const v = plan.values['access-request'];
    const admin = await newPage(browser);
    await openConsole(admin, plan.people.admin, '/console/', 'Dashboard');
    out.badgeBefore = await admin.locator('#pending-badge').isVisible();

    const person = await newPage(browser);
    await person.goto(v.first);
    await signInAt(person, plan.people.pending);
    await person.waitForURL((u) => u.pathname.endsWith('/access/request'));
    await person.getByLabel('Role').selectOption('user');
    await person.getByLabel('Purpose').fill(v.purpose);
    await person.getByRole('button', { name: 'Request access' }).click();
    await person.waitForURL((u) => u.pathname.endsWith('/access/pending'));

    // Without a reload: the badge follows the queue as the admin moves on.
    current = admin;
    await go(admin, 'Users');
    const badge = admin.locator('#pending-badge');
    await badge.filter({ hasText: '1' }).waitFor();
    out.badge = await badge.innerText();
    out.badgeDescription = await describedBy(nav(admin).getByRole('link', { name: 'Access requests', exact: true }));
    await go(admin, 'Access requests');
    const queue = admin.getByRole('list', { name: 'Pending requests' });
    const item = queue.getByRole('listitem').filter({ hasText: plan.people.pending.username });
    await item.waitFor();
    out.item = await item.innerText();
    await shoot(admin, 'access-request', 'queue');
    await item.getByRole('button', { name: 'Approve' }).click();
    const dlg = admin.getByRole('dialog', { name: /Approve/ });
    await dlg.waitFor();
    out.approveRole = await dlg.getByLabel('Role', { exact: true }).inputValue();
    await dlg.getByLabel('Comment', { exact: true }).fill(v.comment);
    await shoot(admin, 'access-request', 'approve', { full: false });
    await dlg.getByRole('button', { name: 'Approve', exact: true }).click();
    await dlg.waitFor({ state: 'detached' });
    await admin.getByText('No request is waiting').waitFor();
    const decided = admin.getByRole('row').filter({ hasText: plan.people.pending.username });
    await decided.waitFor();
    out.decided = await decided.innerText();
    await badge.waitFor({ state: 'hidden' });
    await shoot(admin, 'access-request', 'decided');
    out.problems = [...admin.problems];

    current = person;
    await person.goto(v.second);
    const allow = person.locator('button[name=decision][value=allow]');
    await Promise.race([allow.waitFor(), person.waitForURL((u) => u.href.startsWith(v.redirect))]);
    if (!person.url().startsWith(v.redirect)) await allow.click();
    await person.waitForURL((u) => u.href.startsWith(v.redirect));
    out.problems.push(...person.problems);
    out.refused = admin.refused;
    await person.context().close();
    await admin.context().close();
  },

  // A manager: no creating or editing users, no hard delete, no roles
  // editing, no clients.
  async manager(browser, out) {
    const page = await newPage(browser);
    const v = plan.values.manager;
    await openConsole(page, plan.people.manager, '/console/users', 'Users');
    out.nav = await navLinks(page);
    out.createUser = await page.getByRole('button', { name: 'Create user' }).count();
    await page.getByRole('searchbox', { name: 'Search' }).fill(v.target);
    const c = userCard(page, v.target);
    await c.waitFor();
    await c.getByRole('button').first().waitFor();
    out.cardButtons = await texts(c.getByRole('button'));
    await c.getByRole('button', { name: 'Delete' }).click();
    const dlg = page.getByRole('dialog', { name: `Delete ${v.target}?` });
    await dlg.waitFor();
    out.deleteButtons = await names(dlg.getByRole('button'));
    await shoot(page, 'manager', 'delete', { full: false });
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'detached' });
    await go(page, 'Roles');
    await page.getByRole('heading', { level: 2, name: 'admin' }).waitFor();
    out.createRole = await page.getByRole('button', { name: 'Create role' }).count();
    out.roleEdits = await page.getByRole('button', { name: 'Edit' }).count();
    await shoot(page, 'manager', 'roles');
    out.problems = page.problems;
    out.refused = page.refused;
    await page.context().close();
  },

  // An administrator impersonates a user from the user's card: the console
  // exchanges its token (RFC 8693) and shows the one that acts as the user.
  async impersonate(browser, out) {
    const page = await newPage(browser);
    const v = plan.values.impersonate;
    await openConsole(page, plan.people.admin, '/console/users', 'Users');
    await page.getByRole('searchbox', { name: 'Search' }).fill(v.target);
    const c = userCard(page, v.target);
    await c.waitFor();
    // The card's actions are drawn after the card: read them once drawn.
    await c.getByRole('button').first().waitFor();
    out.cardButtons = await texts(c.getByRole('button'));
    await c.getByRole('button', { name: 'Impersonate' }).click();
    const dlg = page.getByRole('dialog', { name: `Acting as ${v.target}` });
    await dlg.or(c.getByRole('alert')).first().waitFor();
    check(await dlg.count() === 1, `no token dialog: ${await c.getByRole('alert').allInnerTexts()}`);
    out.title = `Acting as ${v.target}`;
    out.token = await dlg.locator('textarea').inputValue();
    out.note = (await dlg.locator('p.notice').innerText()).trim();
    await shoot(page, 'impersonate', 'token', { full: false });
    await dlg.getByRole('button', { name: 'Done' }).click();
    await dlg.waitFor({ state: 'detached' });
    // Nobody acts as a user who may not act.
    await page.getByRole('searchbox', { name: 'Search' }).fill(v.inactive);
    const pc = userCard(page, v.inactive);
    await pc.waitFor();
    out.inactiveButtons = await texts(pc.getByRole('button'));
    out.problems = page.problems;
    out.refused = page.refused;
    await page.context().close();
  },

  // A viewer sees only Account; a console address it may not use says so.
  async viewer(browser, out) {
    const page = await newPage(browser);
    await page.goto(`${plan.issuer}/console/`);
    await signInAt(page, plan.people.viewer);
    await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
    out.address = new URL(page.url()).pathname;
    out.nav = await navLinks(page);
    out.sections = await texts(page.getByRole('heading', { level: 2 }));
    await shoot(page, 'viewer', 'account');
    await page.goto(`${plan.issuer}/console/users`);
    await page.getByRole('heading', { level: 1, name: 'Not available' }).waitFor();
    out.problems = page.problems;
    out.refused = page.refused;
    await page.context().close();
  },

  // A user edits the profile, creates an API token (shown once), uses it,
  // and revokes it.
  async token(browser, out) {
    const page = await newPage(browser);
    const v = plan.values.token;
    await openConsole(page, plan.people.user, '/account/', 'Account');
    out.nav = await navLinks(page);
    out.sections = await texts(page.getByRole('heading', { level: 2 }));
    const profile = page.getByRole('region', { name: 'Profile' });
    await profile.getByLabel('Full name', { exact: true }).fill(v.fullName);
    // Preferences: remove one, add one whose value the API refuses as too
    // long (shown at the field), then a good value.
    await profile.getByRole('button', { name: `Remove preference: ${v.prefRemove}` }).click();
    await profile.getByRole('button', { name: 'Add preference' }).click();
    await profile.getByLabel('Preference name', { exact: true }).last().fill(v.prefName);
    const prefValue = profile.getByLabel('Value', { exact: true }).last();
    await prefValue.fill('x'.repeat(17000));
    await profile.getByRole('button', { name: 'Save profile' }).click();
    await profile.locator('input[aria-invalid="true"][name="pref-value"]').last().waitFor();
    out.prefInvalid = await prefValue.getAttribute('aria-invalid');
    out.prefError = await prefValue.evaluate((i) => document.getElementById(i.getAttribute('aria-describedby'))?.textContent || '');
    await prefValue.fill(v.prefValue);
    await profile.getByRole('button', { name: 'Save profile' }).click();
    await page.getByText('Your profile was saved.').waitFor();
    await profile.getByRole('button', { name: `Remove preference: ${v.prefName}` }).waitFor();
    const sessions = page.getByRole('list', { name: 'Sessions' });
    await sessions.waitFor();
    out.sessionRevokes = await sessions.getByRole('button', { name: 'Revoke' }).count();

    const tokens = page.getByRole('region', { name: 'API tokens' });
    await tokens.getByText('You have no API tokens.').waitFor();
    await tokens.getByRole('button', { name: 'Create token' }).click();
    const dlg = page.getByRole('dialog', { name: 'Create token' });
    await dlg.getByLabel('Name', { exact: true }).fill(v.name);
    await dlg.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByRole('dialog', { name: 'Your new API token' });
    await shown.waitFor();
    out.shownOnce = (await shown.innerText()).includes('shown only once');
    out.copy = await shown.getByRole('button', { name: 'Copy' }).count();
    const secret = await shown.getByRole('textbox').inputValue();
    out.token = secret;
    await shoot(page, 'token', 'shown-once', { full: false });
    await shown.getByRole('button', { name: 'Done' }).click();
    const item = tokens.getByRole('listitem').filter({ hasText: v.name });
    await item.waitFor();
    await shoot(page, 'token', 'account');
    const call = () => page.request.get(`${plan.issuer}/api/v1/users/me`, { headers: { Authorization: `Bearer ${secret}` } });
    out.before = (await call()).status();
    await item.getByRole('button', { name: 'Revoke' }).click();
    await tokens.getByText('You have no API tokens.').waitFor();
    out.after = (await call()).status();

    // Allowed apps: the app the user allowed (in the Go test) is listed;
    // Revoke forgets it, and its next authorization asks again.
    const apps = page.getByRole('region', { name: 'Allowed apps' });
    const appList = apps.getByRole('list', { name: 'Allowed apps' });
    await appList.waitFor();
    out.apps = await texts(appList.getByRole('listitem'));
    await appList.getByRole('listitem').filter({ hasText: v.app }).getByRole('button', { name: 'Revoke' }).click();
    await apps.getByText('You have not allowed any app.').waitFor();
    out.appsAfter = await apps.innerText();
    await shoot(page, 'token', 'apps-revoked');
    await page.goto(v.again);
    await page.locator('button[name=decision][value=allow]').waitFor();
    out.askedAgain = true;

    // Sign out everywhere: this browser too.
    await page.goto(`${plan.issuer}/account/`);
    await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    const bye = page.getByRole('dialog', { name: 'Sign out everywhere?' });
    await bye.waitFor();
    await shoot(page, 'token', 'sign-out-everywhere', { full: false });
    await bye.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByRole('heading', { level: 1, name: 'You are signed out' }).waitFor();
    out.signedOut = new URL(page.url()).pathname;
    out.problems = page.problems;
    out.refused = page.refused;
    await page.context().close();
  },

  // A 5xx and a network failure are shown in the view with a Retry that
  // works once gatehouse answers again; never a blank page.
  async failure(browser, out) {
    const page = await newPage(browser);
    await openConsole(page, plan.people.admin, '/console/', 'Dashboard');
    let fail = 'server';
    await page.route((u) => u.pathname.endsWith('/api/v1/users'), async (route) => {
      const now = fail;
      fail = '';
      if (now === 'server') {
        return route.fulfill({
          status: 503, contentType: 'application/problem+json',
          body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'the database is unreachable' }),
        });
      }
      if (now === 'network') return route.abort('connectionrefused');
      return route.continue();
    });
    await go(page, 'Users');
    const alert = page.getByRole('main').getByRole('alert');
    await alert.waitFor();
    out.serverAlert = await alert.innerText();
    await shoot(page, 'failure', 'users');
    await alert.getByRole('button', { name: 'Retry' }).click();
    await userCard(page, plan.people.admin.username).waitFor();
    fail = 'network';
    await page.getByRole('combobox', { name: 'Status' }).selectOption('active');
    await alert.waitFor();
    out.networkAlert = await alert.innerText();
    await alert.getByRole('button', { name: 'Retry' }).click();
    await userCard(page, plan.people.admin.username).waitFor();
    out.alertsLeft = await alert.count();
    out.problems = page.problems;
    out.refused = page.refused;
    await page.context().close();
  },

  // The access token expires while an administrator types: saving
  // refreshes it (the refresh token rotating) and keeps what was typed.
  async refresh(browser, out) {
    const page = await newPage(browser);
    const v = plan.values.refresh;
    const grants = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname.endsWith('/oauth2/token')) grants.push(new URLSearchParams(r.postData() || '').get('grant_type'));
    });
    await openConsole(page, plan.people.admin, '/console/users', 'Users');
    await page.getByRole('button', { name: 'Create user' }).click();
    const dlg = page.getByRole('dialog', { name: 'Create user' });
    await dlg.getByLabel('Username', { exact: true }).fill(v.username);
    await dlg.getByLabel('Email', { exact: true }).fill(`${v.username}@example.com`);
    await dlg.getByLabel('Password', { exact: true }).fill(v.password);
    // Longer than the access token lives.
    await page.waitForTimeout(Number(v.waitMs));
    await dlg.getByRole('button', { name: 'Save' }).click();
    await dlg.waitFor({ state: 'detached' });
    await userCard(page, v.username).waitFor();
    await shoot(page, 'refresh', 'users');
    out.address = new URL(page.url()).pathname;
    out.grants = grants;
    out.problems = page.problems;
    out.refused = page.refused;
    await page.context().close();
  },

  // An administrator's tour: every view in the navigation opens with its
  // one heading and fits both widths; a reload signs in again silently;
  // sign out goes through end_session and back. The dashboard's usage
  // figures are read as shown, once the Go test has flushed the counts of
  // the scenarios before (the tour's own sign-in is not in them).
  async tour(browser, out) {
    await hook('flush-usage');
    const page = await newPage(browser);
    const admin = plan.people.admin;
    const calls = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.includes('/api/v1/')) calls.push(`${r.method()} ${u.pathname}${u.search}`);
    });
    await page.goto(`${plan.issuer}/console/`);
    await page.waitForURL((u) => u.pathname.endsWith('/login'));
    out.loginPage = new URL(page.url()).pathname;
    await signInAt(page, admin);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    out.afterLogin = new URL(page.url()).pathname;
    // The dashboard's figures, as shown.
    const byStatus = page.getByRole('list', { name: 'Users by status' });
    await byStatus.waitFor();
    out.statusCounts = Object.fromEntries(await byStatus.getByRole('listitem').evaluateAll((els) => els.map((el) => [
      el.querySelector('.k').innerText.trim(), el.querySelector('.n').innerText.trim()])));
    const signIns = page.getByText(/sign-ins? in 14 days/);
    await signIns.waitFor();
    out.signIns = await signIns.innerText();
    await page.getByRole('region', { name: 'Recent activity' }).getByRole('list').waitFor();
    // Usage: headings, the active users as a labelled list, the clients
    // and grant types as tables whose counts are text.
    const usage = page.getByRole('region', { name: 'Usage, last 30 days' });
    await usage.getByRole('table', { name: 'Sign-ins per client' }).waitFor();
    out.usageHeadings = await texts(usage.getByRole('heading', { level: 3 }));
    out.activeUsers = await usage.getByRole('list', { name: 'Active users' }).getByRole('listitem').evaluateAll((els) => els.map((el) => [
      el.querySelector('.k').innerText.trim(), el.querySelector('.n').innerText.trim()]));
    const rowsOf = (name) => usage.getByRole('table', { name }).getByRole('row').evaluateAll((rows) => rows.slice(1).map((r) => [
      r.querySelector('td').firstChild.firstChild.textContent.trim(), r.querySelector('.count').innerText.trim()]));
    out.clientRows = await rowsOf('Sign-ins per client');
    out.tokenRows = await rowsOf('Tokens issued by grant type');
    out.usageTotal = await usage.locator('.usage-total').innerText();
    out.usageChart = await usage.getByRole('img').getAttribute('aria-label');
    // Another range asks /stats again.
    await usage.getByLabel('Range', { exact: true }).selectOption('7');
    await page.getByRole('region', { name: 'Usage, last 7 days' }).getByRole('table', { name: 'Sign-ins per client' }).waitFor();
    out.dashboardCalls = [...calls];
    out.nav = await navLinks(page);
    out.storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length }));
    const v = plan.values.tour;
    for (const name of out.nav) {
      await go(page, name);
      await page.locator('main .loading').first().waitFor({ state: 'detached' }).catch(() => {});
      await page.waitForLoadState('networkidle');
      if (name === 'Roles') {
        // A custom role, a child of viewer with a suggested goal.
        await page.getByRole('button', { name: 'Create role' }).click();
        const dlg = page.getByRole('dialog', { name: 'Create role' });
        await dlg.getByLabel('Name', { exact: true }).fill(v.role);
        await dlg.getByLabel('Description', { exact: true }).fill('Reads the desk reports.');
        await dlg.getByLabel('Parent', { exact: true }).selectOption('viewer');
        await dlg.getByRole('checkbox', { name: 'tokens:self' }).check();
        await dlg.getByRole('checkbox', { name: 'reports:export' }).check();
        await dlg.getByLabel('Suggested goals', { exact: true }).fill('Publish the weekly risk report');
        await dlg.getByRole('button', { name: 'Save' }).click();
        await dlg.waitFor({ state: 'detached' });
        await page.getByRole('heading', { level: 2, name: v.role, exact: true }).waitFor();
      }
      if (name === 'Clients') {
        // A confidential client: its secret is shown once.
        await page.getByRole('button', { name: 'Create client' }).click();
        const dlg = page.getByRole('dialog', { name: 'Create client' });
        await dlg.getByLabel('Client ID', { exact: true }).fill(v.client);
        await dlg.getByLabel('Name', { exact: true }).fill('Risk reports');
        await dlg.getByLabel('Redirect URIs', { exact: true }).fill('https://reports.example/callback');
        await dlg.getByLabel('ID token signature', { exact: true }).selectOption('ES256');
        await dlg.getByLabel('Back-channel logout URI', { exact: true }).fill('https://reports.example/backchannel-logout');
        await dlg.getByLabel('Back-channel logout session', { exact: true }).selectOption('true');
        // App access rules: only managers may sign in.
        await dlg.getByRole('group', { name: 'Who may sign in: roles' }).getByRole('checkbox', { name: 'manager', exact: true }).check();
        await dlg.getByRole('button', { name: 'Save' }).click();
        const shown = page.getByRole('dialog', { name: 'Secret of Risk reports' });
        await shown.waitFor();
        out.clientShownOnce = (await shown.innerText()).includes('shown only once');
        out.clientCopy = await shown.getByRole('button', { name: 'Copy' }).count();
        out.clientSecret = await shown.getByRole('textbox').inputValue();
        await shoot(page, 'tour', 'client-secret', { full: false });
        await shown.getByRole('button', { name: 'Done' }).click();
        const cell = page.getByRole('cell').filter({ hasText: 'Risk reports' }).first();
        await cell.waitFor();
        out.clientAccessRow = await cell.innerText();
        // Edit shows the rule ticked; viewer is added to it.
        await page.getByRole('row').filter({ hasText: 'Risk reports' }).getByRole('button', { name: 'Edit' }).click();
        const edit = page.getByRole('dialog', { name: 'Edit client Risk reports' });
        const roles = edit.getByRole('group', { name: 'Who may sign in: roles' });
        out.clientAccessChecked = await roles.getByRole('checkbox', { name: 'manager', exact: true }).isChecked();
        await roles.getByRole('checkbox', { name: 'viewer', exact: true }).check();
        await edit.getByRole('button', { name: 'Save' }).click();
        await edit.waitFor({ state: 'detached' });
        await page.getByRole('cell').filter({ hasText: 'only roles manager, viewer' }).first().waitFor();
      }
      if (name === 'Access requests') {
        // A request for an app names the app.
        const row = page.getByRole('table', { name: 'Decided requests' }).getByRole('row').filter({ hasText: v.app });
        await row.first().waitFor();
        out.appRequestRow = await row.first().innerText();
      }
      await shoot(page, 'tour', name.toLowerCase().replace(/\s+/g, '-'));
    }

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
    out.refused = page.refused;
    await page.context().close();
  },

  // The user dialog's account security: a refused IP rule is shown at its
  // field, naming the line; the rules and the session limit saved read back.
  async 'ip-rules'(browser, out) {
    const page = await newPage(browser);
    const v = plan.values['ip-rules'];
    await openConsole(page, plan.people.admin, '/console/users', 'Users');
    const c = userCard(page, v.target);
    await c.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit user' });
    await edit.waitFor();
    const deny = edit.getByLabel('Denied addresses', { exact: true });
    await deny.fill(v.bad);
    await edit.getByRole('button', { name: 'Save' }).click();
    const err = edit.locator('.field-error:not([hidden])');
    await err.first().waitFor();
    out.denyError = await err.first().innerText();
    out.denyInvalid = await deny.getAttribute('aria-invalid');
    await deny.fill(v.good);
    await edit.getByLabel('Session limit', { exact: true }).fill(v.limit);
    await edit.getByRole('button', { name: 'Save' }).click();
    await edit.waitFor({ state: 'detached' });
    await c.getByRole('button', { name: 'Edit' }).click();
    await edit.waitFor();
    out.denyAfter = await edit.getByLabel('Denied addresses', { exact: true }).inputValue();
    out.allowAfter = await edit.getByLabel('Allowed addresses', { exact: true }).inputValue();
    out.limitAfter = await edit.getByLabel('Session limit', { exact: true }).inputValue();
    await page.keyboard.press('Escape');
    await edit.waitFor({ state: 'detached' });
    out.problems = page.problems;
    out.refused = page.refused;
    await page.context().close();
  },

  // Time-boxed role grants: a user's card says until when a role counts.
  async 'grant-expiry'(browser, out) {
    const page = await newPage(browser);
    const v = plan.values['grant-expiry'];
    await openConsole(page, plan.people.admin, '/console/users', 'Users');
    await page.getByRole('searchbox', { name: 'Search' }).fill(v.target);
    const c = userCard(page, v.target);
    await c.waitFor();
    const roles = c.getByRole('list', { name: 'Roles' }).getByRole('listitem');
    await roles.filter({ hasText: v.role }).locator('time').waitFor();
    out.roles = await texts(roles);
    out.datetime = await roles.filter({ hasText: v.role }).locator('time').getAttribute('datetime');
    out.problems = page.problems;
    out.refused = page.refused;
    await page.context().close();
  },

  // Break-glass access: the audit log marks an emergency sign-in with a
  // badge that says so in words (not a colour alone), on its row only.
  async 'break-glass-audit'(browser, out) {
    const page = await newPage(browser);
    await openConsole(page, plan.people.admin, '/console/audit', 'Audit log');
    const grid = page.getByRole('table', { name: 'Audit entries' });
    const rows = grid.getByRole('rowgroup').last().getByRole('row');
    const emergency = rows.filter({ hasText: 'login.break_glass' });
    await emergency.first().waitFor();
    out.rows = await emergency.count();
    out.badge = (await emergency.first().getByText('Emergency sign-in', { exact: true }).innerText()).trim();
    out.marked = (await emergency.first().getAttribute('class')) || '';
    out.rowText = await emergency.first().innerText();
    const others = rows.filter({ hasNotText: 'login.break_glass' });
    out.otherRows = await others.count();
    out.otherBadges = await others.getByText('Emergency sign-in').count();
    await shoot(page, 'break-glass-audit', 'audit');
    out.problems = page.problems;
    out.refused = page.refused;
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
