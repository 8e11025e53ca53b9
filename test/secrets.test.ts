/**
 * Nothing secret leaves: for every error this library produces, what an
 * app's error handler or logger prints (`util.inspect(err, { depth:
 * Infinity })`, which is what `console.error(err)` shows) carries no
 * authorization code, `state`, nonce, PKCE verifier, token, ID token claim
 * value or client secret; debug lines carry paths, never query strings; and
 * the auth routes tell the browser not to leak their URLs in `Referer`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { format, inspect } from 'node:util';
import createDebug from 'debug';
import type { ErrorRequestHandler } from 'express';
import session from 'express-session';
import type { JWTPayload } from 'jose';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { Fault, TestProvider } from './fixtures/provider.js';
import { logoutToken } from './support/logout-token.js';
import { authorizeAtProvider, createTestApp, login, pathOf, rpOptions, startLogin, storedSessions } from './support/rp-app.js';
import type { Agent } from './support/rp-app.js';

let tp: TestProvider;
/** every error that reached the app's error handler */
let errors: unknown[] = [];
/** every debug line of the library */
let debugLines: string[] = [];
const originalLog = createDebug.log;

beforeAll(async () => {
  tp = await startTestProvider({ backchannelLogoutUri: 'http://127.0.0.1:3000/backchannel-logout' });
  createDebug.enable('express-relying-party:*');
  createDebug.log = (...args: unknown[]) => {
    debugLines.push(format(...args));
  };
});
afterAll(async () => {
  createDebug.disable();
  createDebug.log = originalLog;
  await tp.close();
});
beforeEach(() => {
  tp.reset();
  // a user whose claim values are unmistakable in a text
  tp.nextInteraction = { accountId: `user-${randomUUID()}` };
  errors = [];
  debugLines = [];
});

const capture: ErrorRequestHandler = (err, _req, _res, next) => {
  errors.push(err);
  next(err);
};

function appUnderTest(store: session.Store) {
  return createTestApp(rpOptions(tp, { httpTimeout: 500, routes: { backchannelLogout: '/backchannel-logout' } }), store, (app) => {
    app.get('/userinfo', async (req, res, next) => {
      try {
        res.json(await req.auth.fetchUserInfo());
      } catch (err) {
        next(err);
      }
    });
    app.use(capture);
  }).app;
}

/** The secrets of one login: from the callback URL, the pending login in the store, and the client. */
async function pendingLogin(agent: Agent, store: session.Store): Promise<{ callback: URL; secrets: string[] }> {
  const authorize = await startLogin(agent, '/login?returnTo=/reset%3Ftoken%3Dpassword-reset-token-123');
  const [stored] = await storedSessions(store);
  const pending = Object.values(stored?.relyingParty?.logins ?? {})[0];
  const callback = await authorizeAtProvider(tp, authorize);
  const secrets = [
    callback.searchParams.get('code'),
    callback.searchParams.get('state'),
    pending?.nonce,
    pending?.codeVerifier,
    tp.clientSecret,
    'password-reset-token-123',
  ];
  return { callback, secrets: secrets.filter((value): value is string => typeof value === 'string' && value.length > 0) };
}

/** The secrets of a signed-in session: its tokens and the ID token's claim values. */
async function signedInSecrets(agent: Agent): Promise<string[]> {
  const me = (await agent.get('/me')).body as { idToken: string; refreshToken: string; accessToken: { value: string }; user: Record<string, unknown> };
  const claims = ['sub', 'email', 'name', 'sid', 'nonce', 'at_hash'].map((claim) => me.user[claim]);
  return [me.idToken, me.refreshToken, me.accessToken.value, tp.clientSecret, ...claims].filter((value): value is string => typeof value === 'string');
}

function expectNothingSecret(secrets: string[], expectedCode: string): void {
  expect(errors.length).toBeGreaterThan(0);
  for (const err of errors) {
    expect((err as { code?: string }).code).toBe(expectedCode);
    const printed = inspect(err, { depth: Infinity });
    for (const secret of secrets) expect({ secret, leaked: printed.includes(secret) }).toEqual({ secret, leaked: false });
  }
  for (const line of debugLines) {
    for (const secret of secrets) expect({ line, leaked: line.includes(secret) }).toEqual({ line, leaked: false });
  }
}

