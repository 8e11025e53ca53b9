/**
 * "Sign in with A or B": two `relyingParty()` instances, each named and
 * with its own routes, against two real providers at once. Each completes
 * only its own logins, `req.auth.provider` says which one the user signed
 * in with, signing in with one ends a sign-in with the other, and tokens
 * only ever go to the provider that issued them.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import request from 'supertest';
import { relyingParty, requiresAuth, RelyingPartyError } from 'express-relying-party';
import type { RelyingPartyOptions } from 'express-relying-party';
import { ProviderBrowser } from './fixtures/browser.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { authorizeAtProvider, baseUrl, expectError, pathOf, redirectOf } from './support/rp-app.js';
import type { Agent } from './support/rp-app.js';

let a: TestProvider;
let b: TestProvider;

beforeAll(async () => {
  a = await startTestProvider({ redirectUris: [`${baseUrl}/callback/a`] });
  b = await startTestProvider({ redirectUris: [`${baseUrl}/callback/b`] });
});
afterAll(async () => {
  await a.close();
  await b.close();
});
beforeEach(() => {
  a.reset();
  b.reset();
});

function instance(tp: TestProvider, name: string, overrides: Partial<RelyingPartyOptions> = {}): RelyingPartyOptions {
  return {
    name,
    issuer: tp.issuer,
    clientId: tp.clientId,
    clientSecret: tp.clientSecret,
    baseUrl,
    routes: { login: `/login/${name}`, callback: `/callback/${name}`, logout: '/logout' },
    ...overrides,
  };
}

function twoProviderApp(overrides: Partial<RelyingPartyOptions> = {}) {
  const app = express();
  app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
  app.use(relyingParty(instance(a, 'a', overrides)));
  app.use(relyingParty(instance(b, 'b', overrides)));
  app.get('/me', (req, res) => {
    res.json({ isAuthenticated: req.auth.isAuthenticated(), provider: req.auth.provider ?? null, iss: req.auth.user?.iss ?? null });
  });
  app.get('/profile', requiresAuth(), (req, res) => res.json({ provider: req.auth.provider }));
  app.get('/chosen', requiresAuth({ loginUrl: '/sign-in' }), (req, res) => res.json({ provider: req.auth.provider }));
  app.use(((err, _req, res, _next) => {
    const status = err instanceof RelyingPartyError ? err.status : 500;
    res.status(status).json({ code: err instanceof RelyingPartyError ? err.code : 'unexpected', message: err instanceof Error ? err.message : String(err) });
  }) as express.ErrorRequestHandler);
  return app;
}

async function signInWith(agent: Agent, tp: TestProvider, name: string): Promise<void> {
  const callback = await new ProviderBrowser(tp.issuer).authorize(redirectOf(await agent.get(`/login/${name}`)));
  expect(callback.pathname).toBe(`/callback/${name}`);
  expect(redirectOf(await agent.get(pathOf(callback))).pathname).toBe('/');
}

const me = async (agent: Agent) => (await agent.get('/me')).body as { isAuthenticated: boolean; provider: string | null; iss: string | null };

describe('two providers side by side', () => {
  it('each signs in through its own routes; req.auth.provider names the one used; a new sign-in ends the other', async () => {
    const agent = request.agent(twoProviderApp());
    expect(redirectOf(await agent.get('/login/a')).origin).toBe(new URL(a.issuer).origin);
    await signInWith(agent, a, 'a');
    expect(await me(agent)).toEqual({ isAuthenticated: true, provider: 'a', iss: a.issuer });
    await signInWith(agent, b, 'b');
    expect(await me(agent)).toEqual({ isAuthenticated: true, provider: 'b', iss: b.issuer });
  });

  it('a callback for one instance never completes at the other (mix-up)', async () => {
    const agent = request.agent(twoProviderApp());
    const callback = await authorizeAtProvider(a, redirectOf(await agent.get('/login/a')), undefined, '/callback/a');
    a.proxy.clearRequests();
    expectError(await agent.get(`/callback/b${callback.search}`), 'state_unknown', 400);
    expect(a.count('/token') + b.count('/token')).toBe(0);
    // the pending login is still A's to complete
    expect(redirectOf(await agent.get(pathOf(callback))).pathname).toBe('/');
    expect((await me(agent)).provider).toBe('a');
  });

  it('an authorization response naming the other issuer is refused (RFC 9207 iss, per instance)', async () => {
    const agent = request.agent(twoProviderApp());
    const callback = await authorizeAtProvider(b, redirectOf(await agent.get('/login/b')), undefined, '/callback/b');
    callback.searchParams.set('iss', a.issuer);
    expectError(await agent.get(pathOf(callback)), 'callback_invalid', 400);
    expect((await me(agent)).isAuthenticated).toBe(false);
  });

  it('tokens go only to the provider that issued them: refresh, revocation and end-session at B, nothing at A', async () => {
    const agent = request.agent(twoProviderApp());
    b.ttl.accessToken = 2;
    await signInWith(agent, b, 'b');
    b.ttl.accessToken = 3600;
    a.proxy.clearRequests();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await agent.get('/profile').set('Accept', 'application/json')).body).toEqual({ provider: 'b' });
    expect(b.count('/token', 'POST')).toBeGreaterThanOrEqual(2);
    // a shared /logout is answered by B's instance, though A's is mounted first
    const endSession = redirectOf(await agent.get('/logout'));
    expect(endSession.origin + endSession.pathname).toBe(`${b.issuer}/session/end`);
    expect(endSession.searchParams.get('id_token_hint')).toEqual(expect.any(String));
    expect(b.count('/token/revocation', 'POST')).toBeGreaterThanOrEqual(1);
    expect(a.proxy.requests).toEqual([]);
    expect((await me(agent)).isAuthenticated).toBe(false);
  });

  it('requiresAuth() sends a signed-out browser to the first instance, or to its loginUrl (a chooser page)', async () => {
    const app = twoProviderApp();
    expect(redirectOf(await request(app).get('/profile').set('Accept', 'text/html')).origin).toBe(new URL(a.issuer).origin);
    const chooser = redirectOf(await request(app).get('/chosen?tab=2').set('Accept', 'text/html'));
    expect(chooser.pathname + chooser.search).toBe(`/sign-in?${new URLSearchParams({ returnTo: '/chosen?tab=2' }).toString()}`);
    expect((await request(app).get('/chosen').set('Accept', 'application/json')).status).toBe(401);
  });

  it('two instances answering the same callback path fail with invalid_options', async () => {
    const app = express();
    app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
    app.use(relyingParty(instance(a, 'a', { routes: { callback: '/callback', login: '/login/a' } })));
    app.use(relyingParty(instance(b, 'b', { routes: { callback: '/callback', login: '/login/b' } })));
    app.get('/x', (_req, res) => res.send('x'));
    app.use(((err, _req, res, _next) => res.status(500).json({ code: (err as RelyingPartyError).code, message: (err as Error).message })) as express.ErrorRequestHandler);
    const response = await request(app).get('/x');
    expect(response.body).toMatchObject({ code: 'invalid_options', message: expect.stringMatching(/"a" and "b" both answer \/callback/) });
  });

  it('a loginUrl that is not a same-origin path is refused at setup', () => {
    expect(() => requiresAuth({ loginUrl: 'https://evil.example/' })).toThrow(/loginUrl/);
  });
});
