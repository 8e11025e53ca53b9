/**
 * PAR, private_key_jwt, client_secret_jwt, DPoP and request objects each
 * on their own, against the ordinary test provider (no FAPI profile: each
 * feature is available, and required only by the client that registered
 * for it). Sign-in, refresh, userinfo, logout with revocation and
 * `req.auth.fetch()`, and a DPoP nonce challenge from a resource server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Express } from 'express';
import session from 'express-session';
import request from 'supertest';
import * as client from 'openid-client';
import type { RelyingPartyOptions } from 'express-relying-party';
import { startTestProvider } from './fixtures/provider.js';
import type { ProxiedRequest, TestProvider } from './fixtures/provider.js';
import { decoded, privateKeyJwtClient, testClient, testKey, thumbprint } from './support/fapi.js';
import type { TestKey } from './support/fapi.js';
import { SharedBrowser, authorizeAtProvider, createTestApp, expectError, expectSignedIn, login, pathOf, redirectOf, rpOptions, startLogin } from './support/rp-app.js';
import type { Agent } from './support/rp-app.js';

const CLIENT_SECRET_JWT = 'a-client-secret-of-at-least-thirty-two-bytes-for-hs256';

let tp: TestProvider;
let rsaKey: TestKey;
let ecKey: TestKey;
let dpopKey: TestKey;
/** a loopback server that becomes the app of the jwks_uri client once the provider (and so the issuer) exists */
let jwksHost: { origin: string; handler: Express | undefined; server: http.Server };
let discovery: Record<string, unknown>;

