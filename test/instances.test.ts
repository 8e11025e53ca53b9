/**
 * Tokens stay with their issuer: the auth record remembers the issuer and
 * client it came from, and an instance configured for another never uses
 * it (no refresh, revocation, userinfo call or id_token_hint). Two
 * instances that would share the session's state on one request fail with
 * a clear error instead of mixing their tokens.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import request from 'supertest';
import { relyingParty } from 'express-relying-party';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { baseUrl, createTestApp, expectError, login, redirectOf, rpOptions, sessionCookie, SharedBrowser } from './support/rp-app.js';

let a: TestProvider;
let b: TestProvider;

beforeAll(async () => {
  a = await startTestProvider();
  b = await startTestProvider();
});
afterAll(async () => {
  await a.close();
  await b.close();
});
beforeEach(() => {
  a.reset();
  b.reset();
});

describe('a session signed in at one provider, read by an instance configured for another', () => {
  it('is not signed in there, and none of its tokens is sent to the other provider', async () => {
    const store = new session.MemoryStore();
    const appA = createTestApp(rpOptions(a), store).app;
    // the same app redeployed against another provider (or another app sharing the store and cookie)
    const appB = createTestApp(rpOptions(b, { fetchUserInfo: true }), store, (app) => {
      app.get('/userinfo', async (req, res, next) => {
        try {
          res.json(await req.auth.fetchUserInfo());
        } catch (err) {
          next(err);
        }
      });
    }).app;
    const browser = new SharedBrowser();
    browser.cookie = sessionCookie(await login(request.agent(appA), a));

    expect(await browser.isSignedIn(appA)).toBe(true);
    expect(await browser.isSignedIn(appB)).toBe(false);
    expect((await browser.get(appB, '/profile')).status).toBe(401);
    expectError(await browser.get(appB, '/userinfo'), 'unauthenticated', 401);
    const logout = redirectOf(await browser.get(appB, '/logout'));
    expect(logout.href).toBe(`${baseUrl}/`);
    expect(b.proxy.requests.filter((r) => r.path !== '/.well-known/openid-configuration' && r.path !== '/jwks')).toEqual([]);
  });
});

describe('two relyingParty() instances on one request', () => {
  it('fails with invalid_options naming the problem, instead of sharing one session slot', async () => {
    const app = createTestApp(rpOptions(a), undefined, (app) => {
      app.use(relyingParty(rpOptions(b)));
      app.get('/after-both', (_req, res) => res.json({ ok: true }));
    }).app;
    const response = await request(app).get('/after-both');
    expectError(response, 'invalid_options', 500);
    expect((response.body as { message: string }).message).toMatch(/Two relyingParty\(\) instances/);
  });

  it('the same instance mounted twice is no conflict', async () => {
    const app = express();
    app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
    const rp = relyingParty(rpOptions(a));
    app.use(rp);
    app.use(rp);
    app.get('/ok', (req, res) => res.json({ isAuthenticated: req.auth.isAuthenticated() }));
    expect((await request(app).get('/ok')).body).toEqual({ isAuthenticated: false });
  });
});
