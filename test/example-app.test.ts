import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT, importJWK } from 'jose';
import type { JWK, JWTPayload } from 'jose';
import request from 'supertest';
import type { Response as SupertestResponse } from 'supertest';
import { RelyingPartyError } from 'express-relying-party';
import { createApp, describeError } from '../example-app/app.js';
import { ConfigError, configFromEnv } from '../example-app/config.js';
import { createClient } from 'redis';
import { generateSigningKey, startSandbox } from 'express-relying-party/sandbox';
import type { Sandbox } from 'express-relying-party/sandbox';
import { startDemo } from '../example-app/server.js';
import type { RunningDemo } from '../example-app/server.js';
import { HttpBrowser, completeSandboxSignIn } from './support/http-browser.js';
import type { Page } from './support/http-browser.js';
import { redisUrl } from './support/redis.js';

// ---------------------------------------------------------------- helpers

const JWT_PATTERN = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;

/** A friendly error page: right status, the code shown for support, and nothing of the stack. */
function expectFriendlyErrorPage(page: { status: number; text: string }, expected: { status: number; code: string; title?: string }): void {
  expect(page.status).toBe(expected.status);
  expect(page.text).toContain('<html lang="en">');
  expect(page.text).toContain(`Error code <code>${expected.code}</code> · HTTP ${expected.status}`);
  if (expected.title) expect(page.text).toContain(`<h1>${expected.title}</h1>`);
  expect(page.text).not.toMatch(/RelyingPartyError|\n\s+at |node_modules|\.ts:\d+/);
}

/** An RFC 6750 challenge: `Bearer realm="demo-api"` plus the expected error and scope. */
function expectBearerChallenge(res: SupertestResponse, expected: { status: number; error?: string; scope?: string }): void {
  expect(res.status).toBe(expected.status);
  const header = res.headers['www-authenticate'];
  expect(header).toMatch(/^Bearer realm="demo-api"/);
  if (expected.error) expect(header).toContain(`error="${expected.error}"`);
  else expect(header).not.toContain('error=');
  if (expected.scope) expect(header).toContain(`scope="${expected.scope}"`);
  expect(res.body).toMatchObject({ error: expected.error ?? 'unauthenticated' });
}

function mainOf(page: Page): string {
  return page.text.slice(page.text.indexOf('<main'), page.text.indexOf('</main>'));
}

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts a sign-in at the demo and returns the sandbox login page it lands on. */
async function openLoginPage(browser: HttpBrowser, demo: RunningDemo, path = '/profile'): Promise<Page> {
  const page = await browser.navigate(`${demo.url}${path}`);
  expect(page.status).toBe(200);
  expect(page.url.startsWith(`${demo.issuer}/interaction/`)).toBe(true);
  expect(page.text).toContain('<h1>Sign in to Sandbox Bank</h1>');
  return page;
}

// ---------------------------------------------------------------- the demo as `npm start` runs it

