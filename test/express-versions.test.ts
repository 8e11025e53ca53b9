/**
 * The core flow on Express 4 (4.21+, installed as `express4`) and Express 5:
 * login, callback, a protected route, refresh and logout. The rest of the
 * suite runs on Express 5.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express5 from 'express';
import express4 from 'express4';
import request from 'supertest';
import { ProviderBrowser } from './fixtures/browser.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { baseUrl, createTestApp, expectSignedIn, pathOf, redirectOf, rpOptions } from './support/rp-app.js';
import type { Agent } from './support/rp-app.js';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

function installedVersion(name: string): string {
  return (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
}

type Me = { refreshToken: string; accessToken: { value: string } };
const me = async (agent: Agent) => (await agent.get('/me')).body as Me;

describe.each([
  ['Express 4', express4, 'express4', /^4\.(?:2[1-9]|[3-9]\d)\./],
  ['Express 5', express5, 'express', /^5\./],
])('%s', (_name, framework, packageName, version) => {
  it(`is the version under test (${packageName})`, () => {
    expect(installedVersion(packageName)).toMatch(version);
    // the alias is a separate copy of Express, not the same module under another name
    expect(framework === express5).toBe(packageName === 'express');
  });

  it('login, callback, protected route, refresh and logout', async () => {
    const { app } = createTestApp(rpOptions(tp), undefined, undefined, framework);
    const agent = request.agent(app);
    const browser = new ProviderBrowser(tp.issuer);

    // a signed-out browser on a protected page is sent into the login, and comes back to it
    expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(401);
    const authorize = redirectOf(await agent.get('/profile').set('Accept', 'text/html'));
    expect(authorize.href.startsWith(`${tp.issuer}/auth?`)).toBe(true);
    // a 2-s access token, due for refresh after 1 s, so the protected route refreshes it
    tp.ttl.accessToken = 2;
    const callback = await browser.authorize(authorize);
    expect(redirectOf(await agent.get(pathOf(callback))).pathname).toBe('/profile');
    tp.ttl.accessToken = 3600;
    await expectSignedIn(agent, true);
    const before = await me(agent);

    // the protected route, with a refresh first
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const profile = await agent.get('/profile').set('Accept', 'application/json');
    expect(profile.status).toBe(200);
    expect(profile.body).toMatchObject({ sub: 'alice', name: 'Alice' });
    expect(tp.count('/token', 'POST')).toBe(2);
    expect((await me(agent)).accessToken.value).not.toBe(before.accessToken.value);

    // logout, also as a POST, and back from the provider
    const endSession = redirectOf(await agent.post('/logout'));
    expect(endSession.origin + endSession.pathname).toBe(`${tp.issuer}/session/end`);
    await expectSignedIn(agent, false);
    expect((await browser.logout(endSession)).href).toBe(`${baseUrl}/`);
    expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(401);
  });

  it('a bad callback reaches the error handler as a RelyingPartyError', async () => {
    const { app } = createTestApp(rpOptions(tp), undefined, undefined, framework);
    const response = await request(app).get('/callback?code=x&state=unknown');
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'state_unknown' });
  });
});
