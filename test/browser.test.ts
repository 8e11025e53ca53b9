/**
 * The onboarding demo, clicked through in a real browser (Debian's
 * Chromium driven by playwright-core): home → Sign in → sandbox login →
 * consent → SCA → profile → accounts → sign out of the app → sign out of
 * the sandbox, plus the SCA code checks, Deny at consent, a payment that
 * steps the sign-in up to SCA and a payment consent, and every page on a
 * 390 px wide phone screen. Every step leaves a screenshot in
 * test-artifacts/screenshots/.
 *
 * Without Chromium these tests FAIL (saying how to install it); set
 * SKIP_BROWSER_TESTS=1 to skip them explicitly.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { configFromEnv } from '../example-app/config.js';
import { startDemo } from '../example-app/server.js';
import type { RunningDemo } from '../example-app/server.js';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skipRequested = process.env.SKIP_BROWSER_TESTS === '1';
const chromiumFound = existsSync(executablePath);
const screenshotDir = join(process.cwd(), 'test-artifacts', 'screenshots');
const BROWSER_TEST_TIMEOUT = 60_000;

if (skipRequested) {
  console.warn(
    `SKIP_BROWSER_TESTS=1: the browser tests of the example app are SKIPPED${chromiumFound ? '' : ` (no Chromium at ${executablePath})`}. ` +
      'Unset it to run them.',
  );
}

/** A phone screen: 390 CSS pixels wide, as common phones are. */
const PHONE = { width: 390, height: 844 };

