/**
 * Interop: the whole flow against Glewlwyd 2.7.5 (Debian 12 package), with
 * the default client_secret_basic and the client id `interop-rp`, including
 * revocation and back-channel logout, which Glewlwyd supports. See
 * test/support/interop.ts for how the provider is started and README
 * "Known provider quirks" for what these tests found.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { formEncode } from '../lib/client-auth.js';
import { createTestApp, expectSignedIn, pathOf, redirectOf } from './support/rp-app.js';
import type { Agent, TestApp } from './support/rp-app.js';
import { describeStop, interopRoutes, OpBrowser, probeBasicCredentials, skipInterop, START_TIMEOUT_MS, startAppServer, startOp, stopOp } from './support/interop.js';
import type { AppServer, StartedOp } from './support/interop.js';

if (skipInterop) console.warn('SKIP_INTEROP_TESTS=1: the Glewlwyd interop tests are SKIPPED. Unset it to run them.');
const suite = skipInterop ? describe.skip : describe;

type Me = { isAuthenticated: boolean; user: Record<string, unknown>; idToken: string; refreshToken: string; accessToken: { value: string } };

let server: AppServer;
let op: StartedOp | undefined;
let metadata: Record<string, unknown>;
let app: TestApp['app'];
let agent: Agent;
let browser: OpBrowser;

function started(): StartedOp {
  if (!op) throw new Error('Glewlwyd did not start');
  return op;
}

const me = async (forAgent: Agent = agent) => (await forAgent.get('/me')).body as Me;

/**
 * Glewlwyd's login page is a JavaScript app: it signs the user in with
 * POST /api/auth/, grants the scopes with PUT /api/auth/grant/<client>,
 * then sends the browser back to the authorization request with
 * `g_continue` added. The same calls, made here over HTTP.
 */
async function authorize(authorizeUrl: URL, with_: OpBrowser = browser): Promise<URL> {
  let stop = await with_.walk(authorizeUrl);
  if (stop.page && stop.url.pathname === '/login.html') {
    const callbackUrl = stop.url.searchParams.get('callback_url');
    const scope = stop.url.searchParams.get('scope');
    const clientId = stop.url.searchParams.get('client_id');
    if (!callbackUrl || !scope || !clientId) throw new Error(`unexpected login page ${stop.url.href}`);
    const api = `${with_.origin}/api`;
    const signIn = await with_.request(`${api}/auth/`, { json: { username: started().user, password: started().password } });
    expect(signIn.status).toBe(200);
    const grant = await with_.request(`${api}/auth/grant/${encodeURIComponent(clientId)}`, { method: 'PUT', json: { scope } });
    expect(grant.status).toBe(200);
    stop = await with_.walk(`${callbackUrl}${callbackUrl.includes('?') ? '&' : '?'}g_continue`);
  }
  if (stop.page) throw new Error(`the login did not return to the app: ${describeStop(stop)}`);
  return stop.url;
}

/** Basic credentials of the app's client, form-encoded as the app sends them. */
function basic(): string {
  const { client_id: id, client_secret: secret } = started();
  return `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString('base64')}`;
}

