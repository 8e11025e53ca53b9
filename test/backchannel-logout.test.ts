import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair } from 'jose';
import type { JWTPayload } from 'jose';
import request from 'supertest';
import { ProviderBrowser } from './fixtures/browser.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectSignedIn, pathOf, redirectOf, rpOptions } from './support/rp-app.js';
import type { Agent, TestApp } from './support/rp-app.js';
import { logoutToken as signedLogoutToken } from './support/logout-token.js';

// the provider delivers logout tokens to this server, which serves the same app the tests drive
const appServer = http.createServer();
let tp: TestProvider;
let rp: TestApp;

beforeAll(async () => {
  await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
  const { port } = appServer.address() as AddressInfo;
  tp = await startTestProvider({ backchannelLogoutUri: `http://127.0.0.1:${port}/backchannel-logout` });
  rp = createTestApp(rpOptions(tp, { routes: { backchannelLogout: '/backchannel-logout' } }));
  appServer.on('request', rp.app);
});
afterAll(async () => {
  await tp.close();
  await new Promise((resolve) => appServer.close(resolve));
});
beforeEach(() => tp.reset());

type Claims = { sub: string; sid: string };

/** Signs in a new browser as `accountId` and returns it with its ID token claims. */
async function signIn(accountId: string): Promise<{ agent: Agent; browser: ProviderBrowser; claims: Claims }> {
  tp.nextInteraction = { accountId };
  const agent = request.agent(rp.app);
  const browser = new ProviderBrowser(tp.issuer);
  const callback = await browser.authorize(redirectOf(await agent.get('/login')));
  await agent.get(pathOf(callback));
  const claims = ((await agent.get('/me')).body as { user: Claims }).user;
  expect(claims.sid).toEqual(expect.any(String));
  return { agent, browser, claims };
}

const logoutToken = (claims: JWTPayload, options: { key?: CryptoKey } = {}) => signedLogoutToken(tp, claims, options.key);

const post = (token: string) => request(rp.app).post('/backchannel-logout').type('form').send({ logout_token: token });

describe('back-channel logout', () => {
  it('the provider ending its session signs out that browser, and leaves other users alone', async () => {
    const alice = await signIn('alice');
    const bob = await signIn('bob');
    // another app logs the user out at the provider: the provider notifies us over the back channel
    const endSession = new URL(`${tp.issuer}/session/end`);
    endSession.searchParams.set('client_id', tp.clientId);
    await alice.browser.logout(endSession);
    await expectSignedIn(alice.agent, false);
    await expectSignedIn(bob.agent, true);
  });

  it('a token naming a sid ends that session only', async () => {
    const first = await signIn('carol');
    const second = await signIn('carol');
    expect((await post(await logoutToken({ sid: first.claims.sid }))).status).toBe(200);
    await expectSignedIn(first.agent, false);
    await expectSignedIn(second.agent, true);
  });

  it('a token with only sub ends every session of that user', async () => {
    const first = await signIn('dave');
    const second = await signIn('dave');
    const other = await signIn('erin');
    expect((await post(await logoutToken({ sub: 'dave' }))).status).toBe(200);
    await expectSignedIn(first.agent, false);
    await expectSignedIn(second.agent, false);
    await expectSignedIn(other.agent, true);
  });

  describe('refuses with 400 and changes nothing', () => {
    it.each<[string, () => Promise<string>]>([
      ['a malformed token', async () => 'not.a.jwt'],
      ['a token signed by another key', async () => logoutToken({ sub: 'frank' }, { key: (await generateKeyPair('RS256')).privateKey })],
      ['a token for another client', () => logoutToken({ sub: 'frank', aud: 'another-client' })],
      ['a token from another issuer', () => logoutToken({ sub: 'frank', iss: 'https://evil.example' })],
      ['a token without the logout event', () => logoutToken({ sub: 'frank', events: {} })],
      ['a token whose logout event is an array', () => logoutToken({ sub: 'frank', events: { 'http://schemas.openid.net/event/backchannel-logout': [] } })],
      ['a token whose logout event is a string', () => logoutToken({ sub: 'frank', events: { 'http://schemas.openid.net/event/backchannel-logout': 'yes' } })],
      ['a token whose events claim is an array', () => logoutToken({ sub: 'frank', events: ['http://schemas.openid.net/event/backchannel-logout'] })],
      ['a token with a nonce', () => logoutToken({ sub: 'frank', nonce: 'n' })],
      ['a token with neither sid nor sub', () => logoutToken({})],
      ['a token without jti', () => logoutToken({ sub: 'frank', jti: undefined })],
      ['an old token', () => logoutToken({ sub: 'frank', iat: Math.floor(Date.now() / 1000) - 3600 })],
    ])('%s', async (_name, makeToken) => {
      const frank = await signIn('frank');
      const token = await makeToken();
      const response = await post(token);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ error: 'invalid_request' });
      expect(response.headers['cache-control']).toBe('no-store');
      await expectSignedIn(frank.agent, true);
    });

    it('a replayed token', async () => {
      const gina = await signIn('gina');
      const token = await logoutToken({ sid: gina.claims.sid });
      expect((await post(token)).status).toBe(200);
      expect((await post(token)).status).toBe(400);
    });

    it('a request without a logout_token', async () => {
      expect((await request(rp.app).post('/backchannel-logout').type('form').send({ other: 'x' })).status).toBe(400);
      expect((await request(rp.app).post('/backchannel-logout').type('json').send({ logout_token: 'x' })).status).toBe(400);
    });
  });
});
