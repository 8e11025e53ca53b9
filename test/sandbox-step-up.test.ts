/**
 * Sandbox Bank and step-up: it honours acr_values (SCA asked for: the code
 * is required, and a user signed in without it is asked for it) and
 * max_age (the password again), shows payment scopes in plain words, and
 * puts acr and auth_time into the API's access tokens.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import type { RequestHandler } from 'express';
import session from 'express-session';
import { decodeJwt } from 'jose';
import { relyingParty, requiresAuth } from 'express-relying-party';
import { ACR_CUSTOMER_AUTHENTICATION, ACR_STRONG_CUSTOMER_AUTHENTICATION, describePaymentScope, parsePaymentScope, paymentScope, startSandbox } from 'express-relying-party/sandbox';
import type { Sandbox } from 'express-relying-party/sandbox';
import { closeServer, listen } from '../lib/http-server.js';
import { HttpBrowser } from './support/http-browser.js';
import type { Page } from './support/http-browser.js';

const SCA = ACR_STRONG_CUSTOMER_AUTHENTICATION;
const ACME = paymentScope({ payee: 'acme-energy', currency: 'GBP', amount: '25.00' });
const WATER = paymentScope({ payee: 'city-water', currency: 'GBP', amount: '12.50' });

let server: Server;
let origin: string;
let sandbox: Sandbox;

beforeAll(async () => {
  server = createServer();
  origin = `http://127.0.0.1:${(await listen(server, 0, '127.0.0.1')).port}`;
  sandbox = await startSandbox({ redirectUris: [`${origin}/callback`], clientName: 'Step-up App', api: { audience: `${origin}/api` } });
  const app = express();
  app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
  app.use(
    relyingParty({
      issuer: sandbox.issuer,
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
      baseUrl: origin,
      scope: 'openid profile accounts:read',
      authorizationParams: { resource: `${origin}/api` },
    }),
  );
  const show: RequestHandler = (req, res) => {
    res.json({ acr: req.auth.user?.acr, amr: req.auth.user?.amr, scope: req.auth.accessToken?.scope, accessToken: req.auth.accessToken?.value });
  };
  app.get('/me', show);
  app.get('/strong', requiresAuth({ acr: SCA }), show);
  app.get('/pay/acme', requiresAuth({ acr: SCA, maxAge: 300, scopes: [ACME] }), show);
  app.get('/pay/water', requiresAuth({ acr: SCA, maxAge: 300, scopes: [WATER] }), show);
  app.get('/recent', (req, res, next) => {
    req.auth.login({ maxAge: 1, returnTo: '/me' }).catch(next);
  });
  server.on('request', app);
});
afterAll(async () => {
  await Promise.all([closeServer(server), sandbox?.close()]);
});

const heading = (page: Page) => /<h1>([\s\S]*?)<\/h1>/.exec(page.text)?.[1]?.replace(/<[^>]+>/g, '').trim();
const json = (page: Page) => JSON.parse(page.text) as { acr?: string; amr?: string[]; scope?: string; accessToken?: string };

/** Signs in at the app through the sandbox's three pages, typing `otp`; returns the browser, signed in at both. */
async function signedIn(otp: string): Promise<HttpBrowser> {
  const browser = new HttpBrowser();
  const login = await browser.navigate(`${origin}/login`);
  const consent = await browser.submit(login, '/login', { username: 'alice', password: 'x' });
  const sca = await browser.submit(consent, '/consent', { decision: 'approve' });
  const back = await browser.submit(sca, '/sca', { otp });
  expect(back.url).toBe(`${origin}/`);
  return browser;
}

