/**
 * The demo's "Make a payment" page: step-up to SCA and a payment consent at
 * Sandbox Bank, the payment through the demo API, and the API's own
 * RFC 9470 / insufficient_scope challenges. HTTP only; the same story in
 * Chromium is in browser.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT, importJWK } from 'jose';
import type { JWK, JWTPayload } from 'jose';
import request from 'supertest';
import { ACR_STRONG_CUSTOMER_AUTHENTICATION } from 'express-relying-party/sandbox';
import { createApp } from '../example-app/app.js';
import { configFromEnv } from '../example-app/config.js';
import { startDemo } from '../example-app/server.js';
import type { RunningDemo } from '../example-app/server.js';
import { closeServer, listen } from '../lib/http-server.js';
import { generateSigningKey, startSandbox } from 'express-relying-party/sandbox';
import type { Sandbox } from 'express-relying-party/sandbox';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { HttpBrowser, completeSandboxSignIn } from './support/http-browser.js';
import type { Page } from './support/http-browser.js';

const SCA = ACR_STRONG_CUSTOMER_AUTHENTICATION;
const heading = (page: Page) => /<h1>([\s\S]*?)<\/h1>/.exec(page.text)?.[1]?.replace(/<[^>]+>/g, '').trim();

/** Signs in at the demo through the sandbox, with or without the one-time code. */
async function signedIn(url: string, username: string, otp: string): Promise<HttpBrowser> {
  const browser = new HttpBrowser();
  const profile = await completeSandboxSignIn(browser, await browser.navigate(`${url}/profile`), { username, otp });
  expect(heading(profile)).toBe('Your profile');
  return browser;
}

/** Fills in the payment form; the page it leads to (a step-up, or the receipt). */
async function startPayment(browser: HttpBrowser, url: string, payee: string, amount: string): Promise<Page> {
  const form = await browser.navigate(`${url}/payments`);
  expect(heading(form)).toBe('Make a payment');
  return browser.submit(form, '/payments', { payee, amount });
}