describe('example app with the sandbox provider', () => {
  let demo: RunningDemo;
  const logged: unknown[] = [];

  beforeAll(async () => {
    demo = await startDemo(configFromEnv({ PORT: '0', SANDBOX_PORT: '0' }), { logError: (err) => logged.push(err) });
  });
  afterAll(async () => {
    await demo?.close();
  });

  describe('when signed out', () => {
    it('renders the home page with a Sign in button', async () => {
      const res = await request(demo.url).get('/').set('Accept', 'text/html');
      expect(res.status).toBe(200);
      expect(res.text).toContain('<html lang="en">');
      expect(res.text).toContain('<h1>Sign in with OpenID Connect</h1>');
      expect(res.text).toContain('<a class="button" href="/login">Sign in</a>');
      expect(res.text).not.toContain('Sign out');
    });

    it('serves pages under a strict CSP without inline scripts or styles', async () => {
      const res = await request(demo.url).get('/');
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain(`form-action 'self' ${demo.issuer}`);
      expect(csp).not.toContain('unsafe-inline');
      expect(res.text).not.toMatch(/<script|<style| style=/);
      const css = await request(demo.url).get('/static/app.css');
      expect(css.status).toBe(200);
      expect(css.headers['content-type']).toMatch(/^text\/css/);
    });

    it('sends a browser asking for /profile to the provider with PKCE, state, nonce and the API as resource', async () => {
      const res = await request(demo.url).get('/profile').set('Accept', 'text/html');
      expect(res.status).toBe(302);
      const location = new URL(String(res.headers.location));
      expect(`${location.origin}${location.pathname}`).toBe(`${demo.issuer}/auth`);
      expect(Object.fromEntries(location.searchParams)).toMatchObject({
        response_type: 'code',
        client_id: 'demo-app',
        redirect_uri: `${demo.url}/callback`,
        scope: 'openid profile email accounts:read',
        code_challenge_method: 'S256',
        resource: `${demo.url}/api`,
      });
      expect(location.searchParams.get('state')).toBeTruthy();
      expect(location.searchParams.get('nonce')).toBeTruthy();
      expect(location.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    });

    it('answers 401 JSON, not a redirect, to a non-browser client of a protected page', async () => {
      const res = await request(demo.url).get('/accounts').set('Accept', 'application/json');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'unauthenticated' });
    });

    it('renders a friendly 404 page', async () => {
      const res = await request(demo.url).get('/nowhere').set('Accept', 'text/html');
      expectFriendlyErrorPage(res, { status: 404, code: 'not_found', title: 'Page not found' });
    });

    it('answers the API without a token with 401 and a bare Bearer challenge', async () => {
      const res = await request(demo.url).get('/api/accounts');
      expectBearerChallenge(res, { status: 401 });
    });
  });

  describe('sign-in at the sandbox', () => {
    it('renders accessible login, consent and SCA pages without inline scripts or styles', async () => {
      const browser = new HttpBrowser();
      const login = await openLoginPage(browser, demo);
      expect(login.text).toContain('<label for="username">Username</label>');
      expect(login.text).toContain('<label for="password">Password</label>');
      expect(login.headers.get('content-security-policy')).toContain(`form-action 'self' ${demo.url}`);
      expect(login.headers.get('cache-control')).toBe('no-store');

      const consent = await browser.submit(login, '/login', { username: 'Consent Carla', password: 'x' });
      expect(consent.text).toContain('<h1>Allow Relying Party Demo to access your data?</h1>');
      expect(consent.text).toContain('Read the list of your accounts and their balances <code>accounts:read</code>');
      expect(consent.text).toContain('See your email address <code>email</code>');

      const sca = await browser.submit(consent, '/consent', { decision: 'approve' });
      expect(sca.text).toContain('<h1>Confirm it’s you</h1>');
      expect(sca.text).toContain('<label for="otp">One-time code');
      for (const page of [login, consent, sca]) {
        expect(page.text).toContain('<html lang="en">');
        expect(page.text).not.toMatch(/<script|<style| style=/);
      }
    });

    it('re-renders the SCA page saying what is wrong with a bad one-time code', async () => {
      const browser = new HttpBrowser();
      const login = await openLoginPage(browser, demo);
      const consent = await browser.submit(login, '/login', { username: 'Typo Tom', password: 'x' });
      const sca = await browser.submit(consent, '/consent', { decision: 'approve' });

      const letters = await browser.submit(sca, '/sca', { otp: '12ab56' });
      expect(letters.status).toBe(400);
      expect(letters.text).toContain('The one-time code can only contain digits');
      expect(letters.text).toContain('aria-invalid="true"');

      const short = await browser.submit(letters, '/sca', { otp: '1234' });
      expect(short.status).toBe(400);
      expect(short.text).toContain('must be exactly 6 digits; you entered 4');

      const profile = await browser.submit(short, '/sca', { otp: '654321' });
      expect(profile.url).toBe(`${demo.url}/profile`);
    });

    it('without a one-time code: signs in with acr …psd2:ca and amr pwd, and shows the profile without tokens', async () => {
      const browser = new HttpBrowser();
      const profile = await completeSandboxSignIn(browser, await openLoginPage(browser, demo), { username: 'Alice Example', otp: '' });
      expect(profile.status).toBe(200);
      expect(profile.url).toBe(`${demo.url}/profile`);
      // the whole flow: app → authorize → interaction pages → resume → /callback → back to /profile
      expect(profile.hops.some((hop) => hop.startsWith(`${demo.url}/callback?code=`))).toBe(true);
      const main = mainOf(profile);
      expect(main).toContain('<td>Alice Example</td>');
      expect(main).toContain('<td><code>urn:openbanking:psd2:ca</code>');
      expect(main).toMatch(/<code>amr<\/code>.*\n\s*<td><code>pwd<\/code> <br>/);
      expect(main).toContain('<code class="chip">accounts:read</code>');
      expect(profile.text).not.toMatch(JWT_PATTERN);
      expect(profile.text).toContain('Signed in as <strong>Alice Example</strong>');
    });

    it('with a 6-digit code: signs in with acr …psd2:sca and amr pwd otp', async () => {
      const browser = new HttpBrowser();
      const profile = await completeSandboxSignIn(browser, await openLoginPage(browser, demo), { username: 'Bob', otp: '123 456' });
      const main = mainOf(profile);
      expect(main).toContain('<td><code>urn:openbanking:psd2:sca</code>');
      expect(main).toContain('<code>pwd</code> <code>otp</code>');
    });

    it('shows accounts fetched from the API with the access token', async () => {
      const browser = new HttpBrowser();
      await completeSandboxSignIn(browser, await openLoginPage(browser, demo), { username: 'Carol' });
      const accounts = await browser.navigate(`${demo.url}/accounts`);
      expect(accounts.status).toBe(200);
      expect(accounts.text).toContain('Everyday current account');
      expect(accounts.text).toContain('Rainy-day savings');
      expect(accounts.text).toMatch(/€[\d,]+\.\d\d/);
      expect(accounts.text).not.toMatch(JWT_PATTERN);
    });

    it('Deny at consent lands on the friendly error page with access_denied (403)', async () => {
      const browser = new HttpBrowser();
      const page = await completeSandboxSignIn(browser, await openLoginPage(browser, demo), { username: 'Dave', decision: 'deny' });
      expect(page.url.startsWith(`${demo.url}/callback?error=access_denied`)).toBe(true);
      expectFriendlyErrorPage(page, { status: 403, code: 'access_denied', title: 'Sign-in was cancelled' });
      // still signed out
      const again = await browser.navigate(`${demo.url}/profile`);
      expect(again.url.startsWith(`${demo.issuer}/interaction/`)).toBe(true);
    });

    it('signs out of the app first, then offers the sandbox sign-out; a protected page then asks to sign in again', async () => {
      const browser = new HttpBrowser();
      await completeSandboxSignIn(browser, await openLoginPage(browser, demo), { username: 'Erin', otp: '000000' });
      const signedOut = await browser.navigate(`${demo.url}/logout`, { method: 'POST', form: {} });
      expect(new URL(signedOut.url).pathname).toBe('/signed-out');
      expect(signedOut.text).toContain('<h1>You are signed out of Relying Party Demo</h1>');
      expect(signedOut.text).not.toContain('Signed in as');
      expect(signedOut.text).not.toMatch(JWT_PATTERN);
      expect((await browser.request(`${demo.url}/accounts`, { accept: 'application/json' })).status).toBe(401);

      // the sandbox sign-out, offered as a link that carries the client id but no token
      const link = /href="([^"]*\/session\/end\?[^"]*)"/.exec(signedOut.text)?.[1]?.replaceAll('&amp;', '&');
      expect(link).toBeDefined();
      const endSession = new URL(String(link));
      expect(endSession.origin).toBe(demo.issuer);
      expect(Object.fromEntries(endSession.searchParams)).toEqual({ client_id: 'demo-app', post_logout_redirect_uri: `${demo.url}/` });
      const confirm = await browser.navigate(endSession.href);
      expect(confirm.text).toContain('<h1>Sign out of Sandbox Bank?</h1>');

      const home = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
      expect(home.url).toBe(`${demo.url}/`);
      expect(home.text).toContain('<h1>Sign in with OpenID Connect</h1>');
      // signed out at the sandbox too: the next sign-in asks for the password again
      await openLoginPage(browser, demo, '/accounts');
    });

    it('sends a replayed callback (Back after signing in) of a signed-in browser back to where it was going, not to an error page', async () => {
      const browser = new HttpBrowser();
      const profile = await completeSandboxSignIn(browser, await openLoginPage(browser, demo), { username: 'Frank' });
      const callback = profile.hops.find((hop) => hop.startsWith(`${demo.url}/callback?code=`));
      expect(callback).toBeDefined();

      const replayed = await browser.navigate(String(callback));
      expect(replayed.hops).toEqual([callback, `${demo.url}/profile`]);
      expect(replayed.status).toBe(200);
      expect(replayed.text).toContain('Frank');

      // another browser, not signed in, gets the error page for the same URL
      const stranger = await new HttpBrowser().navigate(String(callback));
      expectFriendlyErrorPage(stranger, { status: 400, code: 'state_unknown', title: 'This sign-in is no longer valid' });
    });
  });

  describe('error page', () => {
    it('renders a RelyingPartyError from the callback with its status and code, without a stack trace', async () => {
      const res = await request(demo.url).get('/callback?code=forged&state=forged').set('Accept', 'text/html');
      expectFriendlyErrorPage(res, { status: 400, code: 'state_unknown', title: 'This sign-in is no longer valid' });
      expect(res.text).toContain('href="/login">Try signing in again</a>');
    });

    it('maps every library error code to a message, and anything else to a generic 500', () => {
      const denied = describeError(new RelyingPartyError('access_denied', 'denied'), 'Sandbox Bank');
      expect(denied).toMatchObject({ status: 403, code: 'access_denied', retry: true });
      expect(denied.message).toContain('Sandbox Bank');
      expect(describeError(new RelyingPartyError('login_expired', 'late'), 'X')).toMatchObject({ status: 400, title: 'The sign-in took too long' });
      expect(describeError(new RelyingPartyError('client_authentication_failed', 'bad secret'), 'X')).toMatchObject({
        status: 500,
        title: 'This app is misconfigured',
        retry: false,
      });
      expect(describeError(new RelyingPartyError('provider_timeout', 'slow', { status: 504 }), 'X')).toMatchObject({ status: 504 });
      expect(describeError(new Error('boom'), 'X')).toMatchObject({ status: 500, code: 'server_error' });
      expect(describeError(Object.assign(new Error('too big'), { status: 413 }), 'X')).toMatchObject({ status: 413, code: 'bad_request' });
      expect(describeError(Object.assign(new Error('store down'), { status: 503, code: 'session_store_unavailable' }), 'X')).toMatchObject({
        status: 503,
        code: 'session_store_unavailable',
        title: 'Temporarily unavailable',
      });
      expect(describeError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'X')).toMatchObject({ status: 500, code: 'server_error' });
    });

    it('says the provider is not reachable (503) when it is down, and logs the cause server-side', async () => {
      const logs: unknown[] = [];
      const app = createApp({
        issuer: `http://127.0.0.1:${await unusedPort()}`,
        clientId: 'demo-app',
        clientSecret: 'secret',
        baseUrl: 'http://127.0.0.1:3999',
        sessionSecret: 'test session secret',
        logError: (err) => logs.push(err),
      });
      const res = await request(app).get('/login').set('Accept', 'text/html');
      expectFriendlyErrorPage(res, { status: 503, code: 'provider_unreachable', title: 'The sign-in service is not reachable' });
      expect(logs).toHaveLength(1);
      expect(logs[0]).toBeInstanceOf(RelyingPartyError);
    });
  });
});

