import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { decodeJwt } from 'jose';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import {
  authorizeAtProvider, createTestApp, deliverEditedCallback, expectError, expectSignedIn, login, pathOf, redirectOf, rpOptions, sessionCookie, startLogin,
} from './support/rp-app.js';
import type { TestApp } from './support/rp-app.js';

let tp: TestProvider;
let rp: TestApp;

beforeAll(async () => {
  tp = await startTestProvider();
  rp = createTestApp(rpOptions(tp));
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

describe('a successful login', () => {
  it('stores the tokens and claims and shows them on req.auth', async () => {
    const agent = request.agent(rp.app);
    const response = await login(agent, tp);
    expect(redirectOf(response).pathname).toBe('/');
    expect(response.headers['cache-control']).toBe('no-store');

    const me = (await agent.get('/me')).body as Record<string, unknown> & { user: Record<string, unknown>; idToken: string; accessToken: Record<string, unknown> };
    expect(me.isAuthenticated).toBe(true);
    expect(me.user).toMatchObject({ sub: 'alice', name: 'Alice', email: 'alice@example.test', iss: tp.issuer, aud: tp.clientId });
    expect(decodeJwt(me.idToken).sub).toBe('alice');
    expect(me.refreshToken).toEqual(expect.any(String));
    expect(me.accessToken).toMatchObject({ value: expect.any(String), type: expect.stringMatching(/^bearer$/i), isExpired: false });
    const expiresAt = Number(me.accessToken.expiresAt);
    expect(expiresAt).toBeGreaterThan(Date.now() / 1000 + 3500);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() / 1000 + 3600);
    expect(me.accessToken.scope).toContain('openid');
    expect(tp.count('/token', 'POST')).toBe(1);
  });

  it('gives the session a new id and carries none of the pre-login data by default', async () => {
    const agent = request.agent(rp.app);
    const before = sessionCookie(await agent.get('/cart?item=book'));
    expect(before).toBeDefined();
    const response = await login(agent, tp);
    const after = sessionCookie(response);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect((await agent.get('/cart/show')).body).toEqual({ cart: null });

    // the old session id carries no login
    const old = await request(rp.app).get('/public').set('Cookie', String(before));
    expect(old.body).toEqual({ isAuthenticated: false });
  });

  it('lets the browser reuse its provider session for a second login', async () => {
    const agent = request.agent(rp.app);
    await login(agent, tp);
    await login(agent, tp);
    await expectSignedIn(agent, true);
  });

  it('authenticates with client_secret_post when configured', async () => {
    const postProvider = await startTestProvider({ tokenEndpointAuthMethod: 'client_secret_post' });
    try {
      const app = createTestApp(rpOptions(postProvider, { clientAuthMethod: 'client_secret_post' })).app;
      const agent = request.agent(app);
      expect(redirectOf(await login(agent, postProvider)).pathname).toBe('/');
      await expectSignedIn(agent, true);
    } finally {
      await postProvider.close();
    }
  });
});

describe('the same callback twice at once (a double click, a reload while it loads)', () => {
  it('makes one code exchange: the second answer is the same redirect, or a 4xx, never a second token request', async () => {
    for (let round = 0; round < 5; round++) {
      tp.proxy.clearRequests();
      const agent = request.agent(rp.app);
      const callback = await authorizeAtProvider(tp, await startLogin(agent, '/login?returnTo=/orders'));
      // the provider answers slowly, so the second arrives while the first is exchanging the code
      tp.proxy.setFault('/token', { kind: 'holdResponse', ms: 300 });
      const answers = await Promise.all([agent.get(pathOf(callback)), agent.get(pathOf(callback))]);
      tp.proxy.clearFaults();
      expect(tp.count('/token', 'POST')).toBe(1);
      for (const answer of answers) {
        if (answer.status === 302) expect(redirectOf(answer).pathname).toBe('/orders');
        else expect(answer.status).toBeGreaterThanOrEqual(400);
      }
      expect(answers.filter((answer) => answer.status === 302).length).toBeGreaterThanOrEqual(1);
      await expectSignedIn(agent, true);
    }
  });
});

describe('a callback that does not match a pending login', () => {
  it('without state → 400 state_missing, before any token request', async () => {
    const agent = request.agent(rp.app);
    expectError(await deliverEditedCallback(agent, tp, (query) => query.delete('state')), 'state_missing', 400);
    expect(tp.count('/token')).toBe(0);
  });

  it('with two state parameters → 400 state_missing', async () => {
    const agent = request.agent(rp.app);
    expectError(await deliverEditedCallback(agent, tp, (query) => query.append('state', 'second')), 'state_missing', 400);
    expect(tp.count('/token')).toBe(0);
  });

  it('with an unknown state → 400 state_unknown, before any token request', async () => {
    const agent = request.agent(rp.app);
    expectError(await deliverEditedCallback(agent, tp, (query) => query.set('state', 'forged-state-value')), 'state_unknown', 400);
    expect(tp.count('/token')).toBe(0);
  });

  it('replayed by the same browser right away (Back, reload) → the same redirect, no second token request', async () => {
    const agent = request.agent(rp.app);
    const callback = await authorizeAtProvider(tp, await startLogin(agent, '/login?returnTo=/orders'));
    expect(redirectOf(await agent.get(pathOf(callback))).pathname).toBe('/orders');
    expect(redirectOf(await agent.get(pathOf(callback))).pathname).toBe('/orders');
    expect(tp.count('/token')).toBe(1);
    await expectSignedIn(agent, true);
  });

  it('replayed by another browser → 400 state_unknown; the first use stays the only one', async () => {
    const agent = request.agent(rp.app);
    const callback = await authorizeAtProvider(tp, await startLogin(agent));
    expect((await agent.get(pathOf(callback))).status).toBe(302);
    const other = request.agent(rp.app);
    await other.get('/cart?item=x');
    expectError(await other.get(pathOf(callback)), 'state_unknown', 400);
    await expectSignedIn(other, false);
    expect(tp.count('/token')).toBe(1);
  });

  it('from another browser (login CSRF) → 400 state_unknown and not signed in', async () => {
    const attacker = request.agent(rp.app);
    const victim = request.agent(rp.app);
    await victim.get('/cart?item=x');
    const callback = await authorizeAtProvider(tp, await startLogin(attacker));
    expectError(await victim.get(pathOf(callback)), 'state_unknown', 400);
    await expectSignedIn(victim, false);
    expect(tp.count('/token')).toBe(0);
  });

  it('with no session at all → 400 state_unknown', async () => {
    const agent = request.agent(rp.app);
    const callback = await authorizeAtProvider(tp, await startLogin(agent));
    expectError(await request(rp.app).get(pathOf(callback)), 'state_unknown', 400);
  });

  it('after the pending login expired → 400 login_expired, even if tried again', async () => {
    const quick = createTestApp(rpOptions(tp, { loginTimeout: 1 }));
    const agent = request.agent(quick.app);
    // a session with app data keeps the app's cookie lifetime (one with nothing else expires with its logins)
    await agent.get('/cart?item=x');
    const callback = await authorizeAtProvider(tp, await startLogin(agent));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expectError(await agent.get(pathOf(callback)), 'login_expired', 400);
    expectError(await agent.get(pathOf(callback)), 'state_unknown', 400);
    expect(tp.count('/token')).toBe(0);
    await expectSignedIn(agent, false);
  });
});

describe('the provider refuses the login', () => {
  it('error=access_denied → 403 access_denied, the pending login consumed', async () => {
    tp.nextInteraction = { deny: true };
    const agent = request.agent(rp.app);
    const callback = await authorizeAtProvider(tp, await startLogin(agent));
    expect(callback.searchParams.get('error')).toBe('access_denied');
    const response = await agent.get(pathOf(callback));
    expectError(response, 'access_denied', 403);
    expect(response.headers['cache-control']).toBe('no-store');
    expectError(await agent.get(pathOf(callback)), 'state_unknown', 400);
    await expectSignedIn(agent, false);
  });

  it('another error → 400 authorization_error without echoing the description', async () => {
    tp.nextInteraction = { deny: true, error: 'interaction_required', errorDescription: 'secret-looking description' };
    const agent = request.agent(rp.app);
    const callback = await authorizeAtProvider(tp, await startLogin(agent));
    const response = await agent.get(pathOf(callback));
    expectError(response, 'authorization_error', 400);
    expect(String((response.body as { message: string }).message)).toContain('interaction_required');
    expect(String((response.body as { message: string }).message)).not.toContain('secret-looking');
  });

  it('a code the provider does not know → 400 token_request_rejected (invalid_grant)', async () => {
    const agent = request.agent(rp.app);
    const callback = await authorizeAtProvider(tp, await startLogin(agent));
    const code = 'forged-or-expired-authorization-code';
    callback.searchParams.set('code', code);
    const response = await agent.get(pathOf(callback));
    expectError(response, 'token_request_rejected', 400);
    expect(String((response.body as { message: string }).message)).not.toContain(code);
    expect(tp.count('/token')).toBe(1);
    await expectSignedIn(agent, false);
  });

  it('a wrong client secret → client_authentication_failed', async () => {
    const wrong = createTestApp(rpOptions(tp, { clientSecret: 'not-the-secret' }));
    const agent = request.agent(wrong.app);
    const callback = await authorizeAtProvider(tp, await startLogin(agent));
    const response = await agent.get(pathOf(callback));
    expectError(response, 'client_authentication_failed', 500);
    expect(String((response.body as { message: string }).message)).not.toContain('not-the-secret');
  });
});