describe('Sandbox Bank and acr_values', () => {
  it('asks a user signed in without the code for it, straight away, and refuses an empty code', async () => {
    const browser = await signedIn('');
    expect(json(await browser.navigate(`${origin}/me`)).acr).toBe(ACR_CUSTOMER_AUTHENTICATION);

    const sca = await browser.navigate(`${origin}/strong`);
    expect(heading(sca)).toBe('Confirm it’s you');
    expect(sca.text).toContain('(required)');
    const empty = await browser.submit(sca, '/sca', { otp: '' });
    expect(empty.status).toBe(400);
    expect(empty.text).toContain('This request needs Strong Customer Authentication');

    const done = await browser.submit(empty, '/sca', { otp: '123456' });
    expect(done.url).toBe(`${origin}/strong`);
    expect(json(done)).toMatchObject({ acr: SCA, amr: ['pwd', 'otp'] });
  });

  it('still takes an empty code when the app does not ask for SCA', async () => {
    const browser = await signedIn('');
    expect(json(await browser.navigate(`${origin}/me`)).acr).toBe(ACR_CUSTOMER_AUTHENTICATION);
  });
});

describe('Sandbox Bank and max_age', () => {
  it('asks for the password again when the last sign-in is older than max_age', async () => {
    const browser = await signedIn('123456');
    // max_age=1: a sign-in two seconds old is too old
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const login = await browser.navigate(`${origin}/recent`);
    expect(heading(login)).toBe('Sign in again');
    expect(login.text).toContain('enter your password again');
    const consent = await browser.submit(login, '/login', { username: 'alice', password: 'x' });
    const sca = await browser.submit(consent, '/consent', { decision: 'approve' });
    const back = await browser.submit(sca, '/sca', { otp: '123456' });
    expect(back.url).toBe(`${origin}/me`);
  });
});

describe('Sandbox Bank and payment scopes', () => {
  it('asks for consent to a payment in plain words, confirms it with the code, and grants the payment scope', async () => {
    const browser = await signedIn('');
    const consent = await browser.navigate(`${origin}/pay/acme`);
    expect(heading(consent)).toBe('Allow Step-up App to access your data?');
    expect(consent.text).toContain(`Pay £25.00 to Acme Energy <code>${ACME}</code>`);
    const sca = await browser.submit(consent, '/consent', { decision: 'approve' });
    expect(sca.text).toContain('To confirm <strong>Pay £25.00 to Acme Energy</strong> for <strong>Step-up App</strong>');
    const paid = await browser.submit(sca, '/sca', { otp: '123456' });
    expect(paid.url).toBe(`${origin}/pay/acme`);
    const { scope, accessToken } = json(paid);
    expect(scope?.split(' ')).toEqual(expect.arrayContaining(['accounts:read', ACME]));
    // the API's JWT access token says how and when the user authenticated (RFC 9068)
    const claims = decodeJwt(accessToken ?? '');
    expect(claims).toMatchObject({ acr: SCA, aud: `${origin}/api` });
    expect(claims.auth_time).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  it('takes a second payment right after SCA with a consent and no new code', async () => {
    const browser = await signedIn('123456');
    const first = await browser.navigate(`${origin}/pay/acme`);
    expect(json(await browser.submit(first, '/consent', { decision: 'approve' })).scope).toContain(ACME);
    const second = await browser.navigate(`${origin}/pay/water`);
    expect(second.text).toContain('Pay £12.50 to City Water');
    const paid = await browser.submit(second, '/consent', { decision: 'approve' });
    expect(paid.url).toBe(`${origin}/pay/water`);
    expect(json(paid)).toMatchObject({ acr: SCA });
  });

  it('builds, reads and describes payment scopes, and refuses what one cannot carry', () => {
    expect(ACME).toBe('payments:acme-energy:GBP:25.00');
    expect(parsePaymentScope(ACME)).toEqual({ payee: 'acme-energy', currency: 'GBP', amount: '25.00' });
    expect(describePaymentScope('payments:a-b-c:EUR:1000.00')).toBe('Pay €1,000.00 to A B C');
    for (const scope of ['payments:Acme:GBP:1.00', 'payments:acme:gbp:1.00', 'payments:acme:GBP:1', 'payments:acme energy:GBP:1.00', 'accounts:read']) {
      expect(parsePaymentScope(scope)).toBeUndefined();
    }
    expect(() => paymentScope({ payee: 'Acme Energy', currency: 'GBP', amount: '25.00' })).toThrow(TypeError);
  });
});
