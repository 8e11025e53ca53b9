/**
 * Client authentication at the token endpoint. `client_secret_basic` sends
 * the client id and secret form-encoded (RFC 6749 §2.3.1), which leaves
 * `-._*` as they are: providers that do not decode the credentials
 * (LemonLDAP::NG, Glewlwyd) then still find the client. The test provider
 * decodes them, so the raw header is checked at the proxy as well.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { formEncode } from '../lib/client-auth.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { baseUrl, createTestApp, expectError, expectSignedIn, login, redirectOf, rpOptions } from './support/rp-app.js';

// every character openid-client would percent-encode but form encoding leaves alone or encodes differently
const clientId = "rp-1_x.y!z~*'()";
const clientSecret = "s3cret -._~!*'()+/:=&%";
// written out by hand from the application/x-www-form-urlencoded rules, not computed
const encodedId = 'rp-1_x.y%21z%7E*%27%28%29';
const encodedSecret = 's3cret+-._%7E%21*%27%28%29%2B%2F%3A%3D%26%25';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider({
    extraClients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [`${baseUrl}/callback`],
        post_logout_redirect_uris: [`${baseUrl}/`],
      },
    ],
  });
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

/** The Basic credentials of every request to `path` that reached the provider, base64-decoded. */
function basicCredentials(path: string): string[] {
  return tp.requests
    .filter((r) => r.path === path)
    .map((r) => {
      const header = r.headers.authorization ?? '';
      expect(header).toMatch(/^Basic [A-Za-z0-9+/]+=*$/);
      return Buffer.from(header.slice('Basic '.length), 'base64').toString('latin1');
    });
}

describe('formEncode', () => {
  it('encodes as application/x-www-form-urlencoded does', () => {
    expect(formEncode(clientId)).toBe(encodedId);
    expect(formEncode(clientSecret)).toBe(encodedSecret);
    expect(formEncode('interop-rp')).toBe('interop-rp');
    expect(formEncode('AZaz09')).toBe('AZaz09');
    expect(formEncode('é')).toBe('%C3%A9');
  });
});

describe('client_secret_basic (the default)', () => {
  it('signs in a client whose id and secret hold -_.!~*\'() and form-encodes them in the raw header', async () => {
    const { app } = createTestApp(rpOptions(tp, { clientId, clientSecret }));
    const agent = request.agent(app);
    expect(redirectOf(await login(agent, tp)).pathname).toBe('/');
    await expectSignedIn(agent, true);
    expect(basicCredentials('/token')).toEqual([`${encodedId}:${encodedSecret}`]);
  });

  it('sends the same credentials to the revocation endpoint at logout', async () => {
    const { app } = createTestApp(rpOptions(tp, { clientId, clientSecret }));
    const agent = request.agent(app);
    await login(agent, tp);
    tp.proxy.clearRequests();
    await agent.get('/logout');
    expect(basicCredentials('/token/revocation')).toEqual([`${encodedId}:${encodedSecret}`, `${encodedId}:${encodedSecret}`]);
  });

  it('a wrong secret is still refused: client_authentication_failed', async () => {
    const { app } = createTestApp(rpOptions(tp, { clientId, clientSecret: `${clientSecret}x` }));
    const agent = request.agent(app);
    expectError(await login(agent, tp), 'client_authentication_failed', 500);
    await expectSignedIn(agent, false);
  });
});

describe('a token endpoint that answers unauthorized_client', () => {
  it.each([
    [400, 'as RFC 6749 says'],
    [403, 'as Glewlwyd does for credentials it cannot match'],
  ])('%d (%s) → client_authentication_failed with a hint about the credentials and clientAuthMethod', async (status) => {
    const { app } = createTestApp(rpOptions(tp));
    const agent = request.agent(app);
    tp.proxy.setFault('/token', {
      kind: 'status',
      status,
      body: JSON.stringify({ error: 'unauthorized_client', error_description: 'client not authorized' }),
      contentType: 'application/json',
    });
    const response = await login(agent, tp);
    expectError(response, 'client_authentication_failed', 500);
    expect((response.body as { message: string }).message).toMatch(/\(unauthorized_client\)\. Check clientId and clientSecret, and that clientAuthMethod/);
    await expectSignedIn(agent, false);
  });
});
