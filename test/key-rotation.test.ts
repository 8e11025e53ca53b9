/**
 * The provider rotates its signing key. The JWKS is kept for up to 5
 * minutes; an ID token with an unknown `kid` makes the app refetch it once
 * the copy is 10 s old (openid-client alone waits a minute), so a forged
 * `kid` causes at most one refetch per 10 s. Only `Date` is faked to move
 * through those windows, everything else runs for real.
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

/** The provider stops signing with the next key: tokens are signed with the current (old) key again. */
function signWithCurrentKey(): void {
  tp.proxy.clearFaults();
}

describe('signing key rotation at the provider', () => {
  it('a new kid 11 s after the last JWKS fetch is accepted after one refetch', async () => {
    const { app } = createTestApp(rpOptions(tp));
    expect(redirectOf(await login(request.agent(app), tp)).pathname).toBe('/');
    expect(tp.count('/jwks')).toBe(1);

    publish(publicJwks.current, publicJwks.next);
    signWithNextKey();
    advance(11);
    const agent = request.agent(app);
    expect(redirectOf(await login(agent, tp)).pathname).toBe('/');
    await expectSignedIn(agent, true);
    expect(tp.count('/jwks')).toBe(2);

    // the refetched set is used from then on, for both keys
    expect(redirectOf(await login(request.agent(app), tp)).pathname).toBe('/');
    tp.proxy.setFault('/token', { kind: 'tamperIdToken', tamper: (claims) => claims, resign: 'provider-key' });
    expect(redirectOf(await login(request.agent(app), tp)).pathname).toBe('/');
    expect(tp.count('/jwks')).toBe(2);
  });

  it('a new kid after a minute is accepted too (openid-client refetches by itself)', async () => {
    const { app } = createTestApp(rpOptions(tp));
    await login(request.agent(app), tp);
    publish(publicJwks.current, publicJwks.next);
    signWithNextKey();
    advance(61);
    expect(redirectOf(await login(request.agent(app), tp)).pathname).toBe('/');
    expect(tp.count('/jwks')).toBe(2);
  });

  it('a new kid within 10 s of the last fetch is refused without a refetch, and accepted once 10 s have passed', async () => {
    const { app } = createTestApp(rpOptions(tp));
    await login(request.agent(app), tp);
    publish(publicJwks.current, publicJwks.next);
    signWithNextKey();
    advance(5);
    expectError(await login(request.agent(app), tp), 'id_token_invalid', 400);
    expect(tp.count('/jwks')).toBe(1);
    advance(6);
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

  it('a key withdrawn at a rotation is refused after the refetch that found the new one', async () => {
    const { app } = createTestApp(rpOptions(tp));
    await login(request.agent(app), tp);
    publish(publicJwks.next);
    signWithNextKey();
    advance(11);
    expect(redirectOf(await login(request.agent(app), tp)).pathname).toBe('/');
    expect(tp.count('/jwks')).toBe(2);

    // a token signed with the withdrawn key: its kid is unknown now, a refetch does not bring it back
    signWithCurrentKey();
    publish(publicJwks.next);
    const agent = request.agent(app);
    expectError(await login(agent, tp), 'id_token_invalid', 400);
    advance(11);
    expectError(await login(agent, tp), 'id_token_invalid', 400);
    await expectSignedIn(agent, false);
    expect(tp.count('/jwks')).toBe(3);
  });

  it('forged kids make the app refetch at most once per 10 s, even from concurrent logins', async () => {
    const { app } = createTestApp(rpOptions(tp));
    await login(request.agent(app), tp);
    const forged = { privateKey: next.privateKey, kid: 'forged-kid' };
    tp.proxy.setFault('/token', { kind: 'tamperIdToken', tamper: (claims) => claims, resign: forged });
    for (let round = 0; round < 3; round++) {
      advance(round === 0 ? 11 : 4);
      const answers = await Promise.all(Array.from({ length: 4 }, () => login(request.agent(app), tp)));
      for (const answer of answers) expectError(answer, 'id_token_invalid', 400);
    }
    // at 11 s one refetch; at 15 s and 19 s the copy is younger than 10 s
    expect(tp.count('/jwks')).toBe(2);
    advance(4);
    expectError(await login(request.agent(app), tp), 'id_token_invalid', 400);
    expect(tp.count('/jwks')).toBe(3);
  });
});
