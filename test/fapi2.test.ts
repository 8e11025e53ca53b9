/**
 * The FAPI 2.0 client against oidc-provider with its FAPI 2.0 profile on:
 * pushed authorization requests required, private_key_jwt, DPoP-bound
 * tokens, PS256/ES256/EdDSA only. Login, refresh, userinfo, revocation,
 * logout and `req.auth.fetch()` to the demo API work, and what breaks the
 * profile is refused by the provider (and the API) itself.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import request from 'supertest';
import type { RelyingPartyOptions } from 'express-relying-party';
import { startTestProvider } from './fixtures/provider.js';
import type { ProxiedRequest, TestProvider } from './fixtures/provider.js';
import { decoded, privateKeyJwtClient, proofOf, serveDpopApi, testKey, thumbprint } from './support/fapi.js';
import type { TestKey } from './support/fapi.js';
import { ProviderBrowser } from './fixtures/browser.js';
import {
  authorizeAtProvider,
  baseUrl,
  createTestApp,
  expectError,
  expectSignedIn,
  login,
  pathOf,
  redirectOf,
  rpOptions,
  startLogin,
  storedSessions,
} from './support/rp-app.js';
import type { Agent } from './support/rp-app.js';

const API_AUDIENCE = 'https://api.bank.example/accounts';

let tp: TestProvider;
let clientKey: TestKey;
let ecKey: TestKey;
let edKey: TestKey;
let dpopKey: TestKey;
let impostor: TestKey;
let discovery: Record<string, unknown>;

beforeAll(async () => {
  [clientKey, ecKey, edKey, dpopKey] = await Promise.all([testKey('PS256', 'fapi-key'), testKey('ES256', 'fapi-ec'), testKey('EdDSA', 'fapi-ed'), testKey('ES256', 'dpop')]);
  // another key under the client's kid
  impostor = await testKey('PS256', 'fapi-key');
  const bound = { dpop_bound_access_tokens: true, id_token_signed_response_alg: 'PS256' };
  tp = await startTestProvider({
    profile: 'fapi2',
    apiAudience: API_AUDIENCE,
    extraClients: [
      privateKeyJwtClient('fapi-app', [clientKey, ecKey, edKey], bound),
      privateKeyJwtClient('fapi-jar', [clientKey], { ...bound, require_signed_request_object: true }),
    ],
  });
  discovery = (await (await fetch(`${tp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

/** A FAPI 2.0 client of `fapi-app`, `overrides` on top. */
function fapiOptions(overrides: Partial<RelyingPartyOptions> = {}): RelyingPartyOptions {
  return rpOptions(tp, {
    clientId: 'fapi-app',
    clientSecret: undefined,
    clientAuthMethod: 'private_key_jwt',
    clientPrivateKey: clientKey.jwk,
    dpop: true,
    dpopKey: dpopKey.jwk,
    profile: 'fapi2',
    ...overrides,
  });
}

function agentFor(options: RelyingPartyOptions) {
  const testApp = createTestApp(options);
  return { agent: request.agent(testApp.app), store: testApp.store };
}

interface Me {
  isAuthenticated: boolean;
  refreshToken?: string;
  accessToken?: { value: string; type: string };
}
const me = async (agent: Agent) => (await agent.get('/me')).body as Me;

/** The requests to `path` that reached the provider. */
const requestsTo = (path: string): ProxiedRequest[] => tp.requests.filter((r) => r.path === path);

function only(path: string): ProxiedRequest {
  const found = requestsTo(path);
  expect(found).toHaveLength(1);
  return found[0] as ProxiedRequest;
}

