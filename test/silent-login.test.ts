/**
 * silentLogin: the first page load of a signed-out session tries
 * `prompt=none` once. A user signed in at the provider comes back signed
 * in; anyone else comes back to the same page, quietly signed out. Never
 * for API requests, never twice in a session, never right after a logout.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { ProviderBrowser } from './fixtures/browser.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectSignedIn, login, pathOf, redirectOf, rpOptions } from './support/rp-app.js';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

const html = 'text/html';
const app = () => createTestApp(rpOptions(tp, { silentLogin: true })).app;

describe('silentLogin option', () => {
  it('signs in a user who is signed in at the provider, on the first page load, and comes back to that page', async () => {
    const browser = new ProviderBrowser(tp.issuer);
    // an earlier sign-in left a session (and the consent) at the provider
    await login(request.agent(app()), tp, '/login', browser);
    const agent = request.agent(app());
    const authorize = redirectOf(await agent.get('/public?tab=news').set('Accept', html));
    expect(authorize.searchParams.get('prompt')).toBe('none');
    const callback = await browser.authorize(authorize);
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    expect(redirectOf(await agent.get(pathOf(callback))).href).toBe(new URL('/public?tab=news', authorize.searchParams.get('redirect_uri') ?? '').href);
    await expectSignedIn(agent, true);
  });

  it.each(['login_required', 'consent_required', 'interaction_required', 'account_selection_required'])(
    'a provider answering %s leaves the user signed out, back on the page, without an error, and is not tried again',
    async (error) => {
      const agent = request.agent(app());
      const authorize = redirectOf(await agent.get('/public').set('Accept', html));
      expect(authorize.searchParams.get('prompt')).toBe('none');
      const callback = new URL(authorize.searchParams.get('redirect_uri') ?? '');
      callback.search = new URLSearchParams({ error, state: authorize.searchParams.get('state') ?? '', iss: tp.issuer }).toString();
      expect(redirectOf(await agent.get(pathOf(callback))).pathname).toBe('/public');
      // once per session: the page now loads
      const page = await agent.get('/public').set('Accept', html);
      expect(page.status).toBe(200);
      await expectSignedIn(agent, false);
    },
  );

  it('a real provider session-less browser: login_required from the provider, back on the page', async () => {
    const agent = request.agent(app());
    const callback = await new ProviderBrowser(tp.issuer).authorize(redirectOf(await agent.get('/public').set('Accept', html)));
    expect(callback.searchParams.get('error')).toBe('login_required');
    expect(redirectOf(await agent.get(pathOf(callback))).pathname).toBe('/public');
    expect((await agent.get('/public').set('Accept', html)).status).toBe(200);
  });

  it('other errors of a silent login are errors as usual', async () => {
    const agent = request.agent(app());
    const authorize = redirectOf(await agent.get('/public').set('Accept', html));
    const callback = new URL(authorize.searchParams.get('redirect_uri') ?? '');
    callback.search = new URLSearchParams({ error: 'server_error', state: authorize.searchParams.get('state') ?? '', iss: tp.issuer }).toString();
    expect((await agent.get(pathOf(callback))).status).toBe(502);
  });

  it('is never tried for API requests, HEAD, iframes or images, or when off', async () => {
    expect((await request(app()).get('/public').set('Accept', 'application/json')).status).toBe(200);
    expect((await request(app()).head('/public').set('Accept', html)).status).toBe(200);
    expect((await request(app()).get('/public').set({ Accept: html, 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'iframe' })).status).toBe(200);
    expect((await request(app()).get('/public').set({ Accept: html, 'Sec-Fetch-Mode': 'no-cors' })).status).toBe(200);
    expect((await request(createTestApp(rpOptions(tp)).app).get('/public').set('Accept', html)).status).toBe(200);
  });

  it('does not sign a user straight back in after logout', async () => {
    const agent = request.agent(app());
    const browser = new ProviderBrowser(tp.issuer);
    await login(agent, tp, '/login', browser);
    await agent.get('/logout');
    expect((await agent.get('/public').set('Accept', html)).status).toBe(200);
    await expectSignedIn(agent, false);
  });
});