beforeAll(async () => {
  [rsaKey, ecKey, dpopKey] = await Promise.all([testKey('RS256', 'rsa-1'), testKey('ES256', 'ec-1'), testKey('ES256', 'dpop-1')]);
  const server = http.createServer((req, res) => {
    if (jwksHost.handler) jwksHost.handler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksHost = { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, handler: undefined, server };
  tp = await startTestProvider({
    extraClients: [
      testClient('par-only', { client_secret: 'par-secret', require_pushed_authorization_requests: true }),
      privateKeyJwtClient('pkjwt-only', [rsaKey, ecKey]),
      testClient('pkjwt-uri', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${jwksHost.origin}/.well-known/jwks.json` }),
      testClient('csjwt-only', { client_secret: CLIENT_SECRET_JWT, token_endpoint_auth_method: 'client_secret_jwt' }),
      testClient('dpop-only', { client_secret: 'dpop-secret', dpop_bound_access_tokens: true }),
      testClient('jar-only', { client_secret: 'jar-secret', require_signed_request_object: true, jwks: { keys: [rsaKey.publicJwk] } }),
    ],
  });
  discovery = (await (await fetch(`${tp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
});
afterAll(async () => {
  await tp.close();
  await new Promise((resolve) => jwksHost.server.close(resolve));
});
beforeEach(() => tp.reset());

/** The requests to `path` that reached the provider. */
const requestsTo = (path: string): ProxiedRequest[] => tp.requests.filter((r) => r.path === path);

/** The test app with routes that refresh, fetch userinfo and call `apiUrl` with req.auth.fetch(). */
function appWith(options: Partial<RelyingPartyOptions>, apiUrl = ''): Express {
  return createTestApp(rpOptions(tp, options), undefined, (app) => {
    app.post('/refresh', async (req, res) => res.json({ refreshed: await req.auth.refresh(), type: req.auth.accessToken?.type }));
    app.get('/userinfo', async (req, res, next) => {
      try {
        res.json(await req.auth.fetchUserInfo());
      } catch (err) {
        next(err);
      }
    });
    app.get('/call-api', async (req, res, next) => {
      try {
        const response = await req.auth.fetch(apiUrl, { method: 'POST', body: JSON.stringify({ hello: 'api' }), headers: { 'content-type': 'application/json' } });
        res.status(response.status).json(await response.json());
      } catch (err) {
        next(err);
      }
    });
  }).app;
}

/** Sign-in, refresh, userinfo and logout with revocation: everything the library asks of the provider. */
async function fullCycle(agent: Agent): Promise<void> {
  expect(redirectOf(await login(agent, tp)).pathname).toBe('/');
  expect((await agent.post('/refresh')).body).toMatchObject({ refreshed: true });
  expect((await agent.get('/userinfo')).body).toMatchObject({ sub: 'alice' });
  expect(redirectOf(await agent.get('/logout')).pathname).toBe('/session/end');
  expect(requestsTo('/token/revocation').map((r) => r.status)).toEqual([200, 200]);
  await expectSignedIn(agent, false);
}

/** Serves a changed discovery document from now on. */
function changeDiscovery(change: (metadata: Record<string, unknown>) => void): void {
  const metadata = structuredClone(discovery);
  change(metadata);
  tp.proxy.setFault('/.well-known/openid-configuration', { kind: 'status', status: 200, contentType: 'application/json', body: JSON.stringify(metadata) });
}

describe('pushedAuthorizationRequests alone', () => {
  const options = { clientId: 'par-only', clientSecret: 'par-secret', pushedAuthorizationRequests: true };

  it('pushes the request with the client credentials; the browser gets client_id and request_uri only', async () => {
    const agent = request.agent(appWith(options));
    const authorizeUrl = await startLogin(agent);
    expect([...authorizeUrl.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const [pushed] = requestsTo('/request');
    expect(pushed?.status).toBe(201);
    expect(pushed?.headers.authorization).toMatch(/^Basic /);
    expect(pushed?.headers.dpop).toBeUndefined();
    expect(pushed?.form?.get('state')).toBeTruthy();
    expect(pushed?.form?.has('dpop_jkt')).toBe(false);
  });

  it('signs in, refreshes, fetches userinfo and signs out', async () => {
    await fullCycle(request.agent(appWith(options)));
    expect(tp.count('/request')).toBe(1);
  });

  it("'auto' (the default) does not push to a provider that does not require it, and that client refuses the login", async () => {
    const agent = request.agent(appWith({ ...options, pushedAuthorizationRequests: undefined }));
    const authorizeUrl = await startLogin(agent);
    expect(authorizeUrl.searchParams.get('client_id')).toBe('par-only');
    expect(authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(tp.count('/request')).toBe(0);
    const response = await login(agent, tp);
    expectError(response, 'authorization_error', 400);
  });

  it("'auto' pushes when the provider's metadata requires it", async () => {
    changeDiscovery((m) => (m.require_pushed_authorization_requests = true));
    const agent = request.agent(appWith({ ...options, pushedAuthorizationRequests: 'auto' }));
    expect([...(await startLogin(agent)).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
  });

  it('true against a provider without a PAR endpoint is invalid_options at the first login', async () => {
    changeDiscovery((m) => delete m.pushed_authorization_request_endpoint);
    const response = await request.agent(appWith(options)).get('/login');
    expectError(response, 'invalid_options', 500);
    expect((response.body as { message: string }).message).toMatch(/`pushedAuthorizationRequests` is true, but the provider .* has no pushed_authorization_request_endpoint/);
  });

  it('a provider that requires PAR but has no endpoint is provider_misconfigured', async () => {
    changeDiscovery((m) => {
      m.require_pushed_authorization_requests = true;
      delete m.pushed_authorization_request_endpoint;
    });
    const response = await request.agent(appWith({ ...options, pushedAuthorizationRequests: 'auto' })).get('/login');
    expectError(response, 'provider_misconfigured', 502);
  });
});

describe("clientAuthMethod 'private_key_jwt' alone", () => {
  it.each([
    ['an RSA PEM (RS256)', () => ({ clientPrivateKey: rsaKey.pem, clientPrivateKeyId: 'rsa-1' }), 'RS256', 'rsa-1'],
    ['an EC JWK (ES256)', () => ({ clientPrivateKey: ecKey.jwk }), 'ES256', 'ec-1'],
  ])('signs in, refreshes, fetches userinfo and revokes with %s', async (_what, key, alg, kid) => {
    await fullCycle(request.agent(appWith({ clientId: 'pkjwt-only', clientSecret: undefined, clientAuthMethod: 'private_key_jwt', ...key() })));
    const authenticated = tp.requests.filter((r) => r.path === '/token' || r.path === '/token/revocation');
    expect(authenticated).toHaveLength(4);
    for (const r of authenticated) {
      expect(r.headers.authorization).toBeUndefined();
      const assertion = decoded(r.form?.get('client_assertion') ?? undefined);
      expect(assertion.header).toMatchObject({ alg, kid });
      expect(assertion.claims).toMatchObject({ iss: 'pkjwt-only', sub: 'pkjwt-only', aud: tp.issuer });
    }
    // a fresh assertion (jti) per request
    expect(new Set(authenticated.map((r) => decoded(r.form?.get('client_assertion') ?? undefined).claims.jti)).size).toBe(4);
  });

  it('with a key the client did not register, the provider refuses the client', async () => {
    const response = await login(request.agent(appWith({ clientId: 'pkjwt-only', clientSecret: undefined, clientAuthMethod: 'private_key_jwt', clientPrivateKey: dpopKey.pem, clientPrivateKeyId: 'ec-1' })), tp);
    expectError(response, 'client_authentication_failed', 500);
  });

  it('works with the keys the provider reads from the app: routes.jwks as the client jwks_uri', async () => {
    const app = appWith({ clientId: 'pkjwt-uri', clientSecret: undefined, clientAuthMethod: 'private_key_jwt', clientPrivateKey: ecKey.pem, routes: { jwks: '/.well-known/jwks.json' } });
    jwksHost.handler = app;
    try {
      await fullCycle(request.agent(app));
      const { keys } = (await (await fetch(`${jwksHost.origin}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
      expect(keys).toEqual([{ ...ecKey.publicJwk, kid: await thumbprint(ecKey) }]);
    } finally {
      jwksHost.handler = undefined;
    }
  });
});

describe("clientAuthMethod 'client_secret_jwt' alone", () => {
  it('signs in, refreshes, fetches userinfo and revokes with HS256 assertions', async () => {
    await fullCycle(request.agent(appWith({ clientId: 'csjwt-only', clientSecret: CLIENT_SECRET_JWT, clientAuthMethod: 'client_secret_jwt' })));
    const token = requestsTo('/token')[0];
    expect(decoded(token?.form?.get('client_assertion') ?? undefined).header).toEqual({ alg: 'HS256' });
    expect(token?.form?.has('client_secret')).toBe(false);
  });

  it('a wrong secret is refused by the provider', async () => {
    const response = await login(request.agent(appWith({ clientId: 'csjwt-only', clientSecret: `${CLIENT_SECRET_JWT}-wrong`, clientAuthMethod: 'client_secret_jwt' })), tp);
    expectError(response, 'client_authentication_failed', 500);
  });
});

describe('requestObjects alone', () => {
  const options = () => ({ clientId: 'jar-only', clientSecret: 'jar-secret', requestObjects: true, clientPrivateKey: rsaKey.pem, clientPrivateKeyId: 'rsa-1' });

  it('sends the request as a signed request object in the browser URL', async () => {
    const agent = request.agent(appWith(options()));
    const authorizeUrl = await startLogin(agent);
    expect([...authorizeUrl.searchParams.keys()].sort()).toEqual(['client_id', 'request']);
    const requestObject = decoded(authorizeUrl.searchParams.get('request') ?? undefined);
    expect(requestObject.header).toMatchObject({ alg: 'RS256', kid: 'rsa-1' });
    expect(requestObject.claims).toMatchObject({ iss: 'jar-only', aud: tp.issuer, response_type: 'code', code_challenge_method: 'S256' });
    expect(tp.count('/request')).toBe(0);
  });

  it('signs in, refreshes, fetches userinfo and signs out', async () => {
    await fullCycle(request.agent(appWith(options())));
  });

  it('without it, that client is refused by the provider', async () => {
    const response = await login(request.agent(appWith({ clientId: 'jar-only', clientSecret: 'jar-secret' })), tp);
    expectError(response, 'authorization_error', 400);
  });
});

/** A resource server that wants DPoP proofs with a nonce it hands out, and answers with what it checked. */
class NonceResourceServer {
  readonly nonce = 'rs-nonce-1';
  readonly seen: { authorization?: string; nonce?: unknown; htm?: unknown; htu?: unknown; ath?: unknown; body?: string }[] = [];
  readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const proof = typeof req.headers.dpop === 'string' ? decoded(req.headers.dpop).claims : {};
      this.seen.push({ authorization: req.headers.authorization, nonce: proof.nonce, htm: proof.htm, htu: proof.htu, ath: proof.ath, body: Buffer.concat(chunks).toString('utf8') });
      if (proof.nonce !== this.nonce) {
        res.writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"', 'dpop-nonce': this.nonce });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    });
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/payments`;
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('dpop alone (client_secret_basic)', () => {
  const options = () => ({ clientId: 'dpop-only', clientSecret: 'dpop-secret', dpop: true, dpopKey: dpopKey.jwk });

  it('binds the tokens to the key: sign-in, refresh, userinfo and logout', async () => {
    const agent = request.agent(appWith(options()));
    await fullCycle(agent);
    const withProof = tp.requests.filter((r) => r.headers.dpop !== undefined).map((r) => r.path);
    expect(withProof).toEqual(['/token', '/token', '/me']);
    expect(tp.count('/request')).toBe(0);
  });

  it('sends dpop_jkt in the authorization request, so the code is bound to the key too', async () => {
    const authorizeUrl = await startLogin(request.agent(appWith(options())));
    expect(authorizeUrl.searchParams.get('dpop_jkt')).toBe(await thumbprint(dpopKey));
  });

  it('a code exchanged with a proof of another key is refused by the provider (dpop_jkt)', async () => {
    // the login starts in an instance with one key and ends in an instance with another (no shared dpopKey)
    const store = new session.MemoryStore();
    const starting = createTestApp(rpOptions(tp, options()), store).app;
    const finishing = createTestApp(rpOptions(tp, { ...options(), dpopKey: ecKey.jwk }), store).app;
    const browser = new SharedBrowser();
    const callback = await authorizeAtProvider(tp, redirectOf(await browser.get(starting, '/login')));
    const response = await browser.get(finishing, pathOf(callback));
    expectError(response, 'token_request_rejected', 400);
    expect(await browser.isSignedIn(finishing)).toBe(false);
  });

  it('answers a use_dpop_nonce challenge from a resource server once, then keeps using its nonce', async () => {
    const rs = new NonceResourceServer();
    await rs.start();
    try {
      const agent = request.agent(appWith(options(), rs.url));
      await login(agent, tp);
      const token = ((await agent.get('/me')).body as { accessToken: { value: string; type: string } }).accessToken;
      expect(token.type).toBe('DPoP');
      expect((await agent.get('/call-api')).body).toEqual({ ok: true });
      expect((await agent.get('/call-api')).body).toEqual({ ok: true });
      const ath = await client.calculatePKCECodeChallenge(token.value);
      expect(rs.seen).toEqual([
        { authorization: `DPoP ${token.value}`, nonce: undefined, htm: 'POST', htu: rs.url, ath, body: '{"hello":"api"}' },
        { authorization: `DPoP ${token.value}`, nonce: rs.nonce, htm: 'POST', htu: rs.url, ath, body: '{"hello":"api"}' },
        { authorization: `DPoP ${token.value}`, nonce: rs.nonce, htm: 'POST', htu: rs.url, ath, body: '{"hello":"api"}' },
      ]);
    } finally {
      await rs.close();
    }
  });

  it('passes a resource server challenge other than a nonce on to the app, as fetch() would', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(403, { 'www-authenticate': 'DPoP error="insufficient_scope", scope="payments"', 'content-type': 'application/json' });
      res.end('{"error":"insufficient_scope"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const agent = request.agent(appWith(options(), `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`));
      await login(agent, tp);
      const response = await agent.get('/call-api');
      expect({ status: response.status, body: response.body as unknown }).toEqual({ status: 403, body: { error: 'insufficient_scope' } });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('without dpop, that client is refused by the provider', async () => {
    const response = await login(request.agent(appWith({ clientId: 'dpop-only', clientSecret: 'dpop-secret' })), tp);
    expectError(response, 'token_request_rejected', 400);
    expect(requestsTo('/token').map((r) => [r.status, r.headers.dpop])).toEqual([[400, undefined]]);
  });

  it('a provider that answers a DPoP proof with a bearer token is provider_misconfigured, and nobody is signed in', async () => {
    const agent = request.agent(appWith(options()));
    const callback = await authorizeAtProvider(tp, await startLogin(agent));
    tp.proxy.setFault('/token', { kind: 'rewriteJson', rewrite: (body) => ({ ...body, token_type: 'Bearer' }) });
    const response = await agent.get(pathOf(callback));
    expectError(response, 'provider_misconfigured', 502);
    expect((response.body as { message: string }).message).toMatch(/issued a bearer token although the request carried a DPoP proof/);
    await expectSignedIn(agent, false);
  });
});
