import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectError, expectSignedIn, login, redirectOf, rpOptions } from './support/rp-app.js';
import type { Agent } from './support/rp-app.js';
import type { RelyingPartyOptions } from 'express-relying-party';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

type Me = { isAuthenticated: boolean; refreshToken: string; accessToken: { value: string; expiresAt: number } };
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

const me = async (agent: Agent) => (await agent.get('/me')).body as Me;
const html = 'text/html';

/** The app under test, with a short provider timeout for the fault cases. */
function expiringApp(overrides: Partial<RelyingPartyOptions> = {}, extend?: Parameters<typeof createTestApp>[2]) {
  return createTestApp(rpOptions(tp, { httpTimeout: 500, ...overrides }), undefined, extend).app;
}

/**
 * Signs in with an access token of `accessTokenTtl` seconds, then lets new
 * tokens live an hour, and forgets the login's provider requests.
 */
async function signedIn(app: Parameters<typeof request.agent>[0], accessTokenTtl = 60): Promise<{ agent: Agent; before: Me }> {
  tp.ttl.accessToken = accessTokenTtl;
  const agent = request.agent(app);
  await login(agent, tp);
  tp.ttl.accessToken = 3600;
  const before = await me(agent);
  tp.proxy.clearRequests();
  return { agent, before };
}

/**
 * Signs in with a 2-second access token and waits until it is due for a
 * refresh: the effective leeway is at most half a token's lifetime (1 s).
 */
async function signedInAndDue(app: Parameters<typeof request.agent>[0]): Promise<{ agent: Agent; before: Me }> {
  const signed = await signedIn(app, 2);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  return signed;
}

describe('automatic refresh in requiresAuth()', () => {
  it('refreshes an expiring access token once before the route runs, and stores the rotated tokens', async () => {
    const { agent, before } = await signedInAndDue(expiringApp());
    expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(200);
    expect(tp.count('/token')).toBe(1);
    const after = await me(agent);
    expect(after.accessToken.value).not.toBe(before.accessToken.value);
    expect(after.accessToken.expiresAt).toBeGreaterThan(before.accessToken.expiresAt + 3000);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    // the new token is fresh: no second refresh
    await agent.get('/profile').set('Accept', 'application/json');
    expect(tp.count('/token')).toBe(1);
  });

  it('leaves a token outside the leeway alone', async () => {
    const { agent } = await signedIn(expiringApp({ refreshLeeway: 1000 }));
    await agent.get('/profile').set('Accept', 'application/json');
    expect(tp.count('/token')).toBe(0);
  });

  it('never uses a leeway of more than half the token lifetime: a 2-s token is not refreshed on every request', async () => {
    // refreshLeeway (60 s by default) is longer than the token lives
    const { agent } = await signedIn(expiringApp(), 2);
    for (let i = 0; i < 3; i++) expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(200);
    expect(tp.count('/token')).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(200);
    expect(tp.count('/token')).toBe(1);
  });

  it('does nothing with autoRefresh: false', async () => {
    const { agent } = await signedInAndDue(expiringApp({ autoRefresh: false }));
    expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(200);
    expect(tp.count('/token')).toBe(0);
  });

  it('10 concurrent requests after expiry make exactly one refresh-token grant, and all succeed', async () => {
    const { agent, before } = await signedInAndDue(expiringApp());
    // a slow token endpoint makes sure all ten are waiting at once
    tp.proxy.setFault('/token', { kind: 'delay', ms: 200 });
    const responses = await Promise.all(Array.from({ length: 10 }, () => agent.get('/profile').set('Accept', 'application/json')));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(tp.count('/token', 'POST')).toBe(1);
    const after = await me(agent);
    expect(after.isAuthenticated).toBe(true);
    expect(after.refreshToken).not.toBe(before.refreshToken);
  });

  it('a refresh token the provider refuses signs the session out: 401 for APIs, login for browsers, no 5xx', async () => {
    const app = expiringApp();
    const { agent, before } = await signedInAndDue(app);
    const revoked = await fetch(`${tp.issuer}/token/revocation`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${tp.clientId}:${tp.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ token: before.refreshToken, token_type_hint: 'refresh_token' }),
    });
    expect(revoked.status).toBe(200);
    const api = await agent.get('/profile').set('Accept', 'application/json');
    expect(api.status).toBe(401);
    expect(api.body).toEqual({ error: 'unauthenticated' });
    await expectSignedIn(agent, false);
    expect(redirectOf(await agent.get('/profile').set('Accept', html)).origin).toBe(tp.issuer);
  });

  it.each<['down' | 'slow', string, number]>([
    ['down', 'provider_unreachable', 503],
    ['slow', 'provider_timeout', 504],
  ])('a provider that is %s gives %s %d and the session keeps its tokens for a later retry', async (state, code, status) => {
    const { agent, before } = await signedInAndDue(expiringApp());
    if (state === 'down') await tp.proxy.down();
    else tp.proxy.setFault('/token', { kind: 'hang' });
    try {
      expectError(await agent.get('/profile').set('Accept', 'application/json'), code, status);
    } finally {
      if (state === 'down') await tp.proxy.up();
      tp.proxy.clearFaults();
    }
    const kept = await me(agent);
    expect(kept.isAuthenticated).toBe(true);
    expect(kept.refreshToken).toBe(before.refreshToken);
    expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(200);
    expect((await me(agent)).refreshToken).not.toBe(before.refreshToken);
  });
});

