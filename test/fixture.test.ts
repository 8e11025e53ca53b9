/**
 * Proves the test fixtures (provider, fault proxy, provider browser) work,
 * using openid-client directly, independent of the library under lib/.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from '@jest/globals';
import * as client from 'openid-client';
import { startTestProvider } from './fixtures/provider.js';
import type { Fault, TestProvider } from './fixtures/provider.js';
import { ProviderBrowser, followProvider } from './fixtures/browser.js';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});

afterEach(() => {
  tp.reset();
});

afterAll(async () => {
  await tp.close();
});

/** openid-client Configuration for the default client; `timeout` in seconds. */
function discover(timeout?: number): Promise<client.Configuration> {
  return client.discovery(
    new URL(tp.issuer),
    tp.clientId,
    tp.clientSecret,
    client.ClientSecretBasic(tp.clientSecret),
    { execute: [client.allowInsecureRequests], ...(timeout !== undefined && { timeout }) },
  );
}

interface Login {
  callbackUrl: URL;
  checks: client.AuthorizationCodeGrantChecks;
}

/** Build an authorization URL with PKCE, state and nonce and walk it at the provider. */
async function login(config: client.Configuration, browser = new ProviderBrowser(tp.issuer)): Promise<Login> {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const authorizeUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: tp.redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: expectedState,
    nonce: expectedNonce,
  });
  const callbackUrl = await browser.authorize(authorizeUrl);
  return { callbackUrl, checks: { pkceCodeVerifier, expectedState, expectedNonce } };
}

function redeem(config: client.Configuration, { callbackUrl, checks }: Login) {
  return client.authorizationCodeGrant(config, callbackUrl, checks);
}

/** Log in and redeem the code with `fault` set on the token endpoint. */
async function redeemWithTokenFault(fault: Fault, config?: client.Configuration) {
  const cfg = config ?? (await discover());
  const pending = await login(cfg);
  tp.proxy.setFault('/token', fault);
  return redeem(cfg, pending);
}

describe('test provider', () => {
  it('advertises end_session, revocation and RFC 9207 iss in discovery', async () => {
    const metadata = (await discover()).serverMetadata();

    expect(metadata.issuer).toBe(tp.issuer);
    expect(metadata.end_session_endpoint).toBe(`${tp.issuer}/session/end`);
    expect(metadata.revocation_endpoint).toBe(`${tp.issuer}/token/revocation`);
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(tp.count('/.well-known/openid-configuration')).toBe(1);
  });

  it('completes login and consent by script and issues ID token claims and a refresh token', async () => {
    const config = await discover();
    const pending = await login(config);

    expect(pending.callbackUrl.origin + pending.callbackUrl.pathname).toBe(tp.redirectUri);
    expect(pending.callbackUrl.searchParams.get('iss')).toBe(tp.issuer);
    expect(tp.interactions.map((i) => i.prompt)).toEqual(['login', 'consent']);

    const tokens = await redeem(config, pending);

    expect(tokens.claims()).toMatchObject({
      iss: tp.issuer,
      aud: tp.clientId,
      sub: 'alice',
      name: 'Alice',
      email: 'alice@example.test',
      email_verified: true,
    });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.expiresIn()).toBeGreaterThan(3500);
    expect(tp.count('/token', 'POST')).toBe(1);
  });

  it('refreshes, serves userinfo and revokes through the proxy', async () => {
    const config = await discover();
    const { refresh_token: refreshToken = '' } = await redeem(config, await login(config));

    const refreshed = await client.refreshTokenGrant(config, refreshToken);
    const userinfo = await client.fetchUserInfo(config, refreshed.access_token, 'alice');
    await client.tokenRevocation(config, refreshed.access_token);

    expect(userinfo).toMatchObject({ sub: 'alice', name: 'Alice' });
    expect(tp.count('/token', 'POST')).toBe(2);
    expect(tp.count('/token/revocation', 'POST')).toBe(1);
    await expect(client.fetchUserInfo(config, refreshed.access_token, 'alice')).rejects.toThrow();
  });

  it('reuses the provider session in the same browser', async () => {
    const config = await discover();
    const browser = new ProviderBrowser(tp.issuer);
    await redeem(config, await login(config, browser));

    const second = await login(config, browser);

    expect(second.callbackUrl.searchParams.has('code')).toBe(true);
    expect(tp.interactions).toHaveLength(2); // only the first login's login + consent
  });

  it('logs in whoever the script says, with the TTLs it is given', async () => {
    tp.nextInteraction = { accountId: 'bob' };
    tp.ttl.accessToken = 5;
    const config = await discover();

    const tokens = await redeem(config, await login(config));

    expect(tokens.claims()).toMatchObject({ sub: 'bob', name: 'Bob' });
    expect(tokens.expiresIn()).toBeLessThanOrEqual(5);
  });

  it.each([
    ['at the first prompt', { deny: true } as const],
    ['at consent', { accountId: 'alice', consent: false }],
  ])('redirects with error=access_denied when the user denies %s', async (_when, script) => {
    tp.nextInteraction = script;
    const { callbackUrl } = await login(await discover());

    expect(callbackUrl.searchParams.get('error')).toBe('access_denied');
    expect(callbackUrl.searchParams.get('iss')).toBe(tp.issuer);
  });

  it('ends the provider session through the logout form and returns to post_logout_redirect_uri', async () => {
    const config = await discover();
    const browser = new ProviderBrowser(tp.issuer);
    const tokens = await redeem(config, await login(config, browser));

    const landed = await browser.logout(client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token ?? '',
      post_logout_redirect_uri: tp.postLogoutRedirectUri,
    }));

    expect(landed.href).toBe(tp.postLogoutRedirectUri);
    expect(browser.cookieNames()).not.toContain('_session');
  });

  it('followProvider is a fresh browser each time', async () => {
    const config = await discover();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: tp.redirectUri,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });

    await followProvider(url, tp);
    await followProvider(url, tp);

    expect(tp.interactions.map((i) => i.prompt)).toEqual(['login', 'consent', 'login', 'consent']);
  });
});

