/**
 * Interop: the whole flow against LemonLDAP::NG 2.16 (OpenID-certified,
 * Debian 12 package), with the default client_secret_basic and the client
 * id `interop-rp`. See test/support/interop.ts for how the provider is
 * started and README "Known provider quirks" for what these tests found.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { formEncode } from '../lib/client-auth.js';
import { createTestApp, expectSignedIn, pathOf, redirectOf } from './support/rp-app.js';
import type { Agent } from './support/rp-app.js';
import {
  describeStop,
  formFields,
  interopRoutes,
  OpBrowser,
  probeBasicCredentials,
  skipInterop,
  START_TIMEOUT_MS,
  startAppServer,
  startOp,
  stopOp,
} from './support/interop.js';
import type { AppServer, StartedOp } from './support/interop.js';

if (skipInterop) console.warn('SKIP_INTEROP_TESTS=1: the LemonLDAP::NG interop tests are SKIPPED. Unset it to run them.');
const suite = skipInterop ? describe.skip : describe;

type Me = { isAuthenticated: boolean; user: Record<string, unknown>; idToken: string; refreshToken: string; accessToken: { value: string } };

let server: AppServer;
let op: StartedOp | undefined;
let metadata: Record<string, unknown>;
let agent: Agent;
let browser: OpBrowser;

/** The started provider (its absence means beforeAll failed, which jest reports on every test). */
function started(): StartedOp {
  if (!op) throw new Error('LemonLDAP::NG did not start');
  return op;
}

const me = async () => (await agent.get('/me')).body as Me;

/** The provider's login form (user, password; it posts to its own URL), then its redirect back to the app. */
async function authorize(authorizeUrl: URL): Promise<URL> {
  let stop = await browser.walk(authorizeUrl);
  if (stop.page && /name="password"/.test(stop.page.html)) {
    const fields = formFields(stop.page.html);
    // an unticked checkbox is not sent
    delete fields.checkLogins;
    stop = await browser.walk(stop.url, { form: { ...fields, user: started().user, password: started().password } });
  }
  if (stop.page) throw new Error(`the login did not return to the app: ${describeStop(stop)}`);
  return stop.url;
}

suite('LemonLDAP::NG 2.16 (Debian), client_secret_basic, client id interop-rp', () => {
  beforeAll(async () => {
    server = await startAppServer();
    op = await startOp('llng', server.baseUrl);
    const { app } = createTestApp(
      { issuer: op.issuer, clientId: op.client_id, clientSecret: op.client_secret, baseUrl: server.baseUrl },
      undefined,
      interopRoutes,
    );
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

  it('login: the provider\'s login form, then the callback signs the session in', async () => {
    const callback = await authorize(redirectOf(await agent.get('/login?returnTo=/profile')));
    expect(callback.origin + callback.pathname).toBe(`${server.baseUrl}/callback`);
    expect(redirectOf(await agent.get(pathOf(callback))).pathname).toBe('/profile');
    await expectSignedIn(agent, true);
  });

  it('claims: the ID token is validated and its claims are req.auth.user', async () => {
    const { user } = await me();
    expect(user).toMatchObject({ iss: started().issuer, sub: 'dwho' });
    // LLNG sends aud as an array
    expect(user.aud).toEqual(['interop-rp']);
    expect(typeof user.exp).toBe('number');
    // the profile claims come from userinfo only
    expect(user).not.toHaveProperty('name');
    expect(user).not.toHaveProperty('email');
  });

  it('userinfo: req.auth.fetchUserInfo() returns the user\'s claims for the same sub', async () => {
    const response = await agent.get('/userinfo-now');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ sub: 'dwho', name: 'Doctor Who', email: 'dwho@badwolf.org' });
  });

  it('refresh: a new access token; LLNG does not rotate the refresh token', async () => {
    const before = await me();
    expect(before.refreshToken).toEqual(expect.any(String));
    expect((await agent.post('/refresh-now')).body).toEqual({ refreshed: true });
    const after = await me();
    expect(after.accessToken.value).not.toBe(before.accessToken.value);
    expect(after.refreshToken).toBe(before.refreshToken);
    // and again with the same refresh token
    expect((await agent.post('/refresh-now')).body).toEqual({ refreshed: true });
    await expectSignedIn(agent, true);
  });

  it('revocation: not supported (no revocation_endpoint), so logout does not revoke', () => {
    expect(metadata.revocation_endpoint).toBeUndefined();
  });

  it('logout: end_session with id_token_hint; LLNG ends its session and redirects back to post_logout_redirect_uri', async () => {
    const { idToken } = await me();
    const endSession = redirectOf(await agent.get('/logout'));
    expect(endSession.origin + endSession.pathname).toBe(metadata.end_session_endpoint);
    expect(endSession.searchParams.get('id_token_hint')).toBe(idToken);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${server.baseUrl}/`);
    await expectSignedIn(agent, false);

    const stop = await browser.walk(endSession);
    expect(describeStop(stop)).toBe(`left the provider for ${server.baseUrl}/`);
    // the provider session is over: the next login asks for the password again
    const again = await browser.walk(redirectOf(await agent.get('/login')));
    expect(again.page?.html).toMatch(/name="password"/);
  });

  it('back-channel logout: not supported by LLNG 2.16 (discovery says so)', () => {
    expect(metadata.backchannel_logout_supported).toBe(false);
    expect(started().backchannel_logout).toBe(false);
  });

  it('quirk: LLNG does not decode percent-encoded Basic credentials; form-encoded ones (as sent) are recognised', async () => {
    const tokenEndpoint = String(metadata.token_endpoint);
    const redirectUri = `${server.baseUrl}/callback`;
    const { client_id: id, client_secret: secret } = started();
    const percentEncoded = await probeBasicCredentials(tokenEndpoint, redirectUri, encodeURIComponent(id).replace(/-/g, '%2D'), secret);
    expect(percentEncoded).toMatchObject({ status: 401, error: 'invalid_client' });
    const formEncoded = await probeBasicCredentials(tokenEndpoint, redirectUri, formEncode(id), formEncode(secret));
    expect(formEncoded).toMatchObject({ status: 400, error: 'invalid_grant' });
  });
});
