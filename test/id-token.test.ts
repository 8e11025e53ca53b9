import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import type { JWTPayload } from 'jose';
import { startTestProvider } from './fixtures/provider.js';
import type { Resign, TestProvider } from './fixtures/provider.js';
import { authorizeAtProvider, createTestApp, deliverEditedCallback, expectError, expectSignedIn, login, pathOf, redirectOf, rpOptions, startLogin } from './support/rp-app.js';
import type { TestApp } from './support/rp-app.js';

let tp: TestProvider;
let rp: TestApp;

beforeAll(async () => {
  tp = await startTestProvider();
  rp = createTestApp(rpOptions(tp));
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

/** Logs in while the proxy rewrites the ID token of the token response. */
async function loginWithTamperedIdToken(tamper: (claims: JWTPayload) => JWTPayload, resign: Resign = 'provider-key') {
  tp.proxy.setFault('/token', { kind: 'tamperIdToken', tamper, resign });
  const agent = request.agent(rp.app);
  return { agent, response: await login(agent, tp) };
}

const now = () => Math.floor(Date.now() / 1000);

describe('ID token validation', () => {
  it('accepts the untampered token through the same proxy path (control)', async () => {
    const { agent, response } = await loginWithTamperedIdToken((claims) => claims);
    expect(redirectOf(response).pathname).toBe('/');
    await expectSignedIn(agent, true);
  });

  it.each<[string, (claims: JWTPayload) => JWTPayload]>([
    ['a wrong nonce', (c) => ({ ...c, nonce: 'another-login' })],
    ['no nonce', ({ nonce: _nonce, ...c }) => c],
    ['a wrong audience', (c) => ({ ...c, aud: 'another-client' })],
    ['an extra untrusted audience', (c) => ({ ...c, aud: [String(c.aud), 'another-client'] })],
    ['a wrong issuer', (c) => ({ ...c, iss: 'https://evil.example' })],
    ['an expired token', (c) => ({ ...c, iat: now() - 7200, exp: now() - 3600 })],
    ['no expiry', ({ exp: _exp, ...c }) => c],
  ])('rejects %s with 400 id_token_invalid and signs nobody in', async (_name, tamper) => {
    const { agent, response } = await loginWithTamperedIdToken(tamper);
    expectError(response, 'id_token_invalid', 400);
    await expectSignedIn(agent, false);
  });

  it.each<[string, Resign]>([
    ['a signature by another key', 'foreign-key'],
    ['no signature (alg none)', 'none'],
  ])('rejects %s with 400 id_token_invalid', async (_name, resign) => {
    const { agent, response } = await loginWithTamperedIdToken((claims) => claims, resign);
    expectError(response, 'id_token_invalid', 400);
    await expectSignedIn(agent, false);
  });

  it('rejects a token signed with an algorithm other than the pinned one', async () => {
    const pinned = createTestApp(rpOptions(tp, { idTokenSigningAlg: 'ES256' }));
    const agent = request.agent(pinned.app);
    const response = await login(agent, tp);
    expectError(response, 'id_token_invalid', 400);
    await expectSignedIn(agent, false);
  });

  it('keeps error messages free of the token', async () => {
    const { response } = await loginWithTamperedIdToken((c) => ({ ...c, aud: 'another-client' }));
    expect(JSON.stringify(response.body)).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });
});

describe('callback parameters', () => {
  it('a callback without code → 400 callback_invalid, no token request', async () => {
    const agent = request.agent(rp.app);
    expectError(await deliverEditedCallback(agent, tp, (query) => query.delete('code')), 'callback_invalid', 400);
    expect(tp.count('/token')).toBe(0);
  });

  it('a foreign iss (RFC 9207 mix-up defence) → 400 callback_invalid, no token request', async () => {
    const agent = request.agent(rp.app);
    const callback = await authorizeAtProvider(tp, await startLogin(agent));
    expect(callback.searchParams.get('iss')).toBe(tp.issuer);
    callback.searchParams.set('iss', 'https://other-provider.example');
    expectError(await agent.get(pathOf(callback)), 'callback_invalid', 400);
    expect(tp.count('/token')).toBe(0);
  });

  it('a missing iss where the provider promises it → 400 callback_invalid', async () => {
    const agent = request.agent(rp.app);
    expectError(await deliverEditedCallback(agent, tp, (query) => query.delete('iss')), 'callback_invalid', 400);
    expect(tp.count('/token')).toBe(0);
  });
});
