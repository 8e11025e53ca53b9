/**
 * requiresAuth({ scopes }): the access token's granted scope, static or
 * built from the request (dynamic scopes), and the loop guard.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Request, RequestHandler } from 'express';
import request from 'supertest';
import { requiresAuth } from 'express-relying-party';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectError, login, redirectOf, rpOptions } from './support/rp-app.js';
import type { TestApp } from './support/rp-app.js';
import { HTML, answerAtProvider, me, signInWith, stepUpParams, stepUpStart } from './support/step-up.js';

let tp: TestProvider;
let rp: TestApp;
/** the requests the `scopes` function of /orders/:id was called with */
const seen: string[] = [];
/** what /drifting asks for changes on every call: a route whose requirement no sign-in can keep up with */
let drift = 0;

beforeAll(async () => {
  tp = await startTestProvider({ extraScopes: ['payments:write', 'orders:7', 'orders:8', 'orders:9'] });
  rp = createTestApp(rpOptions(tp), undefined, (app) => {
    const scope: RequestHandler = (req, res) => {
      res.json({ scope: req.auth.accessToken?.scope });
    };
    app.get('/payments', requiresAuth({ scopes: ['payments:write'] }), scope);
    app.get(
      '/orders/:id',
      requiresAuth({
        scopes: (req: Request) => {
          seen.push(req.originalUrl);
          return [`orders:${String(req.params.id)}`];
        },
      }),
      scope,
    );
    app.get('/drifting', requiresAuth({ scopes: () => [`orders:${7 + (drift++ % 2)}`] }), scope);
    app.get('/broken', requiresAuth({ scopes: (() => 'orders:7') as unknown as () => string[] }), scope);
  });
});
afterAll(() => tp.close());
beforeEach(() => {
  tp.reset();
  seen.length = 0;
});