describe('fault proxy', () => {
  it('answers the token endpoint with an injected 500', async () => {
    await expect(redeemWithTokenFault({ kind: 'status', status: 500 })).rejects.toThrow();
    expect(tp.requests.at(-1)).toEqual({ method: 'POST', path: '/token', search: '', headers: expect.any(Object), form: expect.any(URLSearchParams), fault: 'status' });
    // the form was recorded, the injected answer kept it from the provider
    expect(tp.requests.at(-1)?.form?.get('grant_type')).toBe('authorization_code');
    expect(tp.requests.at(-1)?.status).toBeUndefined();
  });

  it('re-signs a tampered ID token with the provider key: only the claim is wrong', async () => {
    const tampered = redeemWithTokenFault({
      kind: 'tamperIdToken',
      tamper: (claims) => ({ ...claims, nonce: 'not-the-nonce' }),
    });

    await expect(tampered).rejects.toMatchObject({ code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' });
  });

  describe('when an ID token is re-signed with a foreign key', () => {
    const foreign: Fault = { kind: 'tamperIdToken', tamper: (claims) => claims, resign: 'foreign-key' };

    it('is rejected when openid-client checks the signature (enableNonRepudiationChecks)', async () => {
      const config = await discover();
      client.enableNonRepudiationChecks(config);

      // openid-client wraps it: generic message, the reason is in `cause`
      await expect(redeemWithTokenFault(foreign, config)).rejects.toMatchObject({
        code: 'OAUTH_INVALID_RESPONSE',
        cause: { message: 'JWT signature verification failed' },
      });
      expect(tp.count('/jwks')).toBe(1);
    });

    it('is accepted by default: openid-client trusts the TLS-protected token endpoint', async () => {
      await expect(redeemWithTokenFault(foreign)).resolves.toMatchObject({ token_type: 'bearer' });
    });
  });

  it('hangs until the client times out', async () => {
    const started = Date.now();

    await expect(redeemWithTokenFault({ kind: 'hang' }, await discover(0.3))).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('delays forwarding', async () => {
    tp.proxy.setFault('/.well-known/openid-configuration', { kind: 'delay', ms: 200 });
    const started = Date.now();

    await discover();

    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it.each<[string, Fault]>([
    ['503', { kind: 'status', status: 503 }],
    ['garbage', { kind: 'garbage' }],
    ['an oversized body', { kind: 'oversize', bytes: 5 * 1024 * 1024 }],
    ['a reset', { kind: 'reset' }],
  ])('fails discovery with %s', async (_name, fault) => {
    tp.proxy.setFault('/.well-known/openid-configuration', fault);

    await expect(discover()).rejects.toThrow();
  });

  it('applies a fault only `times` times', async () => {
    tp.proxy.setFault('/.well-known/openid-configuration', { kind: 'status', status: 500 }, { times: 1 });

    await expect(discover()).rejects.toThrow();
    await expect(discover()).resolves.toBeDefined();
    expect(tp.requests.map((r) => r.fault)).toEqual(['status', undefined]);
  });

  it('refuses connections while down and serves again after up', async () => {
    await tp.proxy.down();
    await expect(discover()).rejects.toThrow();

    await tp.proxy.up();
    await expect(discover()).resolves.toBeDefined();
  });
});
