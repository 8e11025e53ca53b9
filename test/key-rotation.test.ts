/**
 * The provider rotates its signing key. openid-client keeps the JWKS it
 * fetched for up to 5 minutes and refetches early on an unknown `kid` once
 * the copy is a minute old; only `Date` is faked to move through those
 * windows, everything else runs for real.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey } from 'jose';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectError, expectSignedIn, login, redirectOf, rpOptions } from './support/rp-app.js';

let tp: TestProvider;
let next: { privateKey: CryptoKey; kid: string };
let publicJwks: { current: Record<string, unknown>; next: Record<string, unknown> };

beforeAll(async () => {
  tp = await startTestProvider();
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  next = { privateKey, kid: 'rotated-key' };
  const served = (await (await fetch(`${tp.issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
  const current = served.keys[0];
  if (!current) throw new Error('the provider serves no key');
  publicJwks = { current, next: { ...(await exportJWK(publicKey)), kid: next.kid, alg: 'RS256', use: 'sig' } };
});
afterAll(() => tp.close());
beforeEach(() => {
  tp.reset();
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] });
});
afterEach(() => {
  jest.useRealTimers();
});

/** The provider now publishes these keys. */
function publish(...keys: Record<string, unknown>[]): void {
  tp.proxy.setFault('/jwks', { kind: 'status', status: 200, body: JSON.stringify({ keys }), contentType: 'application/json' });
}

/** Moves the clock on, as if that much time passed. */
function advance(seconds: number): void {
  jest.setSystemTime(Date.now() + seconds * 1000);
}

/** ID tokens are signed with the next key from now on. */
function signWithNextKey(): void {
  tp.proxy.setFault('/token', { kind: 'tamperIdToken', tamper: (claims) => claims, resign: next });
}

describe('signing key rotation at the provider', () => {
  it('tokens signed with a new kid are accepted after one JWKS refetch', async () => {
    const { app } = createTestApp(rpOptions(tp));
    expect(redirectOf(await login(request.agent(app), tp)).pathname).toBe('/');
    expect(tp.count('/jwks')).toBe(1);

    publish(publicJwks.current, publicJwks.next);
    signWithNextKey();
    advance(61);
    const agent = request.agent(app);
    expect(redirectOf(await login(agent, tp)).pathname).toBe('/');
    await expectSignedIn(agent, true);
    expect(tp.count('/jwks')).toBe(2);

    // and the refetched set is used from then on
    expect(redirectOf(await login(request.agent(app), tp)).pathname).toBe('/');
    expect(tp.count('/jwks')).toBe(2);
  });

  it('tokens signed with a removed key are rejected once the cached set expires', async () => {
    const { app } = createTestApp(rpOptions(tp));
    await login(request.agent(app), tp);

    // the old key is withdrawn; a token still signed with it arrives
    publish(publicJwks.next);
    advance(301);
    const agent = request.agent(app);
    expectError(await login(agent, tp), 'id_token_invalid', 400);
    await expectSignedIn(agent, false);
    expect(tp.count('/jwks')).toBe(2);
  });

  it('an unknown kid does not make every login refetch the JWKS', async () => {
    const { app } = createTestApp(rpOptions(tp));
    await login(request.agent(app), tp);
    signWithNextKey();
    advance(61);
    for (let i = 0; i < 3; i++) expectError(await login(request.agent(app), tp), 'id_token_invalid', 400);
    expect(tp.count('/jwks')).toBe(2);
  });
});
