/**
 * requiresAuth({ acr, maxAge }): how and how recently the user
 * authenticated, against a real provider that honours acr_values and
 * max_age (and, scripted, one that ignores them).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { RequestHandler } from 'express';
import request from 'supertest';
import type { Response } from 'supertest';
import { requiresAuth } from 'express-relying-party';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { ProviderBrowser } from './fixtures/browser.js';
import { createTestApp, expectError, expectSignedIn, redirectOf, rpOptions, sessionCookie } from './support/rp-app.js';
import type { TestApp } from './support/rp-app.js';
import { HTML, LOA1, LOA2, LOA3, answerAtProvider, me, secondsAgo, signInWith, stepUpParams, stepUpStart } from './support/step-up.js';

let tp: TestProvider;
let rp: TestApp;
const held = { arrived: () => {}, released: Promise.resolve() };

beforeAll(async () => {
  tp = await startTestProvider({ extraScopes: ['payments:write'] });
  rp = createTestApp(rpOptions(tp), undefined, (app) => {
    const user: RequestHandler = (req, res) => {
      res.json(req.auth.user);
    };
    app.get('/strong', requiresAuth({ acr: LOA2 }), user);
    app.post('/strong', requiresAuth({ acr: LOA2 }), user);
    app.get('/either', requiresAuth({ acr: [LOA3, LOA2] }), user);
    app.get('/fresh', requiresAuth({ maxAge: 300 }), user);
    app.get('/pay', requiresAuth({ acr: LOA2, maxAge: 300, scopes: ['payments:write'] }), user);
    // a request that is in flight while something else happens to its session, and then writes to it
    app.get('/slow', async (req, res) => {
      held.arrived();
      await held.released;
      req.session.cart = 'written after the sign-out';
      res.json({ ok: true });
    });
  });
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

const RFC9470_ACR = 'Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:test:loa:2"';

function expectChallenge(response: Response, challenge: string): void {
  expect({ status: response.status, challenge: response.headers['www-authenticate'], body: response.body as unknown }).toEqual({
    status: 401,
    challenge,
    body: { error: 'insufficient_user_authentication' },
  });
}

describe('requiresAuth({ acr })', () => {
  it('lets a sign-in whose acr is accepted through', async () => {
    const agent = request.agent(rp.app);
    await signInWith(agent, tp, { accountId: 'alice', acr: LOA2 });
    const response = await agent.get('/strong').set('Accept', 'application/json');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ sub: 'alice', acr: LOA2 });
  });

  describe('when the acr is not accepted', () => {
    it('steps a browser up with exactly acr_values, the configured scope and no max_age, and lets the new sign-in through', async () => {
      const agent = request.agent(rp.app);
      const browser = await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
      const before = await me(agent);

      const authorize = await stepUpStart(agent, '/strong?tab=2');
      expect(authorize.origin).toBe(tp.issuer);
      expect(stepUpParams(authorize)).toEqual({ scope: 'openid profile email', acr_values: LOA2, max_age: null, prompt: null });

      const callback = await answerAtProvider(agent, tp, browser, authorize, { accountId: 'alice', acr: LOA2 });
      expect(redirectOf(callback).href).toBe('http://127.0.0.1:3000/strong?tab=2');
      // a new session id, as at every sign-in
      expect(sessionCookie(callback)).toBeDefined();
      const page = await agent.get('/strong?tab=2').set('Accept', HTML);
      expect(page.status).toBe(200);
      expect(page.body).toMatchObject({ sub: 'alice', acr: LOA2 });
      expect((await me(agent)).idToken).not.toBe(before.idToken);
    });

    it('asks for every accepted value, in the order given', async () => {
      const agent = request.agent(rp.app);
      await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
      expect(stepUpParams(await stepUpStart(agent, '/either')).acr_values).toBe(`${LOA3} ${LOA2}`);
    });

    it('answers an API request with 401 and the RFC 9470 challenge naming the acr values', async () => {
      const agent = request.agent(rp.app);
      await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
      expectChallenge(await agent.get('/strong').set('Accept', 'application/json'), RFC9470_ACR);
      expectChallenge(await agent.post('/strong').set('Accept', HTML).send(), RFC9470_ACR);
      const either = await agent.get('/either');
      expect(either.headers['www-authenticate']).toContain(`acr_values="${LOA3} ${LOA2}"`);
    });

    it('answers a HEAD page load with the challenge, starting no login', async () => {
      const agent = request.agent(rp.app);
      await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
      const requests = tp.requests.length;
      const response = await agent.head('/strong').set('Accept', HTML);
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toBe(RFC9470_ACR);
      expect(tp.requests.length).toBe(requests);
    });

    it('treats a sign-in without acr as not accepted', async () => {
      const agent = request.agent(rp.app);
      await signInWith(agent, tp, { accountId: 'alice' });
      expect((await me(agent)).user).not.toHaveProperty('acr');
      expect((await agent.get('/strong')).status).toBe(401);
    });
  });

  describe('when the provider answers the step-up without the acr asked for', () => {
    it('refuses it with 403 acr_not_satisfied and keeps the session as it was, without redirecting', async () => {
      const agent = request.agent(rp.app);
      const browser = await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
      const before = await me(agent);
      const callback = await answerAtProvider(agent, tp, browser, await stepUpStart(agent, '/strong'), { accountId: 'alice', acr: LOA1 });
      expectError(callback, 'acr_not_satisfied', 403);
      expect(callback.headers.location).toBeUndefined();
      const after = await me(agent);
      expect(after).toEqual(before);
    });

    it('ends a second failed step-up in a row in the error as well, never in another redirect', async () => {
      const agent = request.agent(rp.app);
      const browser = await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
      for (let attempt = 0; attempt < 2; attempt++) {
        const callback = await answerAtProvider(agent, tp, browser, await stepUpStart(agent, '/strong'), { accountId: 'alice', acr: LOA1 });
        expectError(callback, 'acr_not_satisfied', 403);
      }
      expect(tp.count('/auth')).toBe(3);
      await expectSignedIn(agent, true);
    });

    it('refuses a step-up answered by another user with 400 step_up_user_mismatch and signs the session out', async () => {
      const agent = request.agent(rp.app);
      await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
      // at the provider, in a browser signed out there: someone else signs in
      const callback = await answerAtProvider(agent, tp, new ProviderBrowser(tp.issuer), await stepUpStart(agent, '/strong'), { accountId: 'bob', acr: LOA2 });
      expectError(callback, 'step_up_user_mismatch', 400);
      await expectSignedIn(agent, false);
      expect((await me(agent)).user).toBeUndefined();
    });

    it('ends the signed-in session for good: a request in flight cannot save it signed in again', async () => {
      const agent = request.agent(rp.app);
      await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
      const authorize = await stepUpStart(agent, '/strong');
      const signedInIds = Object.keys((rp.store as TestApp['store'] & { sessions: object }).sessions);
      let release = () => {};
      held.released = new Promise((resolve) => (release = resolve));
      const arrived = new Promise<void>((resolve) => (held.arrived = resolve));
      const inFlight = agent.get('/slow').then((response) => response);
      await arrived;

      const callback = await answerAtProvider(agent, tp, new ProviderBrowser(tp.issuer), authorize, { accountId: 'bob', acr: LOA2 });
      expectError(callback, 'step_up_user_mismatch', 400);
      // the signed-in session's id is gone from the store
      expect(Object.keys((rp.store as TestApp['store'] & { sessions: object }).sessions)).not.toEqual(expect.arrayContaining(signedInIds));
      release();
      expect((await inFlight).status).toBe(200);
      await expectSignedIn(agent, false);
    });

    it('refuses a step-up whose pending login names another issuer, signing the session out', async () => {
      // the ID token's iss is checked by openid-client too; this is the step-up's own comparison
      const agent = request.agent(rp.app);
      const browser = await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
      const authorize = await stepUpStart(agent, '/strong');
      await editPendingLogins(rp, (login) => {
        login.asked = { ...login.asked, iss: 'https://other-issuer.example' };
      });
      const callback = await answerAtProvider(agent, tp, browser, authorize, { accountId: 'alice', acr: LOA2 });
      expectError(callback, 'step_up_user_mismatch', 400);
      await expectSignedIn(agent, false);
    });
  });
});

describe('requiresAuth({ maxAge })', () => {
  it('lets a sign-in that authenticated within maxAge through: a signed-out visit asks for max_age at once', async () => {
    const agent = request.agent(rp.app);
    const authorize = await stepUpStart(agent, '/fresh');
    expect(stepUpParams(authorize).max_age).toBe('300');
    const callback = await answerAtProvider(agent, tp, new ProviderBrowser(tp.issuer), authorize, { accountId: 'alice' });
    expect(redirectOf(callback).pathname).toBe('/fresh');
    const response = await agent.get('/fresh').set('Accept', HTML);
    expect(response.status).toBe(200);
    expect((response.body as { auth_time: number }).auth_time).toBeGreaterThan(secondsAgo(60));
  });

  it('steps up a sign-in whose ID token has no auth_time', async () => {
    const agent = request.agent(rp.app);
    await signInWith(agent, tp, { accountId: 'alice' });
    expect((await me(agent)).user).not.toHaveProperty('auth_time');
    expect(stepUpParams(await stepUpStart(agent, '/fresh')).max_age).toBe('300');
  });

  it('steps up a sign-in that is too old with exactly max_age, the configured scope and no acr_values', async () => {
    const agent = request.agent(rp.app);
    const browser = await signInWith(agent, tp, { accountId: 'alice', authTime: secondsAgo(3600) });
    const authorize = await stepUpStart(agent, '/fresh');
    expect(stepUpParams(authorize)).toEqual({ scope: 'openid profile email', acr_values: null, max_age: '300', prompt: null });
    const callback = await answerAtProvider(agent, tp, browser, authorize, { accountId: 'alice' });
    // the provider asked for the password again: its session was an hour old
    expect(tp.interactions.at(-1)?.prompt).toBe('login');
    expect(redirectOf(callback).pathname).toBe('/fresh');
    expect((await agent.get('/fresh')).status).toBe(200);
  });

  it.each([
    [330, 'within 300 s plus the default 60 s of clock tolerance: signed in', 302],
    [400, 'beyond the clock tolerance: refused', 403],
  ])('takes an authentication %i s old as %s', async (age, _what, status) => {
    const agent = request.agent(rp.app);
    const callback = await answerAtProvider(agent, tp, new ProviderBrowser(tp.issuer), await stepUpStart(agent, '/fresh'), { accountId: 'alice', authTime: secondsAgo(age) });
    expect(callback.status).toBe(status);
  });

  it('answers an API request with 401 and the RFC 9470 max_age challenge', async () => {
    const agent = request.agent(rp.app);
    await signInWith(agent, tp, { accountId: 'alice' });
    expectChallenge(
      await agent.get('/fresh'),
      'Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="300"',
    );
  });

  describe('when the provider answers the step-up with an old authentication', () => {
    it('refuses an auth_time older than max_age with 403 max_age_not_satisfied, keeping the session', async () => {
      const agent = request.agent(rp.app);
      const browser = await signInWith(agent, tp, { accountId: 'alice', authTime: secondsAgo(3600) });
      const before = await me(agent);
      const callback = await answerAtProvider(agent, tp, browser, await stepUpStart(agent, '/fresh'), { accountId: 'alice', authTime: secondsAgo(3600) });
      expectError(callback, 'max_age_not_satisfied', 403);
      expect(await me(agent)).toEqual(before);
    });

    it('refuses an ID token without auth_time', async () => {
      const agent = request.agent(rp.app);
      const browser = await signInWith(agent, tp, { accountId: 'alice' });
      const authorize = await stepUpStart(agent, '/fresh');
      tp.proxy.setFault('/token', { kind: 'tamperIdToken', tamper: ({ auth_time: _dropped, ...claims }) => claims }, { times: 1 });
      const callback = await answerAtProvider(agent, tp, browser, authorize, { accountId: 'alice' });
      expectError(callback, 'max_age_not_satisfied', 403);
    });
  });
});

describe('requiresAuth({ acr, maxAge, scopes })', () => {
  it('asks for everything the route requires at once, even what the sign-in already has', async () => {
    const agent = request.agent(rp.app);
    const browser = await signInWith(agent, tp, { accountId: 'alice', acr: LOA2 });
    const authorize = await stepUpStart(agent, '/pay');
    expect(stepUpParams(authorize)).toEqual({ scope: 'openid profile email payments:write', acr_values: LOA2, max_age: '300', prompt: null });
    const callback = await answerAtProvider(agent, tp, browser, authorize, { accountId: 'alice', acr: LOA2 });
    expect(redirectOf(callback).pathname).toBe('/pay');
    expect((await agent.get('/pay')).status).toBe(200);
    expect((await me(agent)).accessToken?.scope).toBe('openid profile email payments:write');
  });

  it('sends a signed-out browser to a login that asks for the requirement at once, and checks it at the callback', async () => {
    const agent = request.agent(rp.app);
    const authorize = await stepUpStart(agent, '/pay');
    expect(stepUpParams(authorize)).toEqual({ scope: 'openid profile email payments:write', acr_values: LOA2, max_age: '300', prompt: null });
    const weak = await answerAtProvider(agent, tp, new ProviderBrowser(tp.issuer), authorize, { accountId: 'alice', acr: LOA1 });
    expectError(weak, 'acr_not_satisfied', 403);
    await expectSignedIn(agent, false);
    const again = await answerAtProvider(agent, tp, new ProviderBrowser(tp.issuer), await stepUpStart(agent, '/pay'), { accountId: 'alice', acr: LOA2 });
    expect(redirectOf(again).pathname).toBe('/pay');
    expect((await agent.get('/pay')).status).toBe(200);
  });
});

/** Edits the pending logins of every stored session, as only someone with access to the store could. */
async function editPendingLogins(app: TestApp, edit: (login: { asked?: Record<string, unknown> }) => void): Promise<void> {
  const store = app.store as TestApp['store'] & { sessions: Record<string, string> };
  for (const [id, json] of Object.entries(store.sessions)) {
    const data = JSON.parse(json) as { relyingParty?: { logins?: Record<string, { asked?: Record<string, unknown> }> } };
    for (const login of Object.values(data.relyingParty?.logins ?? {})) edit(login);
    store.sessions[id] = JSON.stringify(data);
  }
}
