/**
 * onLogin: the app's hook runs after the ID token is validated and before
 * the session is signed in. It can store app data in the new session,
 * refuse the login (login_refused, 403) or fail (login_hook_failed, 500):
 * either way nothing is signed in and nothing it stored survives.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { RelyingPartyError } from 'express-relying-party';
import type { LoginDetails, RelyingPartyOptions } from 'express-relying-party';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectError, expectSignedIn, login, redirectOf, rpOptions } from './support/rp-app.js';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

declare module 'express-session' {
  interface SessionData {
    /** the app's own user id, set by the login hook */
    userId?: string;
  }
}

function appWithHook(onLogin: NonNullable<RelyingPartyOptions['onLogin']>, overrides: Partial<RelyingPartyOptions> = {}) {
  return createTestApp(rpOptions(tp, { onLogin, ...overrides }), undefined, (app) => {
    app.get('/user-id', (req, res) => res.json({ userId: req.session.userId ?? null }));
  }).app;
}

describe('onLogin option', () => {
  it('is called once with the validated claims, the tokens and the provider name, and what it stores stays in the new session', async () => {
    const calls: LoginDetails[] = [];
    const agent = request.agent(
      appWithHook(async (req, details) => {
        calls.push(details);
        await new Promise((resolve) => setTimeout(resolve, 10));
        req.session.userId = `local-${String(details.claims?.sub)}`;
      }),
    );
    expect(redirectOf(await login(agent, tp)).pathname).toBe('/');
    await expectSignedIn(agent, true);
    expect((await agent.get('/user-id')).body).toEqual({ userId: 'local-alice' });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ provider: 'default', claims: { sub: 'alice', email: 'alice@example.test' } });
    expect(calls[0]?.tokens).toMatchObject({ access_token: expect.any(String), id_token: expect.any(String), token_type: expect.stringMatching(/bearer/i) });
    expect(calls[0]?.userinfo).toBeUndefined();
  });

  it('gets the userinfo claims with fetchUserInfo', async () => {
    let details: LoginDetails | undefined;
    const agent = request.agent(appWithHook((_req, d) => void (details = d), { fetchUserInfo: true }));
    await login(agent, tp);
    expect(details?.userinfo).toMatchObject({ sub: 'alice' });
  });

  it('refuses a login by throwing login_refused: 403, nobody signed in, nothing it stored kept', async () => {
    const agent = request.agent(
      appWithHook((req, { claims }) => {
        req.session.userId = 'half-provisioned';
        if (!String(claims?.email).endsWith('@corp.example')) throw new RelyingPartyError('login_refused', 'Only corp.example accounts may sign in.');
      }),
    );
    const response = await login(agent, tp);
    expectError(response, 'login_refused', 403);
    expect((response.body as { message: string }).message).toBe('Only corp.example accounts may sign in.');
    await expectSignedIn(agent, false);
    expect((await agent.get('/user-id')).body).toEqual({ userId: null });
  });

  it('any other error: 500 login_hook_failed with the original as cause, nobody signed in', async () => {
    const agent = request.agent(
      appWithHook(() => {
        throw new Error('database down');
      }),
    );
    const response = await login(agent, tp);
    expectError(response, 'login_hook_failed', 500);
    expect((response.body as { causes: string[] }).causes.join(' ')).toContain('database down');
    await expectSignedIn(agent, false);
  });

  it('must be a function', () => {
    expect(() => createTestApp(rpOptions(tp, { onLogin: 'provision' as unknown as RelyingPartyOptions['onLogin'] }))).toThrow(/onLogin/);
  });
});
