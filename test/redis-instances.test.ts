/**
 * Two app instances behind one load balancer, sharing sessions through
 * Redis (connect-redis): every step of a login may land on either.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { SignJWT } from 'jose';
import request from 'supertest';
import { ProviderBrowser } from './fixtures/browser.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, pathOf, redirectOf, rpOptions, SharedBrowser } from './support/rp-app.js';
import type { TestApp } from './support/rp-app.js';
import { redisUrl } from './support/redis.js';

const redis = createClient({ url: redisUrl });
// every run in its own key space, removed afterwards
const prefix = `erp-test:${randomUUID()}:`;
let tp: TestProvider;
let a: TestApp;
let b: TestApp;

/** An instance of its own (own discovery cache, own single-flight map) over the shared store. */
function instance(): TestApp {
  const options = rpOptions(tp, { routes: { backchannelLogout: '/backchannel-logout' } });
  return createTestApp(options, new RedisStore({ client: redis, prefix }));
}

beforeAll(async () => {
  await redis.connect();
  tp = await startTestProvider({ backchannelLogoutUri: 'http://127.0.0.1:3000/backchannel-logout' });
  a = instance();
  b = instance();
});
afterAll(async () => {
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*` })) if (keys.length) await redis.del(keys);
  await redis.quit();
  await tp.close();
});
beforeEach(() => tp.reset());

/** Login started on `start`, finished on `finish`. */
async function signIn(browser: SharedBrowser, start: TestApp, finish: TestApp): Promise<void> {
  const callback = await new ProviderBrowser(tp.issuer).authorize(redirectOf(await browser.get(start.app, '/login', 'text/html')));
  expect(redirectOf(await browser.get(finish.app, pathOf(callback), 'text/html')).pathname).toBe('/');
}

describe('two instances sharing Redis', () => {
  it('login started on A, callback on B, protected route on A, logout on B seen by A', async () => {
    const browser = new SharedBrowser();
    await signIn(browser, a, b);
    expect((await browser.get(a.app, '/profile')).body).toMatchObject({ sub: 'alice' });
    expect((await browser.get(b.app, '/logout')).status).toBe(302);
    expect(await browser.isSignedIn(a.app)).toBe(false);
    expect((await browser.get(a.app, '/profile')).status).toBe(401);
  });

  it('a refresh on A is not lost to an older copy saved by B, and B does not refresh again', async () => {
    // a 2-s token is due for refresh after 1 s (the leeway is at most half its lifetime)
    tp.ttl.accessToken = 2;
    const browser = new SharedBrowser();
    await signIn(browser, a, a);
    tp.ttl.accessToken = 3600;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const before = ((await browser.get(b.app, '/me')).body as { refreshToken: string }).refreshToken;
    tp.proxy.clearRequests();

    // B loads the session, A refreshes and saves, then B saves its older copy (a cart change)
    let release: () => void = () => undefined;
    let loaded: () => void = () => undefined;
    const loadedOnB = new Promise<void>((resolve) => (loaded = resolve));
    b.app.get('/slow-cart', async (req, res) => {
      loaded();
      await new Promise<void>((resolve) => (release = resolve));
      req.session.cart = 'book';
      res.json({ ok: true });
    });
    const slow = browser.get(b.app, '/slow-cart');
    await loadedOnB;
    expect((await browser.get(a.app, '/profile')).status).toBe(200);
    release();
    await slow;
    expect(((await browser.get(b.app, '/me')).body as { refreshToken: string }).refreshToken).toBe(before);

    expect((await browser.get(b.app, '/profile')).status).toBe(200);
    expect(tp.count('/token')).toBe(1);
    const after = (await browser.get(a.app, '/me')).body as { isAuthenticated: boolean; refreshToken: string };
    expect(after.isAuthenticated).toBe(true);
    expect(after.refreshToken).not.toBe(before);
  });

  it('a back-channel logout received by B signs out the session used on A', async () => {
    const browser = new SharedBrowser();
    await signIn(browser, a, a);
    const { sid } = ((await browser.get(a.app, '/me')).body as { user: { sid: string } }).user;
    const token = await new SignJWT({ iss: tp.issuer, aud: tp.clientId, sid, jti: randomUUID(), events: { 'http://schemas.openid.net/event/backchannel-logout': {} } })
      .setProtectedHeader({ alg: 'RS256', kid: tp.signingKey.kid, typ: 'logout+jwt' })
      .setIssuedAt()
      .sign(tp.signingKey.privateKey);
    expect((await request(b.app).post('/backchannel-logout').type('form').send({ logout_token: token })).status).toBe(200);
    expect(await browser.isSignedIn(a.app)).toBe(false);
  });
});