describe('a request that saves an older copy of the session (lost update)', () => {
  it('does not lose the refreshed tokens: the next request picks them up without another grant', async () => {
    let release: () => void = () => undefined;
    let loaded: () => void = () => undefined;
    const slowLoaded = new Promise<void>((resolve) => (loaded = resolve));
    const app = expiringApp({}, (app) => {
      // loads the session, waits, then changes app data: express-session then saves its whole, older copy
      app.get('/slow-cart', async (req, res) => {
        loaded();
        await new Promise<void>((resolve) => (release = resolve));
        req.session.cart = 'book';
        res.json({ ok: true });
      });
    });
    const { agent, before } = await signedInAndDue(app);

    const slow = agent.get('/slow-cart').then((r) => r);
    await slowLoaded;
    expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(200);
    expect(tp.count('/token')).toBe(1);
    release();
    await slow;
    // the store now holds the stale copy: old (rotated-away) refresh token, expiring access token
    expect((await me(agent)).refreshToken).toBe(before.refreshToken);

    expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(200);
    expect(tp.count('/token')).toBe(1);
    const after = await me(agent);
    expect(after.isAuthenticated).toBe(true);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect((await agent.get('/cart/show')).body).toEqual({ cart: 'book' });
  });
});

describe('two requests holding different stale copies of the session', () => {
  it('share one grant for the refresh token they both present to the provider', async () => {
    const gates = { cart: deferred(), token: deferred() };
    const loaded = { cart: deferred(), token: deferred() };
    const app = expiringApp({}, (app) => {
      app.get('/slow-cart', async (req, res) => {
        loaded.cart.resolve();
        await gates.cart.promise;
        req.session.cart = 'book';
        res.json({ ok: true });
      });
      app.get('/slow-token', async (req, res) => {
        loaded.token.resolve();
        await gates.token.promise;
        res.json({ value: (await req.auth.getAccessToken())?.value ?? null });
      });
    });
    const { agent } = await signedInAndDue(app);
    tp.ttl.accessToken = 2;

    // S holds the first refresh token; P refreshes it; A then holds the second
    const s = agent.get('/slow-cart').then((r) => r);
    await loaded.cart.promise;
    expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(200);
    const a = agent.get('/slow-token').then((r) => r);
    await loaded.token.promise;
    // S saves its stale copy: the store holds the first refresh token again
    gates.cart.resolve();
    await s;
    await new Promise((resolve) => setTimeout(resolve, 1100));

    // A (second token, due) and B (stale copy: first token, caught up to the second) at once
    tp.proxy.clearRequests();
    tp.proxy.setFault('/token', { kind: 'holdResponse', ms: 300 });
    gates.token.resolve();
    const b = agent.get('/profile').set('Accept', 'application/json');
    const [answerA, answerB] = await Promise.all([a, b]);
    expect([answerA.status, answerB.status]).toEqual([200, 200]);
    expect(tp.count('/token', 'POST')).toBe(1);
    await expectSignedIn(agent, true);
  });
});

describe('req.auth.refresh(), getAccessToken()', () => {
  it('refresh() forces a refresh; getAccessToken() refreshes only when due', async () => {
    const app = createTestApp(rpOptions(tp, { refreshLeeway: 1000 }), undefined, (app) => {
      app.post('/force-refresh', async (req, res) => {
        res.json({ refreshed: await req.auth?.refresh() });
      });
      app.get('/token', async (req, res) => {
        res.json({ value: (await req.auth?.getAccessToken())?.value ?? null });
      });
    }).app;
    const { agent, before } = await signedIn(app);
    expect(((await agent.get('/token')).body as { value: string }).value).toBe(before.accessToken.value);
    expect(tp.count('/token')).toBe(0);
    expect((await agent.post('/force-refresh')).body).toEqual({ refreshed: true });
    expect(tp.count('/token')).toBe(1);
    expect(((await agent.get('/token')).body as { value: string }).value).not.toBe(before.accessToken.value);
  });

  it('refresh() without a session is an unauthenticated error', async () => {
    const app = createTestApp(rpOptions(tp), undefined, (app) => {
      app.post('/force-refresh', async (req, res) => {
        res.json({ refreshed: await req.auth?.refresh() });
      });
    }).app;
    expectError(await request(app).post('/force-refresh'), 'unauthenticated', 401);
  });
});
