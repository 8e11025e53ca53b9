import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { authorizeAtProvider, baseUrl, createTestApp, expectSignedIn, pathOf, redirectOf, rpOptions, startLogin, storedSessions } from './support/rp-app.js';
import type { TestApp } from './support/rp-app.js';

let tp: TestProvider;
let rp: TestApp;

beforeAll(async () => {
  tp = await startTestProvider();
  rp = createTestApp(rpOptions(tp, { authorizationParams: { prompt: 'consent', ui_locales: 'en' } }));
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());


describe('GET /login', () => {
  it('redirects to the authorize endpoint with code flow, PKCE S256, state and nonce', async () => {
    const response = await request.agent(rp.app).get('/login');
    const url = redirectOf(response);
    expect(url.origin + url.pathname).toBe(`${tp.issuer}/auth`);
    const p = url.searchParams;
    expect(Object.fromEntries([...p.keys()].map((k) => [k, p.getAll(k).length]))).toEqual({
      client_id: 1, redirect_uri: 1, response_type: 1, scope: 1, state: 1, nonce: 1, code_challenge: 1, code_challenge_method: 1, prompt: 1, ui_locales: 1,
    });
    expect(p.get('client_id')).toBe(tp.clientId);
    expect(p.get('redirect_uri')).toBe(`${baseUrl}/callback`);
    expect(p.get('response_type')).toBe('code');
    expect(p.get('scope')).toBe('openid profile email');
    expect(p.get('code_challenge_method')).toBe('S256');
    expect(p.get('prompt')).toBe('consent');
    // >= 128 bits: 43 base64url characters are 256 bits
    for (const name of ['state', 'nonce', 'code_challenge']) expect(p.get(name)).toMatch(/^[\w-]{43,}$/);
    expect(p.get('state')).not.toBe(p.get('nonce'));
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['set-cookie']).toBeDefined();
  });

  it('uses fresh values for every login', async () => {
    const agent = request.agent(rp.app);
    const first = await startLogin(agent);
    const second = await startLogin(agent);
    for (const name of ['state', 'nonce', 'code_challenge']) {
      expect(first.searchParams.get(name)).not.toBe(second.searchParams.get(name));
    }
  });

  it('passes no request parameter to the provider', async () => {
    const hostile = new URLSearchParams({
      redirect_uri: 'https://evil.example/cb',
      scope: 'openid admin',
      response_type: 'token',
      prompt: 'none',
      client_id: 'other',
      state: 'chosen',
      code_challenge_method: 'plain',
    });
    const url = await startLogin(request.agent(rp.app), `/login?${hostile}`);
    expect(url.searchParams.get('redirect_uri')).toBe(`${baseUrl}/callback`);
    expect(url.searchParams.get('scope')).toBe('openid profile email');
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('prompt')).toBe('consent');
    expect(url.searchParams.get('client_id')).toBe(tp.clientId);
    expect(url.searchParams.get('state')).not.toBe('chosen');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.getAll('redirect_uri')).toHaveLength(1);
  });

  it('keeps only a bounded number of pending logins per session', async () => {
    const agent = request.agent(rp.app);
    rp.store.clear?.();
    const urls: URL[] = [];
    for (let i = 0; i < 30; i++) urls.push(await startLogin(agent));
    const [stored] = await storedSessions(rp.store);
    const logins = stored?.relyingParty?.logins;
    expect(Object.keys(logins ?? {})).toHaveLength(5);
    // the newest survive: the last login can still complete, the first cannot
    const last = urls.at(-1);
    const first = urls[0];
    if (!last || !first) throw new Error('no logins');
    expect(Object.keys(logins ?? {})).toContain(last.searchParams.get('state'));
    expect(Object.keys(logins ?? {})).not.toContain(first.searchParams.get('state'));
    expect(JSON.stringify(stored).length).toBeLessThan(2000);
  });
});

describe('returnTo', () => {
  async function landingAfterLogin(returnTo: string): Promise<string> {
    const agent = request.agent(rp.app);
    const callback = await authorizeAtProvider(tp, await startLogin(agent, `/login?returnTo=${encodeURIComponent(returnTo)}`));
    const response = await agent.get(pathOf(callback));
    expect(response.status).toBe(302);
    await expectSignedIn(agent, true);
    return String(response.headers.location);
  }

  it('comes back to a same-origin path', async () => {
    expect(await landingAfterLogin('/orders/7?tab=items')).toBe('/orders/7?tab=items');
  });

  it.each(['https://evil.example/', '//evil.example', '/\\evil.example', '/%2F%2Fevil.example', 'javascript:alert(1)', '/\t/evil.example'])(
    'goes to / instead of %j',
    async (returnTo) => {
      expect(await landingAfterLogin(returnTo)).toBe('/');
    },
  );
});

describe('several tabs', () => {
  it('completes two logins started in the same session, in either order', async () => {
    const agent = request.agent(rp.app);
    const tabA = await startLogin(agent, '/login?returnTo=/a');
    const tabB = await startLogin(agent, '/login?returnTo=/b');
    const callbackB = await authorizeAtProvider(tp, tabB);
    const callbackA = await authorizeAtProvider(tp, tabA);
    expect(redirectOf(await agent.get(pathOf(callbackB))).pathname).toBe('/b');
    expect(redirectOf(await agent.get(pathOf(callbackA))).pathname).toBe('/a');
    await expectSignedIn(agent, true);
  });
});

describe('routes option', () => {
  it('mounts the routes at the configured paths and leaves a disabled route to the app', async () => {
    const custom = createTestApp(rpOptions(tp, { routes: { login: '/auth/start', logout: false } }));
    expect(redirectOf(await request(custom.app).get('/auth/start')).pathname).toBe('/auth');
    expect((await request(custom.app).get('/login')).status).toBe(404);
    expect((await request(custom.app).get('/logout')).status).toBe(404);
  });
});