/** Asserts a client assertion for `fapi-app`: signed `alg` under `kid`, for the issuer. */
function expectClientAssertion(form: URLSearchParams | undefined, kid = 'fapi-key', alg = 'PS256'): void {
  expect(form?.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  expect(form?.has('client_secret')).toBe(false);
  const assertion = decoded(form?.get('client_assertion') ?? undefined);
  expect(assertion.header).toMatchObject({ alg, kid });
  expect(assertion.claims).toMatchObject({ iss: 'fapi-app', sub: 'fapi-app', aud: tp.issuer });
}

/** Asserts a DPoP proof of `dpopKey` for this request (and this access token, when given). */
async function expectProof(record: ProxiedRequest, accessToken?: string): Promise<void> {
  const proof = proofOf(record);
  expect(proof.header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' });
  expect(proof.claims).toMatchObject({ htm: record.method, htu: `${tp.issuer}${record.path}` });
  expect(proof.header.jwk).toEqual(Object.fromEntries(Object.entries(dpopKey.publicJwk).filter(([name]) => ['kty', 'crv', 'x', 'y'].includes(name))));
  if (accessToken !== undefined) {
    // ath: the base64url SHA-256 of the access token (the same hash as a PKCE S256 challenge)
    expect(proof.claims.ath).toBe(await client.calculatePKCECodeChallenge(accessToken));
  }
}

/** openid-client as a third party holding `key` (or no key): to replay tokens taken from the app. */
async function outsider(key?: TestKey): Promise<{ configuration: client.Configuration; options: client.DPoPOptions | undefined }> {
  const configuration = await client.discovery(new URL(tp.issuer), 'fapi-app', { id_token_signed_response_alg: 'PS256' }, client.None(), { execute: [client.allowInsecureRequests] });
  if (key === undefined) return { configuration, options: undefined };
  const keyPair = { privateKey: await key.cryptoKey(), publicKey: await crypto.subtle.importKey('jwk', key.publicJwk, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']) };
  return { configuration, options: { DPoP: client.getDPoPHandle(configuration, keyPair) } };
}

/** What the provider's userinfo endpoint says to `accessToken` presented by `key` (or as a bearer token). */
async function userinfoStatus(accessToken: string, key?: TestKey): Promise<number | 'ok'> {
  const { configuration, options } = await outsider(key);
  try {
    await client.fetchUserInfo(configuration, accessToken, client.skipSubjectCheck, options);
    return 'ok';
  } catch (err) {
    if (err instanceof client.WWWAuthenticateChallengeError || err instanceof client.ResponseBodyError) return err.status;
    throw err;
  }
}

describe('a FAPI 2.0 sign-in (PAR, private_key_jwt, DPoP)', () => {
  it('sends only client_id and request_uri through the browser; the pushed request carries the client assertion, dpop_jkt and a DPoP proof', async () => {
    const { agent } = agentFor(fapiOptions());
    const authorizeUrl = await startLogin(agent);
    expect([...authorizeUrl.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(authorizeUrl.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);

    const pushed = only('/request');
    expect(pushed.status).toBe(201);
    expectClientAssertion(pushed.form);
    expect(pushed.form?.get('dpop_jkt')).toBe(await thumbprint(dpopKey));
    expect(pushed.form?.get('code_challenge_method')).toBe('S256');
    expect(pushed.form?.get('redirect_uri')).toBe(`${baseUrl}/callback`);
    await expectProof(pushed);

    const callback = await authorizeAtProvider(tp, authorizeUrl);
    expect(callback.searchParams.get('iss')).toBe(tp.issuer);
    expect(redirectOf(await agent.get(pathOf(callback))).pathname).toBe('/');

    const token = only('/token');
    expect(token.status).toBe(200);
    expectClientAssertion(token.form);
    expect(token.form?.get('grant_type')).toBe('authorization_code');
    await expectProof(token);
  });

  it('ends with a DPoP-bound access token, its key thumbprint, and a record of the pushed request', async () => {
    const app = createTestApp(fapiOptions(), undefined, (app) => {
      app.get('/binding', (req, res) => {
        res.json({ type: req.auth.accessToken?.type, jkt: req.auth.accessToken?.jkt, request: req.auth.authorizationRequest });
      });
    });
    const agent = request.agent(app.app);
    await login(agent, tp);
    expect((await agent.get('/binding')).body).toEqual({ type: 'DPoP', jkt: await thumbprint(dpopKey), request: { pushed: true, signed: false } });
  });

  it('with requestObjects, pushes a request object signed with the client key', async () => {
    const { agent } = agentFor(fapiOptions({ clientId: 'fapi-jar', requestObjects: true }));
    const authorizeUrl = await startLogin(agent);
    expect([...authorizeUrl.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const pushed = only('/request');
    expect(pushed.status).toBe(201);
    // the parameters are inside the signed request object only
    expect(pushed.form?.has('redirect_uri')).toBe(false);
    const requestObject = decoded(pushed.form?.get('request') ?? undefined);
    expect(requestObject.header).toMatchObject({ alg: 'PS256', kid: 'fapi-key' });
    expect(requestObject.claims).toMatchObject({
      iss: 'fapi-jar',
      aud: tp.issuer,
      client_id: 'fapi-jar',
      redirect_uri: `${baseUrl}/callback`,
      response_type: 'code',
      code_challenge_method: 'S256',
      dpop_jkt: await thumbprint(dpopKey),
    });
    expect(typeof requestObject.claims.exp).toBe('number');
    expect(redirectOf(await agent.get(pathOf(await authorizeAtProvider(tp, authorizeUrl)))).pathname).toBe('/');
    expect((await me(agent)).accessToken?.type).toBe('DPoP');
  });

  it('refreshes with a client assertion and a DPoP proof; the new token is bound to the same key', async () => {
    const app = createTestApp(fapiOptions(), undefined, (app) => {
      app.post('/refresh', async (req, res) => res.json({ refreshed: await req.auth.refresh(), jkt: req.auth.accessToken?.jkt }));
    });
    const agent = request.agent(app.app);
    await login(agent, tp);
    const before = await me(agent);
    tp.proxy.clearRequests();
    expect((await agent.post('/refresh')).body).toEqual({ refreshed: true, jkt: await thumbprint(dpopKey) });
    const refresh = only('/token');
    expect(refresh.status).toBe(200);
    expect(refresh.form?.get('grant_type')).toBe('refresh_token');
    expectClientAssertion(refresh.form);
    await expectProof(refresh);
    const after = await me(agent);
    expect(after.accessToken?.type).toBe('DPoP');
    expect(after.accessToken?.value).not.toBe(before.accessToken?.value);
  });

  it('fetches userinfo with Authorization: DPoP and a proof bound to the access token (ath)', async () => {
    const app = createTestApp(fapiOptions(), undefined, (app) => {
      app.get('/userinfo', async (req, res, next) => {
        try {
          res.json(await req.auth.fetchUserInfo());
        } catch (err) {
          next(err);
        }
      });
    });
    const agent = request.agent(app.app);
    await login(agent, tp);
    const token = (await me(agent)).accessToken?.value ?? '';
    tp.proxy.clearRequests();
    expect((await agent.get('/userinfo')).body).toMatchObject({ sub: 'alice', email: 'alice@example.test' });
    const userinfo = only('/me');
    expect(userinfo.headers.authorization).toBe(`DPoP ${token}`);
    await expectProof(userinfo, token);
  });

  it('fetches userinfo at sign-in with fetchUserInfo', async () => {
    const { agent } = agentFor(fapiOptions({ fetchUserInfo: true }));
    await login(agent, tp);
    const userinfo = only('/me');
    expect(userinfo.status).toBe(200);
    expect(userinfo.headers.authorization).toMatch(/^DPoP /);
  });

  it('revokes both tokens at logout with a client assertion; the provider refuses them afterwards', async () => {
    const { agent } = agentFor(fapiOptions());
    await login(agent, tp);
    const tokens = await me(agent);
    expect(await userinfoStatus(tokens.accessToken?.value ?? '', dpopKey)).toBe('ok');
    tp.proxy.clearRequests();

    const logout = redirectOf(await agent.get('/logout'));
    expect(logout.pathname).toBe('/session/end');
    const revocations = requestsTo('/token/revocation');
    expect(revocations.map((r) => [r.form?.get('token_type_hint'), r.status])).toEqual([
      ['refresh_token', 200],
      ['access_token', 200],
    ]);
    for (const revocation of revocations) expectClientAssertion(revocation.form);
    await expectSignedIn(agent, false);
    expect(await userinfoStatus(tokens.accessToken?.value ?? '', dpopKey)).toBe(401);
  });
});

describe('req.auth.fetch() to the demo API (DPoP-bound JWT access tokens, checked with oauth4webapi)', () => {
  let api: Awaited<ReturnType<typeof serveDpopApi>>;
  beforeAll(async () => {
    api = await serveDpopApi(tp.issuer, API_AUDIENCE);
  });
  afterAll(() => api.close());

  function apiOptions(overrides: Partial<RelyingPartyOptions> = {}): RelyingPartyOptions {
    return fapiOptions({ scope: 'openid profile accounts:read', authorizationParams: { resource: API_AUDIENCE }, ...overrides });
  }

  function apiApp(options = apiOptions()) {
    return createTestApp(options, undefined, (app) => {
      app.get('/accounts', async (req, res, next) => {
        try {
          const response = await req.auth.fetch(api.url, { headers: { accept: 'application/json' } });
          res.status(response.status).json({ status: response.status, challenge: response.headers.get('www-authenticate'), body: await response.json() });
        } catch (err) {
          next(err);
        }
      });
    }).app;
  }

  it('sends the token with a proof for the API URL; the API accepts it', async () => {
    const agent = request.agent(apiApp());
    await login(agent, tp);
    const response = await agent.get('/accounts');
    expect(response.body).toMatchObject({ status: 200, body: { owner: 'alice' } });
    expect((response.body as { body: { accounts: unknown[] } }).body.accounts).toHaveLength(2);
  });

  it('a token taken from the session is refused by the API: as Bearer, as DPoP without a proof, with a proof of another key, or with a proof used before', async () => {
    const agent = request.agent(apiApp());
    await login(agent, tp);
    const token = (await me(agent)).accessToken?.value ?? '';
    expect(decoded(token).claims).toMatchObject({ aud: API_AUDIENCE, cnf: { jkt: await thumbprint(dpopKey) } });

    const asBearer = await fetch(api.url, { headers: { authorization: `Bearer ${token}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP algs="PS256 ES256 EdDSA", error="invalid_dpop_proof"/);

    const withoutProof = await fetch(api.url, { headers: { authorization: `DPoP ${token}` } });
    expect(withoutProof.status).toBe(401);
    expect(withoutProof.headers.get('www-authenticate')).toMatch(/error="invalid_dpop_proof"/);

    // a proof of another key, made with openid-client as a thief would
    const thief = await outsider(ecKey);
    const stolen = await client
      .fetchProtectedResource(thief.configuration, token, new URL(api.url), 'GET', undefined, undefined, thief.options)
      .catch((err: unknown) => (err instanceof client.WWWAuthenticateChallengeError ? err.response : Promise.reject(err)));
    expect(stolen.status).toBe(401);
    expect(stolen.headers.get('www-authenticate')).toMatch(/error="invalid_dpop_proof", error_description="JWT Access Token confirmation mismatch"/);

    // the app's own proof, captured and sent again
    const owner = await outsider(dpopKey);
    const captured: { dpop?: string } = {};
    const resource = new client.Configuration(owner.configuration.serverMetadata(), 'fapi-app');
    client.allowInsecureRequests(resource);
    resource[client.customFetch] = (url, options) => {
      captured.dpop = new Headers(options.headers).get('dpop') ?? undefined;
      return fetch(url, { ...options, body: options.body as BodyInit | null | undefined });
    };
    const first = await client.fetchProtectedResource(resource, token, new URL(api.url), 'GET', undefined, undefined, owner.options);
    expect(first.status).toBe(200);
    const replayed = await fetch(api.url, { headers: { authorization: `DPoP ${token}`, dpop: captured.dpop ?? '' } });
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get('www-authenticate')).toMatch(/error="invalid_dpop_proof", error_description="This DPoP proof was already used"/);
  });

  it('a proof for another URL or method is refused', async () => {
    const agent = request.agent(apiApp());
    await login(agent, tp);
    const token = (await me(agent)).accessToken?.value ?? '';
    const owner = await outsider(dpopKey);
    let proof = '';
    const resource = new client.Configuration(owner.configuration.serverMetadata(), 'fapi-app');
    client.allowInsecureRequests(resource);
    resource[client.customFetch] = (_url, options) => {
      proof = new Headers(options.headers).get('dpop') ?? '';
      return Promise.resolve(new Response(null, { status: 204 }));
    };
    await client.fetchProtectedResource(resource, token, new URL(api.url.replace('/accounts', '/other')), 'GET', undefined, undefined, owner.options);
    const otherUrl = await fetch(api.url, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
    expect(otherUrl.headers.get('www-authenticate')).toMatch(/error_description="DPoP Proof htu mismatch"/);
    await client.fetchProtectedResource(resource, token, new URL(api.url), 'POST', undefined, undefined, owner.options);
    const otherMethod = await fetch(api.url, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
    expect(otherMethod.headers.get('www-authenticate')).toMatch(/error_description="DPoP Proof htm mismatch"/);
  });

  it('an access token without a binding (no DPoP) is refused by the API', async () => {
    // the default client: client_secret_basic, bearer tokens
    const plain = createTestApp(rpOptions(tp, { idTokenSigningAlg: 'PS256', scope: 'openid accounts:read', authorizationParams: { resource: API_AUDIENCE } }));
    const agent = request.agent(plain.app);
    await login(agent, tp);
    const token = (await me(agent)).accessToken;
    expect(token?.type).toBe('bearer');
    const response = await fetch(api.url, { headers: { authorization: `Bearer ${token?.value ?? ''}` } });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/error="invalid_token", error_description="The access token is not bound to a DPoP key"/);
  });
});

describe('the provider enforces FAPI 2.0', () => {
  it('refuses an authorization request that was not pushed (the app misled about the requirement)', async () => {
    // the discovery document without require_pushed_authorization_requests: 'auto' then does not push
    const withoutRequirement = { ...discovery };
    delete withoutRequirement.require_pushed_authorization_requests;
    tp.proxy.setFault('/.well-known/openid-configuration', { kind: 'status', status: 200, contentType: 'application/json', body: JSON.stringify(withoutRequirement) });
    const { agent } = agentFor(fapiOptions({ profile: undefined, idTokenSigningAlg: 'PS256' }));
    const authorizeUrl = await startLogin(agent);
    expect(authorizeUrl.searchParams.get('redirect_uri')).toBe(`${baseUrl}/callback`);
    expect(tp.count('/request')).toBe(0);
    const callback = await new ProviderBrowser(tp.issuer).authorize(authorizeUrl);
    expect(callback.searchParams.get('error')).toBe('invalid_request');
    expect(callback.searchParams.get('error_description')).toMatch(/Pushed Authorization Request must be used/);
    const response = await agent.get(pathOf(callback));
    expectError(response, 'authorization_error', 400);
    await expectSignedIn(agent, false);
  });

  it("under profile 'fapi2' the app pushes its requests even when the provider's metadata does not say PAR is required", async () => {
    const withoutRequirement = { ...discovery };
    delete withoutRequirement.require_pushed_authorization_requests;
    tp.proxy.setFault('/.well-known/openid-configuration', { kind: 'status', status: 200, contentType: 'application/json', body: JSON.stringify(withoutRequirement) });
    const { agent } = agentFor(fapiOptions());
    expect([...(await startLogin(agent)).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(only('/request').status).toBe(201);
  });

  it('refuses the code exchange without a DPoP proof for a client bound to DPoP', async () => {
    const { agent } = agentFor(fapiOptions({ profile: undefined, idTokenSigningAlg: 'PS256', pushedAuthorizationRequests: true, dpop: false, dpopKey: undefined }));
    const response = await login(agent, tp);
    expectError(response, 'token_request_rejected', 400);
    expect((response.body as { message: string }).message).toMatch(/\(invalid_grant\)/);
    const token = only('/token');
    expect(token.headers.dpop).toBeUndefined();
    expect(token.status).toBe(400);
    await expectSignedIn(agent, false);
  });

  it('refuses a DPoP-bound access token presented as a bearer token or with a proof of another key', async () => {
    const { agent } = agentFor(fapiOptions());
    await login(agent, tp);
    const token = (await me(agent)).accessToken?.value ?? '';
    expect(await userinfoStatus(token, dpopKey)).toBe('ok');
    expect(await userinfoStatus(token)).toBe(401);
    expect(await userinfoStatus(token, ecKey)).toBe(401);
  });

  it('refuses a client assertion signed with another key under the client kid', async () => {
    const { agent } = agentFor(fapiOptions({ clientPrivateKey: impostor.jwk }));
    const response = await agent.get('/login');
    expectError(response, 'client_authentication_failed', 500);
    expect(only('/request').status).toBe(401);
  });

  it('refuses an unsigned request from a client registered for request objects', async () => {
    const { agent } = agentFor(fapiOptions({ clientId: 'fapi-jar' }));
    const response = await agent.get('/login');
    expectError(response, 'authorization_request_rejected', 500);
    expect((response.body as { message: string }).message).toMatch(/refused the pushed authorization request \(invalid_request\)/);
    expect((response.body as { causes: string[] }).causes.join(' ')).toMatch(/Request Object must be used/);
  });
});

describe('DPoP nonces from the provider', () => {
  it('answers use_dpop_nonce at PAR, token, userinfo and refresh once, then sends the nonce it was given', async () => {
    tp.requireDpopNonce = true;
    const app = createTestApp(fapiOptions({ fetchUserInfo: true }), undefined, (app) => {
      app.post('/refresh', async (req, res) => res.json({ refreshed: await req.auth.refresh() }));
    });
    const agent = request.agent(app.app);
    expect(redirectOf(await login(agent, tp)).pathname).toBe('/');
    expect((await agent.post('/refresh')).body).toEqual({ refreshed: true });

    const dpopRequests = tp.requests.filter((r) => r.headers.dpop !== undefined);
    const outline = dpopRequests.map((r) => [r.path, r.status, typeof proofOf(r).claims.nonce]);
    // the first proof has no nonce and is challenged; from then on every proof carries the current one
    expect(outline[0]).toEqual(['/request', 400, 'undefined']);
    expect(outline.slice(1)).toEqual([
      ['/request', 201, 'string'],
      ['/token', 200, 'string'],
      ['/me', 200, 'string'],
      ['/token', 200, 'string'],
    ]);
    const second = request.agent(app.app);
    tp.proxy.clearRequests();
    await login(second, tp);
    // the nonce is remembered: no challenge this time
    expect(tp.requests.filter((r) => r.headers.dpop !== undefined).every((r) => r.status !== undefined && r.status < 300)).toBe(true);
  });
});

describe('FAPI 2.0 checks at discovery', () => {
  /** Serves the discovery document changed by `change`; returns the error /login gets. */
  async function loginWithDiscovery(change: (metadata: Record<string, unknown>) => void, overrides: Partial<RelyingPartyOptions> = {}) {
    const metadata = structuredClone(discovery);
    change(metadata);
    tp.proxy.setFault('/.well-known/openid-configuration', { kind: 'status', status: 200, contentType: 'application/json', body: JSON.stringify(metadata) });
    const { agent } = agentFor(fapiOptions(overrides));
    const response = await agent.get('/login');
    expect(tp.count('/request')).toBe(0);
    return response;
  }

  it('a provider that does not send iss with the authorization response (RFC 9207) is provider_misconfigured', async () => {
    const response = await loginWithDiscovery((m) => delete m.authorization_response_iss_parameter_supported);
    expectError(response, 'provider_misconfigured', 502);
    expect((response.body as { message: string }).message).toMatch(/profile 'fapi2': the provider .* does not advertise the `iss` authorization response parameter \(RFC 9207/);
  });

  it.each([
    ['no PAR endpoint', (m: Record<string, unknown>) => delete m.pushed_authorization_request_endpoint, /profile 'fapi2' requires pushed authorization requests, but the provider .* has no pushed_authorization_request_endpoint/],
    ['no DPoP', (m: Record<string, unknown>) => delete m.dpop_signing_alg_values_supported, /`dpop` is true, but the provider .* does not advertise DPoP/],
    ['no ES256 for DPoP', (m: Record<string, unknown>) => (m.dpop_signing_alg_values_supported = ['EdDSA']), /`dpopKey` signs ES256, which the provider .* does not accept for DPoP proofs \(EdDSA\)/],
    ['no private_key_jwt', (m: Record<string, unknown>) => (m.token_endpoint_auth_methods_supported = ['client_secret_basic']), /clientAuthMethod 'private_key_jwt' is not one the provider .* accepts \(client_secret_basic\)/],
    ['no PS256 for client assertions', (m: Record<string, unknown>) => (m.token_endpoint_auth_signing_alg_values_supported = ['ES256']), /the client assertion is signed PS256 \(`clientAssertionSigningAlg`, or the algorithm of `clientPrivateKey`\), which the provider .* does not accept \(ES256\)/],
    ['no PS256 ID tokens', (m: Record<string, unknown>) => (m.id_token_signing_alg_values_supported = ['ES256']), /`idTokenSigningAlg` is PS256, which the provider .* does not sign ID tokens with \(ES256\)/],
  ])('%s is invalid_options naming what to change', async (_what, change, message) => {
    const response = await loginWithDiscovery(change);
    expectError(response, 'invalid_options', 500);
    expect((response.body as { message: string }).message).toMatch(message);
  });

  it('request objects the provider does not take are invalid_options', async () => {
    const response = await loginWithDiscovery((m) => delete m.request_object_signing_alg_values_supported, { requestObjects: true });
    expectError(response, 'invalid_options', 500);
    expect((response.body as { message: string }).message).toMatch(/`requestObjects` is true, but the provider .* does not advertise request objects/);
  });

  it('pushedAuthorizationRequests: false against a provider that requires PAR is invalid_options', async () => {
    const response = await loginWithDiscovery(() => undefined, { profile: undefined, idTokenSigningAlg: 'PS256', pushedAuthorizationRequests: false });
    expectError(response, 'invalid_options', 500);
    expect((response.body as { message: string }).message).toMatch(/the provider .* requires pushed authorization requests: remove `pushedAuthorizationRequests: false`/);
  });
});

describe('key formats', () => {
  it.each([
    ['a PKCS#8 PEM (RSA, PS256) with clientPrivateKeyId', () => ({ clientPrivateKey: clientKey.pem, clientPrivateKeyId: 'fapi-key' }), 'fapi-key', 'PS256'],
    ['an EC JWK', () => ({ clientPrivateKey: ecKey.jwk }), 'fapi-ec', 'ES256'],
    ['an Ed25519 PEM with clientPrivateKeyId', () => ({ clientPrivateKey: edKey.pem, clientPrivateKeyId: 'fapi-ed' }), 'fapi-ed', 'EdDSA'],
    ['a CryptoKey', async () => ({ clientPrivateKey: await clientKey.cryptoKey(), clientPrivateKeyId: 'fapi-key' }), 'fapi-key', 'PS256'],
  ])('signs in with the client key as %s', async (_format, keyOptions, kid, alg) => {
    const { agent } = agentFor(fapiOptions(await keyOptions()));
    expect(redirectOf(await login(agent, tp)).pathname).toBe('/');
    expectClientAssertion(only('/token').form, kid, alg);
  });

  it.each([
    ['a PEM', () => dpopKey.pem, 'ES256'],
    ['a CryptoKey', () => dpopKey.cryptoKey(), 'ES256'],
    ['an Ed25519 JWK', () => edKey.jwk, 'EdDSA'],
  ])('binds the tokens to a DPoP key given as %s', async (_format, key, alg) => {
    const { agent } = agentFor(fapiOptions({ dpopKey: await key() }));
    await login(agent, tp);
    expect((await me(agent)).accessToken?.type).toBe('DPoP');
    expect(proofOf(only('/token')).header.alg).toBe(alg);
  });
});

describe('the session store', () => {
  it('holds the tokens but no key; its tokens are useless without the keys in the app', async () => {
    const { agent, store } = agentFor(fapiOptions());
    await login(agent, tp);
    const stored = JSON.stringify(await storedSessions(store));
    for (const key of [clientKey, dpopKey]) {
      expect(stored).not.toContain(String(key.jwk.d));
      expect(stored).not.toContain(key.pem.split('\n')[1]);
    }
    const { accessToken, refreshToken } = (await storedSessions(store))[0]?.relyingParty?.auth ?? {};
    expect(accessToken && refreshToken).toBeTruthy();

    // the access token: refused without the DPoP key
    expect(await userinfoStatus(accessToken ?? '')).toBe(401);
    expect(await userinfoStatus(accessToken ?? '', ecKey)).toBe(401);
    // the refresh token: refused without the client's key
    const { configuration, options } = await outsider(ecKey);
    await expect(client.refreshTokenGrant(configuration, refreshToken ?? '', undefined, options)).rejects.toMatchObject({ error: 'invalid_client' });
  });
});
