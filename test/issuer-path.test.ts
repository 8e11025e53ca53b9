/**
 * Providers whose issuer has a path (tenant or workspace URLs such as
 * `https://login.example.com/tenant/workspace`): the discovery document is
 * at `<issuer>/.well-known/openid-configuration`, every endpoint lives
 * under the path, and the ID token's `iss` carries it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { ProviderBrowser } from './fixtures/browser.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { baseUrl, createTestApp, expectError, expectSignedIn, pathOf, redirectOf, rpOptions } from './support/rp-app.js';
import type { Agent } from './support/rp-app.js';

const tenant = '/tenant/workspace';
let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider({ issuerPath: tenant });
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

type Me = { user: { iss: string; sub: string }; idToken: string; refreshToken: string; accessToken: { value: string } };
const me = async (agent: Agent) => (await agent.get('/me')).body as Me;

describe('an issuer with a path', () => {
  it('logs in, refreshes and logs out, every request under the path', async () => {
    expect(tp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/tenant\/workspace$/);
    const { app } = createTestApp(rpOptions(tp));
    const agent = request.agent(app);
    const browser = new ProviderBrowser(tp.issuer);

    // login
    const authorize = redirectOf(await agent.get('/login'));
    expect(authorize.href.startsWith(`${tp.issuer}/auth?`)).toBe(true);
    // a 2-s access token, due for refresh after 1 s, so a protected route refreshes it
    tp.ttl.accessToken = 2;
    const callback = await browser.authorize(authorize);
    expect(redirectOf(await agent.get(pathOf(callback))).pathname).toBe('/');
    tp.ttl.accessToken = 3600;
    const signedIn = await me(agent);
    expect(signedIn.user).toMatchObject({ iss: tp.issuer, sub: 'alice' });
    expect(tp.count(`${tenant}/.well-known/openid-configuration`)).toBe(1);
    expect(tp.count(`${tenant}/token`, 'POST')).toBe(1);
    expect(tp.count(`${tenant}/jwks`)).toBe(1);

    // refresh
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(200);
    expect(tp.count(`${tenant}/token`, 'POST')).toBe(2);
    const refreshed = await me(agent);
    expect(refreshed.accessToken.value).not.toBe(signedIn.accessToken.value);
    expect(refreshed.refreshToken).not.toBe(signedIn.refreshToken);

    // logout: end_session under the path, and the provider sends the browser back
    const endSession = redirectOf(await agent.get('/logout'));
    expect(endSession.origin + endSession.pathname).toBe(`${tp.issuer}/session/end`);
    expect(endSession.searchParams.get('id_token_hint')).toBe(refreshed.idToken);
    await expectSignedIn(agent, false);
    expect((await browser.logout(endSession)).href).toBe(`${baseUrl}/`);

    // nothing was requested outside the path
    expect(tp.requests.filter((r) => !r.path.startsWith(`${tenant}/`))).toEqual([]);
  });

  it('configured without its path: provider_misconfigured, naming the discovery URL tried and what issuer must be', async () => {
    const origin = new URL(tp.issuer).origin;
    const { app } = createTestApp(rpOptions(tp, { issuer: origin }));
    const response = await request.agent(app).get('/login');
    expectError(response, 'provider_misconfigured', 502);
    const { message } = response.body as { message: string };
    expect(message).toContain(`${origin}/.well-known/openid-configuration answered HTTP 404`);
    expect(message).toMatch(/`issuer` must be the provider's issuer URL/);
  });
});