// ---------------------------------------------------------------- the accounts API on its own

describe('demo accounts API', () => {
  const audience = 'http://127.0.0.1:3999/api';
  let sandbox: Sandbox;
  let app: ReturnType<typeof createApp>;
  let signingKey: JWK;

  beforeAll(async () => {
    signingKey = await generateSigningKey();
    sandbox = await startSandbox({
      clientId: 'demo-app',
      clientSecret: 'secret',
      redirectUris: ['http://127.0.0.1:3999/callback'],
      api: { audience },
      signingKeys: [signingKey],
    });
    app = createApp({
      issuer: sandbox.issuer,
      clientId: 'demo-app',
      clientSecret: 'secret',
      baseUrl: 'http://127.0.0.1:3999',
      sessionSecret: 'test session secret',
      apiAudience: audience,
    });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  /** Signs an access token with the sandbox's key; `overrides` change claims or the `typ` header. */
  async function accessToken(overrides: { typ?: string; key?: JWK } & JWTPayload = {}): Promise<string> {
    const { typ = 'at+jwt', key = signingKey, ...claims } = overrides;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: sandbox.issuer, aud: audience, sub: 'user-1', scope: 'accounts:read', iat: now, exp: now + 300, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: String(key.kid), typ })
      .sign(await importJWK(key, 'RS256'));
  }

  function getAccounts(token: string) {
    return request(app).get('/api/accounts').set('Authorization', `Bearer ${token}`);
  }

  it('returns two fake accounts of the token subject for a valid token', async () => {
    const res = await getAccounts(await accessToken());
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.owner).toBe('user-1');
    expect(res.body.accounts).toHaveLength(2);
    expect(res.body.accounts[0]).toMatchObject({ name: 'Everyday current account', currency: 'EUR' });
  });

  it('answers 401 invalid_token to a token that is not a JWT', async () => {
    expectBearerChallenge(await getAccounts('not-a-jwt'), { status: 401, error: 'invalid_token' });
  });

  it('answers 400 invalid_request to a malformed Authorization header', async () => {
    const res = await request(app).get('/api/accounts').set('Authorization', 'Bearer two tokens');
    expectBearerChallenge(res, { status: 400, error: 'invalid_request' });
  });

  it('treats another scheme as no token at all', async () => {
    const res = await request(app).get('/api/accounts').set('Authorization', 'Basic dXNlcjpwYXNz');
    expectBearerChallenge(res, { status: 401 });
  });

  it.each([
    ['expired', { exp: Math.floor(Date.now() / 1000) - 60 }, 'The access token expired'],
    ['issued for another API (aud)', { aud: 'https://other-api.example' }, 'The access token was not issued for this API'],
    ['from another issuer', { iss: 'https://evil.example' }, 'The access token was not issued by the expected provider'],
    ['an ID token (typ JWT)', { typ: 'JWT' }, 'The token is not an access token'],
  ])('answers 401 invalid_token to a token %s', async (_name, overrides, description) => {
    const res = await getAccounts(await accessToken(overrides));
    expectBearerChallenge(res, { status: 401, error: 'invalid_token' });
    expect(res.headers['www-authenticate']).toContain(`error_description="${description}"`);
  });

  it('answers 401 invalid_token to a token signed with a key the provider does not publish', async () => {
    const foreign = await generateSigningKey();
    const res = await getAccounts(await accessToken({ key: { ...foreign, kid: signingKey.kid } }));
    expectBearerChallenge(res, { status: 401, error: 'invalid_token' });
    expect(res.headers['www-authenticate']).toContain('signature is invalid');
  });

  it('answers 403 insufficient_scope when the token lacks accounts:read', async () => {
    const res = await getAccounts(await accessToken({ scope: 'payments:write' }));
    expectBearerChallenge(res, { status: 403, error: 'insufficient_scope', scope: 'accounts:read' });
  });

  it('answers 503 when the provider cannot be reached to fetch its keys', async () => {
    const offline = createApp({
      issuer: `http://127.0.0.1:${await unusedPort()}`,
      clientId: 'demo-app',
      clientSecret: 'secret',
      baseUrl: 'http://127.0.0.1:3999',
      sessionSecret: 'test session secret',
      apiAudience: audience,
    });
    const res = await request(offline).get('/api/accounts').set('Authorization', `Bearer ${await accessToken()}`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
  });
});

