/**
 * Back-channel logout reaches every session of the `sid` or `sub` it names:
 * sessions kept alive by `rolling: true` past their cookie's original max
 * age, and every one of many sign-ins of one user made at the same moment,
 * on one instance with MemoryStore and on two instances sharing Redis. A
 * logout token is used once, whichever instance receives it again.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import session from 'express-session';
import request from 'supertest';
import { ProviderBrowser } from './fixtures/browser.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { logoutToken } from './support/logout-token.js';
import { redisSpace } from './support/redis.js';
import type { RedisSpace } from './support/redis.js';
import { createTestApp, pathOf, redirectOf, rpOptions, SharedBrowser } from './support/rp-app.js';
import type { TestApp } from './support/rp-app.js';

let tp: TestProvider;
let redis: RedisSpace;

beforeAll(async () => {
  // sid in the ID tokens; the provider's own deliveries go nowhere (the tests post the tokens)
  tp = await startTestProvider({ backchannelLogoutUri: 'http://127.0.0.1:3000/backchannel-logout' });
  redis = await redisSpace();
});
afterAll(async () => {
  await redis.close();
  await tp.close();
});
beforeEach(() => tp.reset());

const CONCURRENT_SIGN_INS = 10;
const options = () => rpOptions(tp, { routes: { backchannelLogout: '/backchannel-logout' } });
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function postLogoutToken(app: TestApp, token: string): Promise<number> {
  return (await request(app.app).post('/backchannel-logout').type('form').send({ logout_token: token })).status;
}

/** `count` browsers, each with its own provider session, whose callbacks for `accountId` are delivered all at once to `apps` in turn. */
async function concurrentSignIns(apps: TestApp[], accountId: string, count: number): Promise<SharedBrowser[]> {
  tp.nextInteraction = { accountId };
  const browsers = Array.from({ length: count }, () => new SharedBrowser());
  const callbacks: URL[] = [];
  for (const [i, browser] of browsers.entries()) {
    const app = apps[i % apps.length] as TestApp;
    callbacks.push(await new ProviderBrowser(tp.issuer).authorize(redirectOf(await browser.get(app.app, '/login', 'text/html'))));
  }
  const answers = await Promise.all(browsers.map((browser, i) => browser.get((apps[i % apps.length] as TestApp).app, pathOf(callbacks[i] as URL), 'text/html')));
  expect(answers.map((answer) => answer.status)).toEqual(Array(count).fill(302));
  return browsers;
}

describe('a back-channel logout reaches every session', () => {
  const setups: [string, () => TestApp[]][] = [
    ['one instance on MemoryStore', () => [createTestApp(options(), new session.MemoryStore())]],
    [
      'two instances sharing Redis',
      () => {
        const store = redis.store();
        return [createTestApp(options(), store), createTestApp(options(), store)];
      },
    ],
  ];

  it.each(setups)(`%s: ${CONCURRENT_SIGN_INS} concurrent sign-ins of one user, all ended by one sub token`, async (_name, makeApps) => {
    const apps = makeApps();
    const accountId = `user-${Date.now()}`;
    const browsers = await concurrentSignIns(apps, accountId, CONCURRENT_SIGN_INS);
    for (const [i, browser] of browsers.entries()) expect(await browser.isSignedIn((apps[i % apps.length] as TestApp).app)).toBe(true);

    expect(await postLogoutToken(apps[0] as TestApp, await logoutToken(tp, { sub: accountId }))).toBe(200);
    const stillSignedIn = [];
    for (const [i, browser] of browsers.entries()) if (await browser.isSignedIn((apps[i % apps.length] as TestApp).app)) stillSignedIn.push(i);
    expect(stillSignedIn).toEqual([]);
  });

  it('with rolling sessions used past their cookie’s original max age', async () => {
    const app = createTestApp(options(), new session.MemoryStore(), undefined, undefined, { rolling: true, cookie: { maxAge: 1000 } });
    const [browser] = await concurrentSignIns([app], 'rolling-user', 1);
    if (!browser) throw new Error('no browser');
    const { sid } = ((await browser.get(app.app, '/me')).body as { user: { sid: string } }).user;
    // used every 300 ms for 2.4 s: the session lives on, well past its first 1 s
    for (let i = 0; i < 8; i++) {
      await wait(300);
      expect(await browser.isSignedIn(app.app)).toBe(true);
    }
    expect(await postLogoutToken(app, await logoutToken(tp, { sid }))).toBe(200);
    expect(await browser.isSignedIn(app.app)).toBe(false);
  });

  it('a logout token accepted by one instance is refused as a replay by another sharing the store', async () => {
    const store = redis.store();
    const a = createTestApp(options(), store);
    const b = createTestApp(options(), store);
    const [browser] = await concurrentSignIns([a], 'replay-user', 1);
    if (!browser) throw new Error('no browser');
    const { sid } = ((await browser.get(a.app, '/me')).body as { user: { sid: string } }).user;
    const token = await logoutToken(tp, { sid });
    expect(await postLogoutToken(a, token)).toBe(200);
    expect(await postLogoutToken(b, token)).toBe(400);
  });
});