describe('the demo\'s payments', () => {
  let demo: RunningDemo;

  beforeAll(async () => {
    demo = await startDemo(configFromEnv({ PORT: '0', SANDBOX_PORT: '0' }), { logError: () => undefined });
  });
  afterAll(async () => {
    await demo?.close();
  });

  it('steps a sign-in without the code up to SCA and the payment consent, then pays through the API; a second payment needs no code', async () => {
    const browser = await signedIn(demo.url, 'Payer Pam', '');

    const consent = await startPayment(browser, demo.url, 'acme-energy', '25');
    expect(consent.url.startsWith(`${demo.issuer}/interaction/`)).toBe(true);
    const authorize = new URL(consent.hops.find((hop) => hop.startsWith(`${demo.issuer}/auth?`)) ?? '');
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      acr_values: SCA,
      max_age: '300',
      scope: 'openid profile email accounts:read payments:acme-energy:GBP:25.00',
    });
    expect(consent.text).toContain('Pay £25.00 to Acme Energy <code>payments:acme-energy:GBP:25.00</code>');

    const sca = await browser.submit(consent, '/consent', { decision: 'approve' });
    expect(sca.text).toContain('To confirm <strong>Pay £25.00 to Acme Energy</strong>');
    const refused = await browser.submit(sca, '/sca', { otp: '' });
    expect(refused.status).toBe(400);
    const receipt = await browser.submit(refused, '/sca', { otp: '123456' });
    expect(heading(receipt)).toBe('Payment sent');
    expect(receipt.url).toMatch(new RegExp(`^${demo.url}/payments/[\\w-]+$`));
    expect(receipt.text).toMatch(/<dt>Reference<\/dt><dd><code>pay_[\w-]+<\/code>/);
    expect(receipt.text).toContain('<dd>£25.00</dd>');

    // within five minutes: a consent for the new payment, no new code
    const second = await startPayment(browser, demo.url, 'city-water', '12.5');
    expect(second.text).toContain('Pay £12.50 to City Water');
    const paid = await browser.submit(second, '/consent', { decision: 'approve' });
    expect(heading(paid)).toBe('Payment sent');
    expect(paid.hops.some((hop) => hop.includes('/sca'))).toBe(false);

    const list = await browser.navigate(`${demo.url}/payments`);
    expect(list.text.match(/<td>sent<\/td>/g)).toHaveLength(2);
  });

  it('keeps a declined payment unpaid: 403 scope_not_granted, the payment still waiting', async () => {
    const browser = await signedIn(demo.url, 'Declining Dan', '123456');
    const consent = await startPayment(browser, demo.url, 'northwind-broadband', '40.00');
    // untick the payment, approve the rest
    const form = consent.text.replace(/(<input type="checkbox" name="scope" value="payments:[^"]+") checked>/, '$1>');
    const declined = await browser.submit({ ...consent, text: form }, '/consent', { decision: 'approve' });
    expect(declined.status).toBe(403);
    expect(declined.text).toContain('Error code <code>scope_not_granted</code> · HTTP 403');
    const list = await browser.navigate(`${demo.url}/payments`);
    expect(list.text).toContain('<td>not sent</td>');
  });

  it('answers API-style requests to the payment page with the challenges, not redirects', async () => {
    const weak = await signedIn(demo.url, 'Api Ann', '');
    const form = await weak.navigate(`${demo.url}/payments`);
    const started = await weak.request(`${demo.url}/payments`, { form: { payee: 'acme-energy', amount: '5.00' } });
    expect(started.status).toBe(303);
    const payPage = new URL(String(started.headers.get('location')), demo.url).href;
    expect(form.status).toBe(200);

    const authentication = await weak.request(payPage, { accept: 'application/json' });
    expect(authentication.status).toBe(401);
    expect(authentication.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="${SCA}", max_age="300"`,
    );
    expect(await authentication.json()).toEqual({ error: 'insufficient_user_authentication' });

    const strong = await signedIn(demo.url, 'Api Ann', '123456');
    const again = await strong.request(`${demo.url}/payments`, { form: { payee: 'acme-energy', amount: '5.00' } });
    const scope = await strong.request(new URL(String(again.headers.get('location')), demo.url).href, { accept: 'application/json' });
    expect(scope.status).toBe(403);
    expect(scope.headers.get('www-authenticate')).toBe(
      'Bearer error="insufficient_scope", error_description="The access token lacks a scope this resource requires", scope="payments:acme-energy:GBP:5.00"',
    );
    expect(await scope.json()).toEqual({ error: 'insufficient_scope' });
  });

  it('refuses a payment form without a payee or with a bad amount, asking nobody', async () => {
    const browser = await signedIn(demo.url, 'Form Fay', '');
    const form = await browser.navigate(`${demo.url}/payments`);
    for (const fields of [{ payee: 'acme-energy', amount: 'lots' }, { payee: 'acme-energy', amount: '0' }, { payee: 'mallory', amount: '5.00' }]) {
      const page = await browser.submit(form, '/payments', fields);
      expect(page.status).toBe(400);
      expect(page.url).toBe(`${demo.url}/payments`);
      expect(page.text).toContain('role="alert"');
    }
    expect((await browser.navigate(`${demo.url}/payments/nope`)).status).toBe(404);
  });
});

describe('the demo API\'s payment endpoint', () => {
  let server: Server;
  let url: string;
  let sandbox: Sandbox;
  let signingKey: JWK;

  /** The demo with its API wanting an authentication at most 1 s old, stricter than the page's 300 s. */
  beforeAll(async () => {
    server = createServer();
    url = `http://127.0.0.1:${(await listen(server, 0, '127.0.0.1')).port}`;
    signingKey = await generateSigningKey();
    sandbox = await startSandbox({ redirectUris: [`${url}/callback`], clientName: 'Relying Party Demo', api: { audience: `${url}/api` }, signingKeys: [signingKey] });
    server.on(
      'request',
      createApp({ issuer: sandbox.issuer, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, baseUrl: url, sessionSecret: 'test', apiPaymentMaxAge: 1, sandbox: true }),
    );
  });
  afterAll(async () => {
    await Promise.all([closeServer(server), sandbox?.close()]);
  });

  it('answers a token without a fresh enough SCA with the RFC 9470 challenge, and the page steps up with what it asked', async () => {
    const browser = await signedIn(url, 'Slow Sam', '123456');
    // older than the API's 1 s and its 5 s of clock tolerance
    await new Promise((resolve) => setTimeout(resolve, 6500));
    const consent = await startPayment(browser, url, 'acme-energy', '1.00');
    const again = await browser.submit(consent, '/consent', { decision: 'approve' });
    // the page was satisfied (SCA within 300 s); the API was not: req.auth.fetch() → step_up_required → req.auth.login()
    const stepUp = again.hops.map((hop) => new URL(hop)).filter((hop) => hop.pathname === '/auth').at(-1);
    expect(Object.fromEntries(stepUp?.searchParams ?? [])).toMatchObject({ max_age: '1', acr_values: SCA, scope: 'openid profile email accounts:read payments:acme-energy:GBP:1.00' });
    expect(heading(again)).toBe('Sign in again');

    const consentAgain = await browser.submit(again, '/login', { username: 'Slow Sam', password: 'x' });
    const sca = await browser.submit(consentAgain, '/consent', { decision: 'approve' });
    const paid = await browser.submit(sca, '/sca', { otp: '123456' });
    expect(heading(paid)).toBe('Payment sent');
  });

  /** An access token as the sandbox issues them for the API, with `claims` on top. */
  async function accessToken(claims: JWTPayload): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const { kid, ...key } = signingKey;
    return new SignJWT({ iss: sandbox.issuer, aud: `${url}/api`, sub: 'user-1', iat: now, exp: now + 300, acr: SCA, auth_time: now, scope: 'payments:acme-energy:GBP:1.00', ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', ...(kid === undefined ? {} : { kid }) })
      .sign(await importJWK(key, 'RS256'));
  }
  const pay = (token: string, body: unknown = { payee: 'acme-energy', currency: 'GBP', amount: '1.00' }) =>
    request(url).post('/api/payments').set('Authorization', `Bearer ${token}`).send(body as object);
  const stepUpChallenge = (description: string) =>
    `Bearer realm="demo-api", error="insufficient_user_authentication", error_description="${description}", acr_values="${SCA}", max_age="1"`;

  it('makes a payment for a token with recent SCA and the payment\'s own scope', async () => {
    const response = await pay(await accessToken({}));
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ owner: 'user-1', payee: 'acme-energy', currency: 'GBP', amount: '1.00', status: 'accepted' });
  });

  it.each<[string, JWTPayload, string]>([
    ['no acr', { acr: undefined }, 'A payment needs Strong Customer Authentication'],
    ['a weaker acr', { acr: 'urn:openbanking:psd2:ca' }, 'A payment needs Strong Customer Authentication'],
    ['no auth_time', { auth_time: undefined }, 'A payment needs a recent authentication'],
    ['an old auth_time', { auth_time: Math.floor(Date.now() / 1000) - 60 }, 'A payment needs a recent authentication'],
  ])('asks a token with %s for a step-up (RFC 9470)', async (_what, claims, description) => {
    const response = await pay(await accessToken(claims));
    expect({ status: response.status, challenge: response.headers['www-authenticate'], error: (response.body as { error: string }).error }).toEqual({
      status: 401,
      challenge: stepUpChallenge(description),
      error: 'insufficient_user_authentication',
    });
  });

  it('answers a payment the token has no consent for with 403 insufficient_scope naming its scope', async () => {
    const response = await pay(await accessToken({ scope: 'accounts:read payments:acme-energy:GBP:1.00' }), { payee: 'acme-energy', currency: 'GBP', amount: '100.00' });
    expect(response.status).toBe(403);
    expect(response.headers['www-authenticate']).toBe(
      'Bearer realm="demo-api", error="insufficient_scope", error_description="The user did not consent to this payment", scope="payments:acme-energy:GBP:100.00"',
    );
  });

  it('answers no token with 401, and a body that is not a payment or not JSON with 400', async () => {
    expect((await request(url).post('/api/payments').send({})).status).toBe(401);
    expect((await pay(await accessToken({}), { payee: 'Acme Energy', currency: 'GBP', amount: '1.00' })).body).toMatchObject({ error: 'invalid_request' });
    const malformed = await request(url).post('/api/payments').set('Authorization', 'Bearer x.y.z').set('content-type', 'application/json').send('{"payee":');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ error: 'invalid_request' });
  });
});