/** Whether the provider still honours `token`, by its introspection endpoint (which, unlike a refresh, does not use the token up). */
async function isActive(token: string): Promise<boolean> {
  const response = await fetch(String(metadata.introspection_endpoint), {
    method: 'POST',
    headers: { authorization: basic(), accept: 'application/json' },
    body: new URLSearchParams({ token }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { active: boolean }).active;
}

/** What Glewlwyd's login page does when the user confirms an end_session: ends the OpenID session (this sends the back-channel logouts), then the Glewlwyd session. */
async function confirmEndSession(endSessionPage: URL, with_: OpBrowser): Promise<{ post_redirect_to?: unknown }> {
  const sid = endSessionPage.searchParams.get('sid');
  const plugin = endSessionPage.searchParams.get('plugin');
  const clientId = endSessionPage.searchParams.get('client_id');
  expect({ prompt: endSessionPage.searchParams.get('prompt'), sid, plugin }).toEqual({ prompt: 'end_session', sid: expect.any(String), plugin: 'oidc' });
  const api = `${with_.origin}/api`;
  const sessionInfo = await with_.request(`${api}/${plugin}/session/${sid}/${clientId}`);
  expect(sessionInfo.status).toBe(200);
  const info = (await sessionInfo.json()) as { post_redirect_to?: unknown };
  expect((await with_.request(`${api}/${plugin}/session/${sid}`, { method: 'DELETE' })).status).toBe(200);
  expect((await with_.request(`${api}/auth/`, { method: 'DELETE' })).status).toBe(200);
  return info;
}

/** Waits for the provider's back-channel call to reach the app. */
async function eventuallySignedOut(forAgent: Agent): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (!((await forAgent.get('/public')).body as { isAuthenticated: boolean }).isAuthenticated) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

suite('Glewlwyd 2.7.5 (Debian), client_secret_basic, client id interop-rp', () => {
  beforeAll(async () => {
    server = await startAppServer();
    op = await startOp('glewlwyd', server.baseUrl);
    ({ app } = createTestApp(
      { issuer: op.issuer, clientId: op.client_id, clientSecret: op.client_secret, baseUrl: server.baseUrl, routes: { backchannelLogout: '/backchannel-logout' } },
      undefined,
      interopRoutes,
    ));
    server.serve(app);
    agent = request.agent(app);
    browser = new OpBrowser(op.issuer);
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    await stopOp(op);
    await server?.close();
  });

  it('discovery: /login sends the browser to the discovered authorization endpoint', async () => {
    metadata = (await (await fetch(`${started().issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(started().client_id).toBe('interop-rp');
    const authorize = redirectOf(await agent.get('/login'));
    expect(authorize.origin + authorize.pathname).toBe(metadata.authorization_endpoint);
    expect(authorize.searchParams.get('client_id')).toBe('interop-rp');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
  });

  it('login: the provider\'s sign-in and consent, then the callback signs the session in', async () => {
    const callback = await authorize(redirectOf(await agent.get('/login?returnTo=/profile')));
    expect(callback.origin + callback.pathname).toBe(`${server.baseUrl}/callback`);
    expect(redirectOf(await agent.get(pathOf(callback))).pathname).toBe('/profile');
    await expectSignedIn(agent, true);
  });

  it('claims: the ID token is validated and its claims are req.auth.user', async () => {
    const { user } = await me();
    expect(user).toMatchObject({ iss: started().issuer, aud: 'interop-rp', name: 'Doctor Who', email: 'dwho@badwolf.org' });
    // sub is an opaque string, not the user name
    expect(user.sub).toEqual(expect.any(String));
    expect(user.sub).not.toBe('dwho');
  });

  it('userinfo: req.auth.fetchUserInfo() returns the user\'s claims for the same sub', async () => {
    const response = await agent.get('/userinfo-now');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ sub: (await me()).user.sub, name: 'Doctor Who', email: 'dwho@badwolf.org' });
  });

  it('refresh: new tokens; Glewlwyd rotates the refresh token (one use)', async () => {
    const before = await me();
    expect(await isActive(before.refreshToken)).toBe(true);
    expect((await agent.post('/refresh-now')).body).toEqual({ refreshed: true });
    const after = await me();
    expect(after.accessToken.value).not.toBe(before.accessToken.value);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(await isActive(before.refreshToken)).toBe(false);
    // the rotated one works for the next refresh
    expect((await agent.post('/refresh-now')).body).toEqual({ refreshed: true });
    await expectSignedIn(agent, true);
  });

  it('a refresh token Glewlwyd refuses (400 with an empty body) signs the session out', async () => {
    const other = request.agent(app);
    await other.get(pathOf(await authorize(redirectOf(await other.get('/login')))));
    const { refreshToken } = await me(other);
    const revoked = await fetch(String(metadata.revocation_endpoint), {
      method: 'POST',
      headers: { authorization: basic() },
      body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' }),
    });
    expect(revoked.status).toBe(200);
    expect((await other.post('/refresh-now')).body).toEqual({ refreshed: false });
    await expectSignedIn(other, false);
  });

  it('logout and revocation: the app revokes the tokens, then end_session with id_token_hint; Glewlwyd does NOT redirect back', async () => {
    expect(metadata.revocation_endpoint).toEqual(expect.any(String));
    const { idToken, refreshToken, accessToken } = await me();
    expect(await isActive(refreshToken)).toBe(true);
    const endSession = redirectOf(await agent.get('/logout'));
    await expectSignedIn(agent, false);
    // revoked by the app before it sent the browser on (Glewlwyd takes only client_secret_basic there)
    expect(await isActive(refreshToken)).toBe(false);
    expect(await isActive(accessToken.value)).toBe(false);

    expect(endSession.origin + endSession.pathname).toBe(metadata.end_session_endpoint);
    expect(endSession.searchParams.get('id_token_hint')).toBe(idToken);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${server.baseUrl}/`);
    // Glewlwyd shows its own "end session" page; it knows post_logout_redirect_uri (callback_url) ...
    const stop = await browser.walk(endSession);
    expect(stop.page?.status).toBe(200);
    expect(stop.url.pathname).toBe('/login.html');
    expect(stop.url.searchParams.get('callback_url')).toBe(`${server.baseUrl}/`);
    // ... but after the user confirms, its page goes there only with post_redirect_to, which end_session does not set
    const info = await confirmEndSession(stop.url, browser);
    expect(info.post_redirect_to).toBeUndefined();
    // the provider session is over: the next login asks for the password again
    const again = await browser.walk(redirectOf(await agent.get('/login')));
    expect(again.url.pathname).toBe('/login.html');
  });

  it('back-channel logout: ending the provider session alone signs the app session out', async () => {
    const other = new OpBrowser(started().issuer);
    await agent.get(pathOf(await authorize(redirectOf(await agent.get('/login')), other)));
    await expectSignedIn(agent, true);
    const { idToken } = await me();
    // the user signs out at the provider (e.g. from another app): Glewlwyd POSTs a logout token to the app
    const stop = await other.walk(started().op_logout_url.replace('{id_token_hint}', encodeURIComponent(idToken)));
    await confirmEndSession(stop.url, other);
    expect(await eventuallySignedOut(agent)).toBe(true);
  });

  it('quirk: Glewlwyd does not decode percent-encoded Basic credentials; form-encoded ones (as sent) are recognised', async () => {
    const tokenEndpoint = String(metadata.token_endpoint);
    const redirectUri = `${server.baseUrl}/callback`;
    const { client_id: id, client_secret: secret } = started();
    const percentEncoded = await probeBasicCredentials(tokenEndpoint, redirectUri, encodeURIComponent(id).replace(/-/g, '%2D'), secret);
    expect(percentEncoded).toMatchObject({ status: 403, error: 'unauthorized_client' });
    const formEncoded = await probeBasicCredentials(tokenEndpoint, redirectUri, formEncode(id), formEncode(secret));
    // Glewlwyd answers an unknown code with 403 invalid_code (RFC 6749: 400 invalid_grant)
    expect(formEncoded).toMatchObject({ status: 403, error: 'invalid_code' });
  });
});
