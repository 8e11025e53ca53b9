import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { ProviderBrowser } from './fixtures/browser.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { baseUrl, createTestApp, expectError, expectSignedIn, login, redirectOf, rpOptions, sessionCookie, storedSessions } from './support/rp-app.js';
import type { Agent } from './support/rp-app.js';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

describe('logout', () => {
  describe('when the provider has an end_session_endpoint', () => {
    it.each<'GET' | 'POST'>(['GET', 'POST'])('%s signs out locally, then redirects to the provider with id_token_hint', async (method) => {
      const { app } = createTestApp(rpOptions(tp));
      const agent = request.agent(app);
      await login(agent, tp);
      const idToken = String(((await agent.get('/me')).body as { idToken: string }).idToken);

      const response = method === 'GET' ? await agent.get('/logout') : await agent.post('/logout');
      const url = redirectOf(response);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(url.origin + url.pathname).toBe(`${tp.issuer}/session/end`);
      expect(Object.fromEntries(url.searchParams)).toEqual({
        client_id: tp.clientId,
        id_token_hint: idToken,
        post_logout_redirect_uri: `${baseUrl}/`,
      });
      await expectSignedIn(agent, false);
    });

    it('the provider accepts the logout and sends the browser back to postLogoutRedirect', async () => {
      const { app } = createTestApp(rpOptions(tp));
      const agent = request.agent(app);
      const browser = new ProviderBrowser(tp.issuer);
      const callback = await browser.authorize(redirectOf(await agent.get('/login')));
      await agent.get(callback.pathname + callback.search);
      const back = await browser.logout(redirectOf(await agent.get('/logout')));
      expect(back.href).toBe(`${baseUrl}/`);
    });

    it('sends a signed-out visitor straight to postLogoutRedirect', async () => {
      const { app } = createTestApp(rpOptions(tp, { postLogoutRedirect: '/goodbye' }));
      expect(redirectOf(await request(app).get('/logout')).href).toBe(`${baseUrl}/goodbye`);
    });

    it('ends the session: the old session id is gone from the store', async () => {
      const { app, store } = createTestApp(rpOptions(tp));
      const agent = request.agent(app);
      await login(agent, tp);
      const cookie = sessionCookie(await agent.get('/cart?item=book'));
      await agent.get('/logout');
      const old = await request(app).get('/cart/show').set('Cookie', String(cookie));
      expect(old.body).toEqual({ cart: null });
      // what is left is the library's own record of the sign-out, no session
      expect((await storedSessions(store)).filter((stored) => !('erp' in stored))).toEqual([]);
    });
  });

  describe('when the provider has no end_session_endpoint', () => {
    it('redirects to postLogoutRedirect', async () => {
      const metadata = (await (await fetch(`${tp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      delete metadata.end_session_endpoint;
      tp.proxy.setFault('/.well-known/openid-configuration', { kind: 'status', status: 200, body: JSON.stringify(metadata), contentType: 'application/json' });
      const { app } = createTestApp(rpOptions(tp, { postLogoutRedirect: 'http://127.0.0.1:3000/signed-out' }));
      const agent = request.agent(app);
      await login(agent, tp);
      expect(redirectOf(await agent.get('/logout')).href).toBe(`${baseUrl}/signed-out`);
      await expectSignedIn(agent, false);
    });
  });

  describe('when the provider is down', () => {
    it('still signs out locally', async () => {
      const { app } = createTestApp(rpOptions(tp, { httpTimeout: 300 }));
      const agent = request.agent(app);
      await login(agent, tp);
      await tp.proxy.down();
      try {
        // discovery is cached, so the provider's logout URL is still known
        expect(redirectOf(await agent.get('/logout')).pathname).toBe('/session/end');
        await expectSignedIn(agent, false);
      } finally {
        await tp.proxy.up();
      }
    });
  });
});

describe('a logout from another site (logout CSRF)', () => {
  async function signedInAgent(): Promise<Agent> {
    const agent = request.agent(createTestApp(rpOptions(tp)).app);
    await login(agent, tp);
    return agent;
  }

  it.each<[string, 'GET' | 'POST', Record<string, string>]>([
    ['an <img> on another site', 'GET', { 'Sec-Fetch-Site': 'cross-site' }],
    ['a page on a sibling subdomain', 'GET', { 'Sec-Fetch-Site': 'same-site' }],
    ['a form on another origin, in an older browser that sends only Origin', 'POST', { Origin: 'https://evil.example' }],
    ['a sandboxed frame on another site', 'POST', { Origin: 'null', 'Sec-Fetch-Site': 'cross-site' }],
    ['a form on another origin', 'POST', { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' }],
    ['another port of the same host', 'POST', { Origin: 'http://127.0.0.1:3001' }],
  ])('%s → 403 logout_forbidden, nobody signed out, no redirect to the provider', async (_what, method, headers) => {
    const agent = await signedInAgent();
    const response = await (method === 'GET' ? agent.get('/logout') : agent.post('/logout')).set(headers);
    expectError(response, 'logout_forbidden', 403);
    expect(response.headers.location).toBeUndefined();
    await expectSignedIn(agent, true);
    expect(tp.count('/token/revocation')).toBe(0);
  });

  it.each<[string, 'GET' | 'POST', Record<string, string>]>([
    ['a link on the app’s own page', 'GET', { 'Sec-Fetch-Site': 'same-origin' }],
    ['a typed-in URL or bookmark', 'GET', { 'Sec-Fetch-Site': 'none' }],
    ['a form on the app’s own page', 'POST', { Origin: baseUrl, 'Sec-Fetch-Site': 'same-origin' }],
    ['a form on the app’s own page with Referrer-Policy: no-referrer (helmet’s default)', 'POST', { Origin: 'null', 'Sec-Fetch-Site': 'same-origin' }],
    ['a form in an older browser that sends only Origin', 'POST', { Origin: baseUrl }],
    ['curl or an old browser (neither header)', 'GET', {}],
  ])('%s → signed out', async (_what, method, headers) => {
    const agent = await signedInAgent();
    const response = await (method === 'GET' ? agent.get('/logout') : agent.post('/logout')).set(headers);
    expect(response.status).toBe(302);
    await expectSignedIn(agent, false);
  });
});