describe('errors and debug lines carry nothing secret', () => {
  describe('a tampered callback', () => {
    it.each<[string, (query: URLSearchParams) => void, string]>([
      ['a wrong iss', (query) => query.set('iss', 'https://evil.example'), 'callback_invalid'],
      ['the provider’s error= answer', (query) => {
        query.delete('code');
        query.set('error', 'access_denied');
      }, 'access_denied'],
      ['a code the token endpoint refuses', (query) => query.set('code', `${query.get('code') ?? ''}x`), 'token_request_rejected'],
    ])('%s', async (_name, edit, code) => {
      const store = new session.MemoryStore();
      const agent = request.agent(appUnderTest(store));
      const { callback, secrets } = await pendingLogin(agent, store);
      const tamperedCode = callback.searchParams.get('code');
      edit(callback.searchParams);
      await agent.get(pathOf(callback));
      expectNothingSecret([...secrets, ...(tamperedCode ? [`${tamperedCode}x`] : [])], code);
    });
  });

  describe('an ID token that fails validation', () => {
    it.each<[string, (claims: JWTPayload) => JWTPayload, 'provider-key' | 'foreign-key']>([
      ['a wrong nonce', (claims) => ({ ...claims, nonce: 'another-login-nonce' }), 'provider-key'],
      ['a wrong audience', (claims) => ({ ...claims, aud: 'another-client' }), 'provider-key'],
      ['an expired token', (claims) => ({ ...claims, exp: Math.floor(Date.now() / 1000) - 3600 }), 'provider-key'],
      ['a bad signature', (claims) => claims, 'foreign-key'],
    ])('%s', async (_name, tamper, resign) => {
      const store = new session.MemoryStore();
      const agent = request.agent(appUnderTest(store));
      const { callback, secrets } = await pendingLogin(agent, store);
      let claimValues: string[] = [];
      tp.proxy.setFault('/token', {
        kind: 'tamperIdToken',
        resign,
        tamper: (claims) => {
          claimValues = ['sub', 'email', 'name', 'sid', 'at_hash'].map((name) => claims[name]).filter((value): value is string => typeof value === 'string');
          return tamper(claims);
        },
      });
      await agent.get(pathOf(callback));
      expect(claimValues.length).toBeGreaterThan(2);
      expectNothingSecret([...secrets, ...claimValues], 'id_token_invalid');
    });
  });

  describe('a provider fault at the token endpoint', () => {
    it.each<[string, Fault, string]>([
      ['a 500', { kind: 'status', status: 500, contentType: 'application/json', body: '{"error":"server_error"}' }, 'provider_error'],
      ['garbage', { kind: 'garbage' }, 'provider_error'],
      ['a hang past httpTimeout', { kind: 'hang' }, 'provider_timeout'],
    ])('%s', async (_name, fault, code) => {
      const store = new session.MemoryStore();
      const agent = request.agent(appUnderTest(store));
      const { callback, secrets } = await pendingLogin(agent, store);
      tp.proxy.setFault('/token', fault);
      await agent.get(pathOf(callback));
      expectNothingSecret(secrets, code);
    });
  });

  describe('a signed-in session', () => {
    it('a refresh the provider fails with a 500', async () => {
      tp.ttl.accessToken = 2;
      const agent = request.agent(appUnderTest(new session.MemoryStore()));
      await login(agent, tp);
      const secrets = await signedInSecrets(agent);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      tp.proxy.setFault('/token', { kind: 'status', status: 500, contentType: 'application/json', body: '{"error":"server_error"}' });
      expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(502);
      expectNothingSecret(secrets, 'provider_error');
    });

    it.each<[string, Fault, string]>([
      ['refused (401)', { kind: 'status', status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }, 'access_token_rejected'],
      ['failed (500)', { kind: 'status', status: 500 }, 'provider_error'],
    ])('a userinfo call %s', async (_name, fault, code) => {
      const agent = request.agent(appUnderTest(new session.MemoryStore()));
      await login(agent, tp);
      const secrets = await signedInSecrets(agent);
      tp.proxy.setFault('/me', fault);
      await agent.get('/userinfo');
      expectNothingSecret(secrets, code);
    });

    it('a back-channel logout token that fails validation says why, without its claim values', async () => {
      const app = appUnderTest(new session.MemoryStore());
      const agent = request.agent(app);
      await login(agent, tp);
      const secrets = await signedInSecrets(agent);
      const { sid, sub } = ((await agent.get('/me')).body as { user: { sid: string; sub: string } }).user;
      const expired = await logoutToken(tp, { sid, sub, iat: Math.floor(Date.now() / 1000) - 3600 });
      const response = await request(app).post('/backchannel-logout').type('form').send({ logout_token: expired });
      expect(response.status).toBe(400);
      for (const secret of [...secrets, sid, sub, expired]) expect(JSON.stringify(response.body)).not.toContain(secret);
      for (const line of debugLines) for (const secret of [...secrets, sid, sub]) expect(line).not.toContain(secret);
    });
  });

  it('debug lines name paths only: the login logs returnTo without its query', async () => {
    const store = new session.MemoryStore();
    const agent = request.agent(appUnderTest(store));
    await pendingLogin(agent, store);
    expect(debugLines.some((line) => line.includes('/reset'))).toBe(true);
    expect(debugLines.filter((line) => line.includes('password-reset-token-123') || line.includes('?'))).toEqual([]);
  });

  it('every auth route sends Referrer-Policy: no-referrer and Cache-Control: no-store', async () => {
    const app = appUnderTest(new session.MemoryStore());
    for (const response of [
      await request(app).get('/login'),
      await request(app).get('/callback?state=x&code=y'),
      await request(app).get('/logout'),
      await request(app).post('/backchannel-logout').type('form').send({ logout_token: 'x' }),
    ]) {
      expect({ referrer: response.headers['referrer-policy'], cache: response.headers['cache-control'] }).toEqual({ referrer: 'no-referrer', cache: 'no-store' });
    }
  });
});