// ---------------------------------------------------------------- configuration and SCA rules

describe('configuration from the environment', () => {
  it('defaults to the sandbox on ports 3000/3001 with generated secrets', () => {
    const config = configFromEnv({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      baseUrl: 'http://127.0.0.1:3000',
      scope: 'openid profile email accounts:read',
      sessionSecretGenerated: true,
      provider: { kind: 'sandbox', port: 3001, clientId: 'demo-app' },
    });
    expect(config.sessionSecret.length).toBeGreaterThanOrEqual(32);
  });

  it('uses a real provider when OIDC_ISSUER is set', () => {
    const config = configFromEnv({
      OIDC_ISSUER: 'https://op.example.com',
      OIDC_CLIENT_ID: 'my-app',
      OIDC_CLIENT_SECRET: 's3cret',
      SESSION_SECRET: 'session secret',
      BASE_URL: 'https://app.example.com/',
    });
    expect(config.provider).toEqual({ kind: 'external', issuer: 'https://op.example.com', clientId: 'my-app', clientSecret: 's3cret' });
    expect(config.baseUrl).toBe('https://app.example.com');
    expect(config.sessionSecretGenerated).toBe(false);
  });

  it.each([
    [{ OIDC_ISSUER: 'https://op.example.com', OIDC_CLIENT_SECRET: 'x', SESSION_SECRET: 'y' }, /OIDC_CLIENT_ID is required/],
    [{ OIDC_ISSUER: 'https://op.example.com', OIDC_CLIENT_ID: 'a', OIDC_CLIENT_SECRET: 'x' }, /SESSION_SECRET is required/],
    [{ PORT: 'eighty' }, /PORT must be a port number/],
    [{ SANDBOX_PORT: '70000' }, /SANDBOX_PORT must be a port number/],
    [{ SESSION_STORE: 'memcached://127.0.0.1' }, /SESSION_STORE must be a redis:\/\/ or rediss:\/\/ URL/],
  ])('rejects %p naming the variable', (env, message) => {
    expect(() => configFromEnv(env)).toThrow(ConfigError);
    expect(() => configFromEnv(env)).toThrow(message);
  });
});

describe('SESSION_STORE=redis://…', () => {
  it('keeps the demo\'s sessions in Redis', async () => {
    const config = configFromEnv({ PORT: '0', SANDBOX_PORT: '0', SESSION_STORE: redisUrl });
    expect(config.sessionStore).toBe(redisUrl);
    const redisDemo = await startDemo(config);
    const redis = createClient({ url: redisUrl });
    await redis.connect();
    try {
      let response = await fetch(`${redisDemo.url}/login`, { redirect: 'manual' });
      for (let i = 0; i < 40 && response.status === 503; i++) {
        // Redis connects in the background: the first requests may find it not ready yet
        await new Promise((resolve) => setTimeout(resolve, 50));
        response = await fetch(`${redisDemo.url}/login`, { redirect: 'manual' });
      }
      expect(response.status).toBe(302);
      const sid = decodeURIComponent(/demo\.sid=s%3A([^.;]+)/.exec(response.headers.get('set-cookie') ?? '')?.[1] ?? '');
      const stored = await redis.get(`sess:${sid}`);
      expect(JSON.parse(String(stored))).toHaveProperty('relyingParty.logins');
      await redis.del(`sess:${sid}`);
    } finally {
      await redis.quit();
      await redisDemo.close();
    }
  });
});