describe('requiresAuth({ scopes })', () => {
  it('lets a sign-in whose access token has the scopes through', async () => {
    const wide = createTestApp(rpOptions(tp, { scope: 'openid profile email payments:write' }), undefined, (app) => {
      app.get('/payments', requiresAuth({ scopes: ['payments:write'] }), (_req, res) => res.json({ ok: true }));
    });
    const agent = request.agent(wide.app);
    await login(agent, tp);
    expect((await agent.get('/payments')).body).toEqual({ ok: true });
  });

  describe('when a scope is missing', () => {
    it('steps a browser up asking for the configured scope plus the route\'s, and lets the new sign-in through', async () => {
      const agent = request.agent(rp.app);
      const browser = await signInWith(agent, tp, { accountId: 'alice' });
      const authorize = await stepUpStart(agent, '/payments');
      expect(stepUpParams(authorize)).toEqual({ scope: 'openid profile email payments:write', acr_values: null, max_age: null, prompt: null });
      const callback = await answerAtProvider(agent, tp, browser, authorize, { accountId: 'alice' });
      expect(tp.interactions.at(-1)?.prompt).toBe('consent');
      expect(redirectOf(callback).pathname).toBe('/payments');
      expect((await agent.get('/payments').set('Accept', HTML)).body).toEqual({ scope: 'openid profile email payments:write' });
    });

    it('answers an API request with 403 and the insufficient_scope challenge', async () => {
      const agent = request.agent(rp.app);
      await signInWith(agent, tp, { accountId: 'alice' });
      const response = await agent.get('/payments').set('Accept', 'application/json');
      expect({ status: response.status, challenge: response.headers['www-authenticate'], body: response.body as unknown }).toEqual({
        status: 403,
        challenge: 'Bearer error="insufficient_scope", error_description="The access token lacks a scope this resource requires", scope="payments:write"',
        body: { error: 'insufficient_scope' },
      });
    });

    it('refuses a step-up the provider granted fewer scopes to with 403 scope_not_granted, keeping the session', async () => {
      const agent = request.agent(rp.app);
      const browser = await signInWith(agent, tp, { accountId: 'alice' });
      const before = await me(agent);
      const callback = await answerAtProvider(agent, tp, browser, await stepUpStart(agent, '/payments'), { accountId: 'alice', withhold: ['payments:write'] });
      expectError(callback, 'scope_not_granted', 403);
      expect(callback.headers.location).toBeUndefined();
      expect(await me(agent)).toEqual(before);
    });

    it('refuses a step-up answered by another user with 400 step_up_user_mismatch and signs out', async () => {
      const agent = request.agent(rp.app);
      await signInWith(agent, tp, { accountId: 'alice' });
      const { ProviderBrowser } = await import('./fixtures/browser.js');
      const callback = await answerAtProvider(agent, tp, new ProviderBrowser(tp.issuer), await stepUpStart(agent, '/payments'), { accountId: 'bob' });
      expectError(callback, 'step_up_user_mismatch', 400);
      expect((await me(agent)).isAuthenticated).toBe(false);
    });
  });

  describe('built from the request (dynamic scopes)', () => {
    it('calls the function with the request and asks for what it returns', async () => {
      const agent = request.agent(rp.app);
      const browser = await signInWith(agent, tp, { accountId: 'alice' });
      const authorize = await stepUpStart(agent, '/orders/7?from=list');
      expect(seen).toEqual(['/orders/7?from=list']);
      expect(stepUpParams(authorize).scope).toBe('openid profile email orders:7');
      await answerAtProvider(agent, tp, browser, authorize, { accountId: 'alice' });
      expect((await agent.get('/orders/7').set('Accept', HTML)).status).toBe(200);
      // another order needs its own scope: the step-up asks for it alone, on top of the configured scope
      expect(stepUpParams(await stepUpStart(agent, '/orders/8')).scope).toBe('openid profile email orders:8');
    });

    it.each([
      ['a space (another scope smuggled in)', '/orders/7%20offline_access'],
      ['a double quote', '/orders/7%22'],
      ['a backslash', '/orders/7%5C'],
      ['a control character', '/orders/7%0A'],
    ])('refuses a scope with %s built from the URL with 400 scope_invalid, asking the provider nothing', async (_what, path) => {
      const agent = request.agent(rp.app);
      await signInWith(agent, tp, { accountId: 'alice' });
      const requests = tp.requests.length;
      expectError(await agent.get(path).set('Accept', HTML), 'scope_invalid', 400);
      expectError(await agent.get(path).set('Accept', 'application/json'), 'scope_invalid', 400);
      expect(tp.requests.length).toBe(requests);
    });

    it('refuses a scope with a space for a signed-out browser too, before any login starts', async () => {
      const response = await request(rp.app).get('/orders/7%20offline_access').set('Accept', HTML);
      expectError(response, 'scope_invalid', 400);
      expect(tp.count('/auth')).toBe(0);
    });

    it('reports a function that returns no array as invalid_options (500)', async () => {
      const agent = request.agent(rp.app);
      await signInWith(agent, tp, { accountId: 'alice' });
      expectError(await agent.get('/broken'), 'invalid_options', 500);
    });
  });

  describe('never a loop of redirects', () => {
    it('ends in 403 step_up_failed when a page still lacks a scope right after its step-up', async () => {
      const agent = request.agent(rp.app);
      const browser = await signInWith(agent, tp, { accountId: 'alice' });
      drift = 0;
      const authorize = await stepUpStart(agent, '/drifting');
      expect(stepUpParams(authorize).scope).toBe('openid profile email orders:7');
      const callback = await answerAtProvider(agent, tp, browser, authorize, { accountId: 'alice' });
      expect(redirectOf(callback).pathname).toBe('/drifting');
      // the route now asks for orders:8: another round would be answered the same way, for ever
      const again = await agent.get('/drifting').set('Accept', HTML);
      expectError(again, 'step_up_failed', 403);
      expect(again.headers.location).toBeUndefined();
    });

    it('steps up again for another page right after a step-up', async () => {
      const agent = request.agent(rp.app);
      const browser = await signInWith(agent, tp, { accountId: 'alice' });
      await answerAtProvider(agent, tp, browser, await stepUpStart(agent, '/orders/7'), { accountId: 'alice' });
      expect(redirectOf(await agent.get('/orders/8').set('Accept', HTML)).origin).toBe(tp.issuer);
    });
  });
});
