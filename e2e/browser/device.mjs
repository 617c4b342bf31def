// device.mjs drives gatehouse's /device pages (the device authorization
// grant, RFC 8628) in Debian's Chromium and prints one JSON line saying
// what it saw. The Go test e2e/browser_device_test.go runs it and then
// checks that the device's poll gets its tokens.
//
// The plan comes from GATEHOUSE_DEVICE_PLAN (JSON: issuer, link, the
// verification_uri_complete, and username), the password from
// GATEHOUSE_E2E_PASSWORD. Steps: try a wrong code first, then open the
// link (the code is filled in), continue, sign in, continue again, allow,
// and read the page that sends the person back to the device. Screenshots
// (375 and 1280 px wide) go to GATEHOUSE_E2E_SCREENSHOTS.
import { launch, newResult, record as recordIn, shoot as shootIn, stepTimeoutMs } from './kit.mjs';

const result = newResult();
const record = (page, kind) => recordIn(result, page, kind);
const shoot = (page, name) => shootIn(result, page, name);

// codeField reports the code input's accessible name (its label) and value.
async function codeField(page) {
  return page.evaluate(() => {
    const input = document.querySelector('input[name=user_code]');
    return {
      label: input?.labels?.[0]?.textContent.trim() ?? '',
      value: input?.value ?? '',
      invalid: input?.getAttribute('aria-invalid') ?? '',
    };
  });
}

async function run() {
  const plan = JSON.parse(process.env.GATEHOUSE_DEVICE_PLAN || '{}');
  const password = process.env.GATEHOUSE_E2E_PASSWORD;
  for (const k of ['issuer', 'link', 'username']) {
    if (!plan[k]) throw new Error(`plan lacks ${k}`);
  }
  if (!password) throw new Error('GATEHOUSE_E2E_PASSWORD is not set');

  const browser = await launch();
  try {
    result.browserVersion = browser.version();
    const context = await browser.newContext({ viewport: { width: 375, height: 740 } });
    const page = await context.newPage();
    page.setDefaultTimeout(stepTimeoutMs);
    page.setDefaultNavigationTimeout(stepTimeoutMs);
    page.on('response', (r) => {
      // The wrong code is answered 400 on purpose.
      const u = new URL(r.url());
      if (r.status() >= 400 && !u.pathname.endsWith('/favicon.ico') && !(r.status() === 400 && u.pathname === '/device')) {
        result.failedRequests.push(`${r.status()} ${r.url()}`);
      }
    });
    page.on('console', (m) => {
      const where = m.location().url || '';
      const wrongCode = where !== '' && new URL(where).pathname === '/device' && m.text().includes('status of 400');
      if (m.type() === 'error' && !where.endsWith('/favicon.ico') && !wrongCode) result.consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => result.consoleErrors.push(String(e)));
    const cont = () => page.locator('form:has(input[name=user_code]) button[type=submit]').click();

    // 1. A wrong code: the page says so.
    await page.goto(`${plan.issuer}/device`, { waitUntil: 'load' });
    await record(page, 'device');
    result.entry = await codeField(page);
    await shoot(page, 'device');
    await page.locator('input[name=user_code]').fill('BBBB-BBBB');
    await cont();
    await page.waitForLoadState('load');
    await record(page, 'device-wrong');
    result.wrongAlert = (await page.locator('[role=alert]').innerText()).trim();
    result.wrongField = await codeField(page);
    await shoot(page, 'device-wrong-code');

    // 2. The link fills the code in; the person still confirms it.
    await page.goto(plan.link, { waitUntil: 'load' });
    await record(page, 'device-link');
    result.linkField = await codeField(page);
    await cont();
    await page.waitForURL((u) => u.pathname === '/login', { waitUntil: 'load' });
    await record(page, 'login');
    await page.locator('input[name=username]').fill(plan.username);
    await page.locator('input[name=password]').fill(password);
    await page.locator('form:has(input[name=password]) button[type=submit]').click();
    await page.waitForURL((u) => u.pathname === '/device', { waitUntil: 'load' });
    await record(page, 'device-after-login');
    result.afterLoginField = await codeField(page);
    await cont();

    // 3. The consent step.
    const allow = page.locator('button[name=decision][value=allow]');
    await allow.waitFor({ state: 'visible' });
    result.consentTitle = (await record(page, 'device-consent')).title;
    result.consentText = (await page.locator('main').innerText()).trim();
    await shoot(page, 'device-consent');
    await allow.click();
    await page.waitForURL((u) => u.pathname === '/device/consent', { waitUntil: 'load' });
    result.doneTitle = (await record(page, 'device-done')).title;
    result.doneText = (await page.locator('main').innerText()).trim();
    await shoot(page, 'device-done');
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