/** One fresh browser profile (temporary user data dir), closed and deleted by `close()`. */
async function openBrowser(
  viewport: { width: number; height: number } = { width: 1100, height: 820 },
): Promise<{ context: BrowserContext; page: Page; problems: string[]; close(): Promise<void> }> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'erp-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport,
    ...(viewport.width < 600 ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
    locale: 'en-GB',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // CSP violations (an inline style, a blocked form redirect…) show up as
  // console errors; a missing stylesheet or icon as a failed subresource.
  // Documents answered with 4xx on purpose (the SCA page with a bad code,
  // the error page) are not problems.
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(message.text());
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && response.request().resourceType() !== 'document') {
      problems.push(`${response.status()} for ${response.request().resourceType()} ${response.url()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return {
    context,
    page,
    problems,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });
}

/** The page is no wider than the screen: nothing needs horizontal scrolling, nothing is cut off. */
async function expectNoHorizontalOverflow(page: Page): Promise<void> {
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    // boxes wider than the screen, and boxes whose content (a long word) spills out of them
    const wide = Array.from(document.querySelectorAll('body *'))
      .filter((element) => element.getBoundingClientRect().right > width + 0.5 || element.scrollWidth > element.clientWidth + 1)
      .filter((element) => getComputedStyle(element).overflowX === 'visible')
      .map((element) => `<${element.tagName.toLowerCase()}${element.className ? ` class="${String(element.className)}"` : ''}> ${element.textContent?.trim().slice(0, 40) ?? ''}`);
    return { width, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 5) };
  });
  expect({ url: page.url(), ...overflow }).toEqual({ url: page.url(), width: overflow.width, scrollWidth: overflow.width, wide: [] });
}

async function expectHeading(page: Page, text: string): Promise<void> {
  await page.getByRole('heading', { level: 1, name: text }).waitFor({ timeout: 10_000 });
}

/** Two cells of the profile's claims table: the claim's row contains its value. */
async function claimRow(page: Page, claim: string): Promise<string> {
  return page.locator('table.claims tr', { has: page.locator(`th code:text-is("${claim}")`) }).innerText();
}

async function signInAtSandbox(page: Page, username: string): Promise<void> {
  await expectHeading(page, 'Sign in to Sandbox Bank');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill('any password works');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expectHeading(page, 'Allow Relying Party Demo to access your data?');
}

if (!chromiumFound && !skipRequested) {
  describe('example app in a browser', () => {
    it('needs Chromium', () => {
      throw new Error(
        `Chromium was not found at ${executablePath}, so the browser tests of the example app cannot run.\n` +
          'Install it with: apt-get install -y chromium   (or point CHROMIUM_PATH at a Chromium binary)\n' +
          'To skip these tests on purpose, set SKIP_BROWSER_TESTS=1.',
      );
    });
  });
} else {
  (skipRequested ? describe.skip : describe)('example app in a browser', () => {
    let demo: RunningDemo;

    beforeAll(async () => {
      // fresh every run, so no stale screenshot outlives a renamed step
      rmSync(screenshotDir, { recursive: true, force: true });
      mkdirSync(screenshotDir, { recursive: true });
      demo = await startDemo(configFromEnv({ PORT: '0', SANDBOX_PORT: '0' }), { logError: () => undefined });
    });
    afterAll(async () => {
      await demo?.close();
    });

    it(
      'signs in without a one-time code, shows profile and accounts, signs out',
      async () => {
        const browser = await openBrowser();
        const { page } = browser;
        try {
          await page.goto(demo.url);
          await expectHeading(page, 'Sign in with OpenID Connect');
          await screenshot(page, '01-home-signed-out');

          await page.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
          await expectHeading(page, 'Sign in to Sandbox Bank');
          expect(page.url()).toContain(`${demo.issuer}/interaction/`);
          await page.getByLabel('Username').fill('Alice Example');
          await page.getByLabel('Password').fill('any password works');
          await screenshot(page, '02-sandbox-login');
          await page.getByRole('button', { name: 'Sign in' }).click();

          await expectHeading(page, 'Allow Relying Party Demo to access your data?');
          await expect(page.getByRole('listitem').filter({ hasText: 'accounts:read' }).innerText()).resolves.toContain(
            'Read the list of your accounts and their balances',
          );
          await screenshot(page, '03-sandbox-consent');
          await page.getByRole('button', { name: 'Approve' }).click();

          await expectHeading(page, 'Confirm it’s you');
          await screenshot(page, '04-sandbox-sca');
          // an empty code is accepted: the sandbox has no authenticator app
          await page.getByRole('button', { name: 'Confirm' }).click();

          await expectHeading(page, 'Hello, Alice Example!');
          expect(page.url()).toBe(`${demo.url}/`);
          await screenshot(page, '05-home-signed-in');

          await page.getByRole('navigation').getByRole('link', { name: 'Profile' }).click();
          await expectHeading(page, 'Your profile');
          expect(await claimRow(page, 'name')).toContain('Alice Example');
          expect(await claimRow(page, 'acr')).toContain('urn:openbanking:psd2:ca');
          const amr = await claimRow(page, 'amr');
          expect(amr).toContain('pwd');
          expect(amr).not.toContain('otp');
          expect(await page.content()).not.toMatch(/eyJ[\w-]+\.eyJ/);
          await screenshot(page, '06-profile');

          await page.getByRole('navigation').getByRole('link', { name: 'Accounts' }).click();
          await expectHeading(page, 'Your accounts');
          await expect(page.getByRole('rowheader', { name: 'Everyday current account' }).isVisible()).resolves.toBe(true);
          await expect(page.getByRole('rowheader', { name: 'Rainy-day savings' }).isVisible()).resolves.toBe(true);
          await screenshot(page, '07-accounts');

          await page.getByRole('button', { name: 'Sign out' }).click();
          await expectHeading(page, 'You are signed out of Relying Party Demo');
          expect(new URL(page.url()).pathname).toBe('/signed-out');
          await expect(page.getByRole('banner').getByRole('link', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
          await screenshot(page, '08-signed-out-of-the-app');
          await page.getByRole('link', { name: 'Sign out of Sandbox Bank too' }).click();
          await expectHeading(page, 'Sign out of Sandbox Bank?');
          await screenshot(page, '09-sandbox-sign-out');
          await page.getByRole('button', { name: 'Yes, sign me out' }).click();
          await expectHeading(page, 'Sign in with OpenID Connect');
          expect(page.url()).toBe(`${demo.url}/`);

          await page.goto(`${demo.url}/accounts`);
          await expectHeading(page, 'Sign in to Sandbox Bank');
          await screenshot(page, '10-protected-page-asks-to-sign-in');
          expect(browser.problems).toEqual([]);
        } finally {
          await browser.close();
        }
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'rejects a malformed one-time code, then completes SCA with 6 digits (acr …psd2:sca, amr pwd otp)',
      async () => {
        const browser = await openBrowser();
        const { page } = browser;
        try {
          await page.goto(`${demo.url}/profile`);
          await signInAtSandbox(page, 'Bob Builder');
          await page.getByRole('button', { name: 'Approve' }).click();
          await expectHeading(page, 'Confirm it’s you');

          await page.getByLabel('One-time code').fill('12 34');
          await page.getByRole('button', { name: 'Confirm' }).click();
          await expect(page.getByRole('alert').innerText()).resolves.toContain('must be exactly 6 digits; you entered 4');
          await expect(page.getByLabel('One-time code').getAttribute('aria-invalid')).resolves.toBe('true');
          await screenshot(page, '11-sandbox-sca-invalid-code');

          await page.getByLabel('One-time code').fill('12345x');
          await page.getByRole('button', { name: 'Confirm' }).click();
          await expect(page.getByRole('alert').innerText()).resolves.toContain('can only contain digits');

          await page.getByLabel('One-time code').fill('246810');
          await screenshot(page, '12-sandbox-sca-code-entered');
          await page.getByRole('button', { name: 'Confirm' }).click();
          await expectHeading(page, 'Your profile');
          expect(page.url()).toBe(`${demo.url}/profile`);
          expect(await claimRow(page, 'acr')).toContain('urn:openbanking:psd2:sca');
          expect(await claimRow(page, 'amr')).toContain('pwd otp');
          await screenshot(page, '13-profile-after-sca');

          await page.goto(`${demo.url}/accounts`);
          await expectHeading(page, 'Your accounts');
          await expect(page.getByRole('rowheader', { name: 'Everyday current account' }).isVisible()).resolves.toBe(true);
          expect(browser.problems).toEqual([]);
        } finally {
          await browser.close();
        }
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'fits a 390 px wide phone screen on every page, without horizontal scrolling',
      async () => {
        const browser = await openBrowser(PHONE);
        const { page } = browser;
        const check = async (heading: string, name: string) => {
          await expectHeading(page, heading);
          await expectNoHorizontalOverflow(page);
          await screenshot(page, `phone-${name}`);
        };
        try {
          await page.goto(demo.url);
          await check('Sign in with OpenID Connect', '01-home');
          await page.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
          await check('Sign in to Sandbox Bank', '02-sandbox-login');
          await page.getByLabel('Username').fill('Eve Averylongusername-without-any-spaces');
          await page.getByLabel('Password').fill('any password works');
          await page.getByRole('button', { name: 'Sign in' }).click();
          await check('Allow Relying Party Demo to access your data?', '03-sandbox-consent');
          await page.getByRole('button', { name: 'Approve' }).click();
          await check('Confirm it’s you', '04-sandbox-sca');
          await page.getByLabel('One-time code').fill('12');
          await page.getByRole('button', { name: 'Confirm' }).click();
          await check('Confirm it’s you', '05-sandbox-sca-invalid-code');
          await page.getByLabel('One-time code').fill('123456');
          await page.getByRole('button', { name: 'Confirm' }).click();
          await check('Hello, Eve Averylongusername-without-any-spaces!', '06-home-signed-in');
          await page.goto(`${demo.url}/profile`);
          await check('Your profile', '07-profile');
          await page.goto(`${demo.url}/accounts`);
          await check('Your accounts', '08-accounts');
          await page.goto(`${demo.url}/payments`);
          await check('Make a payment', '08b-payments');
          await page.goto(`${demo.url}/nowhere`);
          await check('Page not found', '09-error');
          await page.goto(`${demo.url}/profile`);
          await page.getByRole('button', { name: 'Sign out' }).click();
          await check('You are signed out of Relying Party Demo', '10-signed-out');
          await page.getByRole('link', { name: 'Sign out of Sandbox Bank too' }).click();
          await check('Sign out of Sandbox Bank?', '11-sandbox-sign-out');
          expect(browser.problems).toEqual([]);
        } finally {
          await browser.close();
        }
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'steps up for a payment: SCA and the payment consent, the payment through the API; a second one within 5 minutes needs no code; API calls get the challenges',
      async () => {
        const browser = await openBrowser();
        const { page } = browser;
        /** A payment started over HTTP from this browser's session: the URL of its payment page. */
        const draftPayment = async (payee: string, amount: string): Promise<string> => {
          const started = await page.request.post(`${demo.url}/payments`, { form: { payee, amount }, maxRedirects: 0 });
          expect(started.status()).toBe(303);
          return new URL(started.headers().location ?? '', demo.url).href;
        };
        const asApi = (url: string) => page.request.get(url, { headers: { accept: 'application/json' }, maxRedirects: 0 });
        try {
          // signed in without the one-time code: the profile works
          await page.goto(`${demo.url}/profile`);
          await signInAtSandbox(page, 'Paula Payer');
          await page.getByRole('button', { name: 'Approve' }).click();
          await expectHeading(page, 'Confirm it’s you');
          await page.getByRole('button', { name: 'Confirm' }).click();
          await expectHeading(page, 'Your profile');
          expect(await claimRow(page, 'acr')).toContain('urn:openbanking:psd2:ca');

          // an API-style request to a payment page: the RFC 9470 challenge, no redirect
          const challenged = await asApi(await draftPayment('acme-energy', '5.00'));
          expect(challenged.status()).toBe(401);
          expect(challenged.headers()['www-authenticate']).toBe(
            'Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:openbanking:psd2:sca", max_age="300"',
          );
          expect(await challenged.json()).toEqual({ error: 'insufficient_user_authentication' });

          await page.getByRole('navigation').getByRole('link', { name: 'Payments' }).click();
          await expectHeading(page, 'Make a payment');
          await page.getByLabel('Pay to').selectOption('acme-energy');
          await page.getByLabel('Amount in pounds').fill('25.00');
          await screenshot(page, '15-payment-form');
          await page.getByRole('button', { name: 'Continue to pay' }).click();

          // the step-up: the payment consent, in plain words, then the code, now required
          await expectHeading(page, 'Allow Relying Party Demo to access your data?');
          expect(page.url()).toContain(`${demo.issuer}/interaction/`);
          await expect(page.getByRole('listitem').filter({ hasText: 'payments:acme-energy:GBP:25.00' }).innerText()).resolves.toContain('Pay £25.00 to Acme Energy');
          await screenshot(page, '16-sandbox-payment-consent');
          await page.getByRole('button', { name: 'Approve' }).click();
          await expectHeading(page, 'Confirm it’s you');
          await expect(page.getByRole('main').innerText()).resolves.toContain('To confirm Pay £25.00 to Acme Energy for Relying Party Demo');
          const code = page.getByLabel('One-time code');
          expect(await code.evaluate((input: HTMLInputElement) => input.validity.valueMissing)).toBe(true);
          await screenshot(page, '17-sandbox-payment-sca');
          await code.fill('123456');
          await page.getByRole('button', { name: 'Confirm' }).click();

          await expectHeading(page, 'Payment sent');
          await expect(page.getByRole('main').innerText()).resolves.toMatch(/Reference\s+pay_[\w-]+/);
          await screenshot(page, '18-payment-sent');

          // a second payment within 5 minutes: its consent, no new code
          await page.getByRole('link', { name: 'Make another payment' }).click();
          await page.getByLabel('Pay to').selectOption('city-water');
          await page.getByLabel('Amount in pounds').fill('12.50');
          await page.getByRole('button', { name: 'Continue to pay' }).click();
          await expectHeading(page, 'Allow Relying Party Demo to access your data?');
          await expect(page.getByRole('listitem').filter({ hasText: 'payments:city-water:GBP:12.50' }).innerText()).resolves.toContain('Pay £12.50 to City Water');
          await page.getByRole('button', { name: 'Approve' }).click();
          await expectHeading(page, 'Payment sent');
          await expect(page.getByRole('main').innerText()).resolves.toContain('£12.50');
          await screenshot(page, '19-second-payment-sent');

          // signed in with SCA now: an API-style request lacking this payment's consent gets insufficient_scope
          const unconsented = await asApi(await draftPayment('northwind-broadband', '9.99'));
          expect(unconsented.status()).toBe(403);
          expect(unconsented.headers()['www-authenticate']).toContain('error="insufficient_scope"');
          expect(unconsented.headers()['www-authenticate']).toContain('scope="payments:northwind-broadband:GBP:9.99"');
          expect(await unconsented.json()).toEqual({ error: 'insufficient_scope' });
          expect(browser.problems).toEqual([]);
        } finally {
          await browser.close();
        }
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'Deny at consent lands on the friendly error page',
      async () => {
        const browser = await openBrowser();
        const { page } = browser;
        try {
          await page.goto(demo.url);
          await page.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
          await signInAtSandbox(page, 'Dave');
          await page.getByRole('button', { name: 'Deny' }).click();

          await expectHeading(page, 'Sign-in was cancelled');
          expect(page.url()).toContain(`${demo.url}/callback?error=access_denied`);
          const text = await page.getByRole('main').innerText();
          expect(text).toContain('Error code access_denied · HTTP 403');
          expect(text).not.toMatch(/RelyingPartyError|\bat .*\.ts:\d+/);
          await expect(page.getByRole('link', { name: 'Try signing in again' }).isVisible()).resolves.toBe(true);
          await screenshot(page, '14-consent-denied');
          expect(browser.problems).toEqual([]);
        } finally {
          await browser.close();
        }
      },
      BROWSER_TEST_TIMEOUT,
    );
  });

  (skipRequested ? describe.skip : describe)('example app in a browser, FAPI 2.0 mode (SANDBOX_PROFILE=fapi2)', () => {
    let demo: RunningDemo;

    beforeAll(async () => {
      mkdirSync(screenshotDir, { recursive: true });
      demo = await startDemo(configFromEnv({ PORT: '0', SANDBOX_PORT: '0', SANDBOX_PROFILE: 'fapi2' }), { logError: () => undefined });
    });
    afterAll(async () => {
      await demo?.close();
    });

    it(
      'signs in with PAR, private_key_jwt and DPoP; the profile shows the binding; the accounts load; signs out',
      async () => {
        const browser = await openBrowser();
        const { page } = browser;
        const authorizeRequests: string[] = [];
        page.on('request', (request) => {
          if (request.url().startsWith(`${demo.issuer}/auth?`)) authorizeRequests.push(request.url());
        });
        try {
          await page.goto(demo.url);
          await page.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
          await signInAtSandbox(page, 'Fiona Fapi');
          // the browser only ever carried a reference to the pushed request
          expect(authorizeRequests.map((url) => [...new URL(url).searchParams.keys()].sort())).toEqual([['client_id', 'request_uri']]);
          await page.getByRole('button', { name: 'Approve' }).click();
          await expectHeading(page, 'Confirm it’s you');
          await page.getByLabel('One-time code').fill('135790');
          await page.getByRole('button', { name: 'Confirm' }).click();
          await expectHeading(page, 'Hello, Fiona Fapi!');

          await page.getByRole('navigation').getByRole('link', { name: 'Profile' }).click();
          await expectHeading(page, 'Your profile');
          const facts = await page.locator('dl.facts').innerText();
          expect(facts).toContain('DPoP');
          expect(facts).toContain(`DPoP, key thumbprint ${demo.fapiKeys?.dpopKey ?? 'missing'}`);
          expect(facts).toContain('pushed by the app to the provider first (PAR)');
          expect(await page.content()).not.toMatch(/eyJ[\w-]+\.eyJ/);
          await screenshot(page, 'fapi-01-profile-dpop-binding');

          await page.getByRole('navigation').getByRole('link', { name: 'Accounts' }).click();
          await expectHeading(page, 'Your accounts');
          await expect(page.getByRole('rowheader', { name: 'Everyday current account' }).isVisible()).resolves.toBe(true);
          await screenshot(page, 'fapi-02-accounts');

          await page.getByRole('button', { name: 'Sign out' }).click();
          await expectHeading(page, 'You are signed out of Relying Party Demo');
          expect(browser.problems).toEqual([]);
        } finally {
          await browser.close();
        }
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'shows the binding on a 390 px wide phone screen without horizontal scrolling',
      async () => {
        const browser = await openBrowser(PHONE);
        const { page } = browser;
        try {
          await page.goto(`${demo.url}/profile`);
          await signInAtSandbox(page, 'Gus');
          await page.getByRole('button', { name: 'Approve' }).click();
          await page.getByRole('button', { name: 'Confirm' }).click();
          await expectHeading(page, 'Your profile');
          await expectNoHorizontalOverflow(page);
          await screenshot(page, 'fapi-phone-profile');
          expect(browser.problems).toEqual([]);
        } finally {
          await browser.close();
        }
      },
      BROWSER_TEST_TIMEOUT,
    );
  });
}
