/**
 * `clockTolerance`: the provider's clock may differ from ours by that many
 * seconds in the time checks of ID tokens and back-channel logout tokens.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { JWTPayload } from 'jose';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectError, expectSignedIn, login, redirectOf, rpOptions } from './support/rp-app.js';
import type { RelyingPartyOptions } from 'express-relying-party';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

const now = () => Math.floor(Date.now() / 1000);

/** A login whose ID token the provider's clock made expire `secondsAgo` ago. */
async function loginWithIdTokenExpired(secondsAgo: number, options: Partial<RelyingPartyOptions> = {}) {
  tp.proxy.setFault('/token', { kind: 'tamperIdToken', tamper: (claims) => ({ ...claims, iat: now() - 600, exp: now() - secondsAgo }) });
  const agent = request.agent(createTestApp(rpOptions(tp, options)).app);
  return { agent, response: await login(agent, tp) };
}

describe('clockTolerance and ID tokens', () => {
  it('by default (60 s), an ID token that expired 45 s ago by our clock is accepted', async () => {
    const { agent, response } = await loginWithIdTokenExpired(45);
    expect(redirectOf(response).pathname).toBe('/');
    await expectSignedIn(agent, true);
  });

  it('by default, one that expired 75 s ago is refused', async () => {
    const { agent, response } = await loginWithIdTokenExpired(75);
    expectError(response, 'id_token_invalid', 400);
    await expectSignedIn(agent, false);
  });

  it('clockTolerance: 30 refuses the one that expired 45 s ago', async () => {
    const { agent, response } = await loginWithIdTokenExpired(45, { clockTolerance: 30 });
    expectError(response, 'id_token_invalid', 400);
    await expectSignedIn(agent, false);
  });

  it('clockTolerance: 120 accepts the one that expired 75 s ago', async () => {
    const { response } = await loginWithIdTokenExpired(75, { clockTolerance: 120 });
    expect(redirectOf(response).pathname).toBe('/');
  });
});

describe('clockTolerance and back-channel logout tokens', () => {
  /** A logout token signed by the provider's key, issued `skew` seconds from now by the provider's clock. */
  function logoutToken(skew: number): Promise<string> {
    const claims: JWTPayload = {
      iss: tp.issuer,
      aud: tp.clientId,
      sub: 'alice',
      jti: randomUUID(),
      iat: now() + skew,
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    };
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: tp.signingKey.kid, typ: 'logout+jwt' }).sign(tp.signingKey.privateKey);
  }

  function post(options: Partial<RelyingPartyOptions>, token: string) {
    const { app } = createTestApp(rpOptions(tp, { ...options, routes: { backchannelLogout: '/backchannel-logout' } }));
    return request(app).post('/backchannel-logout').type('form').send({ logout_token: token });
  }

  it('by default, a token issued 45 s in our future (a provider clock ahead) is accepted', async () => {
    expect((await post({}, await logoutToken(45))).status).toBe(200);
  });

  it('by default, one issued 75 s in our future is refused', async () => {
    const response = await post({}, await logoutToken(75));
    expect(response.status).toBe(400);
    expect((response.body as { error_description: string }).error_description).toMatch(/iat/);
  });

  it('clockTolerance: 0 refuses the one issued 45 s ahead', async () => {
    expect((await post({ clockTolerance: 0 }, await logoutToken(45))).status).toBe(400);
  });
});
