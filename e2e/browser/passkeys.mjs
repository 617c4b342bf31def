// passkeys.mjs drives gatehouse's passkey pages in Debian's Chromium with a
// virtual WebAuthn authenticator (CDP WebAuthn.addVirtualAuthenticator:
// CTAP2, internal transport, resident keys, user verification that always
// succeeds), and prints one JSON line saying what it saw. The Go test
// e2e/browser_passkeys_test.go runs it and checks the tokens and the
// database.
//
// The plan comes from GATEHOUSE_PASSKEY_PLAN (JSON: issuer, authURL,
// authURL2, redirect, username), the password from GATEHOUSE_E2E_PASSWORD.
// Steps: sign in with the password (return_to the security page), add a
// passkey there, sign out, open the relying party's authorization URL,
// sign in with "Sign in with a passkey", allow, and arrive at the
// callback; then forget the session, open authURL2, sign in with the password,
// which now asks for the second step, and answer it with "Use a passkey".
// Screenshots (375 and 1280 px wide) go to GATEHOUSE_E2E_SCREENSHOTS.
import { launch, newResult, record as recordIn, shoot as shootIn, stepTimeoutMs } from './kit.mjs';

const result = newResult();
const record = (page, kind) => recordIn(result, page, kind);
const shoot = (page, name) => shootIn(result, page, name);

async function run() {
  const plan = JSON.parse(process.env.GATEHOUSE_PASSKEY_PLAN || '{}');
  const password = process.env.GATEHOUSE_E2E_PASSWORD;
  for (const k of ['issuer', 'authURL', 'authURL2', 'redirect', 'username']) {
    if (!plan[k]) throw new Error(`plan lacks ${k}`);
  }
  if (!password) throw new Error('GATEHOUSE_E2E_PASSWORD is not set');

  const browser = await launch();
  try {
    result.browserVersion = browser.version();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(stepTimeoutMs);
    page.setDefaultNavigationTimeout(stepTimeoutMs);
    page.on('response', (r) => {
      if (r.status() >= 400 && !new URL(r.url()).pathname.endsWith('/favicon.ico')) result.failedRequests.push(`${r.status()} ${r.url()}`);
    });
    // A CSP violation or a script error shows here.
    // (The browser's own favicon requests are 404 and do not count.)
    page.on('console', (m) => {
      if (m.type() === 'error' && !(m.location().url || '').endsWith('/favicon.ico')) result.consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => result.consoleErrors.push(String(e)));

    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
        hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
      },
    });

    // 1. Sign in with the password, straight to the security page.
    await page.goto(`${plan.issuer}/login?return_to=${encodeURIComponent('/security')}`, { waitUntil: 'load' });
    await record(page, 'login');
    await page.locator('#passkey-signin').waitFor({ state: 'visible' });
    await page.locator('input[name=username]').fill(plan.username);
    await page.locator('input[name=password]').fill(password);
    await page.locator('form:has(input[name=password]) button[type=submit]').click();
    await page.waitForURL((u) => u.pathname === '/security', { waitUntil: 'load' });
    await record(page, 'security');
    result.securityBefore = (await page.locator('main').innerText()).trim();
    await shoot(page, 'passkeys-security-empty');

    // 2. Add a passkey.
    await page.locator('#passkey-name').fill('Test laptop');
    await page.locator('#passkey-add').click();
    await page.waitForURL((u) => u.pathname === '/security' && u.searchParams.get('notice') === 'added', { waitUntil: 'load' });
    await record(page, 'security-added');
    result.securityAfter = (await page.locator('main').innerText()).trim();
    await shoot(page, 'passkeys-security');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    result.authenticatorCredentials = credentials.map((c) => ({
      resident: c.isResidentCredential, rpId: c.rpId, signCount: c.signCount,
    }));

    // 3. Sign out.
    await page.goto(`${plan.issuer}/logout`, { waitUntil: 'load' });
    await page.locator('form button[type=submit]').click();
    await page.waitForLoadState('load');
    await record(page, 'signed-out');

    // 4. A relying party sends the browser to sign in: use the passkey.
    await page.goto(plan.authURL, { waitUntil: 'load' });
    await record(page, 'login-for-rp');
    const button = page.locator('#passkey-signin');
    await button.waitFor({ state: 'visible' });
    result.loginButton = (await button.innerText()).trim();
    await shoot(page, 'passkeys-login');
    await button.click();
    await page.waitForURL((u) => u.href.startsWith(plan.redirect) || u.pathname.endsWith('/consent') ||
      !!u.pathname.match(/oauth2\/auth/), { waitUntil: 'load' });
    if (!page.url().startsWith(plan.redirect)) {
      const allow = page.locator('button[name=decision][value=allow]');
      await allow.waitFor({ state: 'visible' });
      await record(page, 'consent');
      result.consentText = (await page.locator('main').innerText()).trim();
      await allow.click();
    }
    await page.waitForURL((u) => u.href.startsWith(plan.redirect), { waitUntil: 'load' });
    result.finalURL = page.url();
    await record(page, 'callback');

    // 5. Forget the session (cookies cleared, not signed out: signing out
    // would revoke the code the relying party has yet to redeem), and sign
    // in to the relying party with the password: the passkey is now a
    // second factor, asked for on /login/mfa.
    await context.clearCookies();
    await page.goto(plan.authURL2, { waitUntil: 'load' });
    await record(page, 'login-password-for-rp');
    await page.locator('input[name=username]').fill(plan.username);
    await page.locator('input[name=password]').fill(password);
    await page.locator('form:has(input[name=password]) button[type=submit]').click();
    await page.waitForURL((u) => u.pathname === '/login/mfa', { waitUntil: 'load' });
    await record(page, 'mfa');
    const factor = page.locator('#passkey-factor');
    await factor.waitFor({ state: 'visible' });
    result.mfaButton = (await factor.innerText()).trim();
    result.mfaText = (await page.locator('main').innerText()).trim();
    await shoot(page, 'passkeys-second-step');
    await factor.click();
    await page.waitForURL((u) => u.href.startsWith(plan.redirect) || u.pathname.endsWith('/consent') ||
      !!u.pathname.match(/oauth2\/auth/), { waitUntil: 'load' });
    if (!page.url().startsWith(plan.redirect)) {
      const allow = page.locator('button[name=decision][value=allow]');
      await allow.waitFor({ state: 'visible' });
      await record(page, 'consent-2');
      await allow.click();
    }
    await page.waitForURL((u) => u.href.startsWith(plan.redirect), { waitUntil: 'load' });
    result.finalURL2 = page.url();
    await record(page, 'callback-2');
    const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    result.signCountAfter = after.credentials.map((c) => c.signCount);
    result.ok = true;
  } finally {
    await browser.close();
  }
}

try {
  await run();
  console.log(JSON.stringify(result));
} catch (err) {
  result.ok = false;
  result.error = String(err && err.stack ? err.stack : err);
  console.log(JSON.stringify(result));
  process.exitCode = 1;
}
