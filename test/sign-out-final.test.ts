/**
 * A sign-out is final: a request that was in flight when the user signed
 * out (a refresh held up at the token endpoint, a userinfo call, a second
 * callback) cannot make the session signed in again afterwards. The fault
 * proxy lets the provider act on the request at once and holds its answer,
 * so the provider has issued the new tokens before the sign-out. On
 * MemoryStore and on Redis, for /logout and for back-channel logout.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import session from 'express-session';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { logoutToken } from './support/logout-token.js';
import { redisSpace } from './support/redis.js';
import type { RedisSpace } from './support/redis.js';
import { authorizeAtProvider, createTestApp, expectSignedIn, login, pathOf, rpOptions, startLogin } from './support/rp-app.js';
import type { Agent } from './support/rp-app.js';

let tp: TestProvider;
let redis: RedisSpace;

beforeAll(async () => {
  // sid in the ID tokens, for the back-channel logout tokens
  tp = await startTestProvider({ backchannelLogoutUri: 'http://127.0.0.1:3000/backchannel-logout' });
  redis = await redisSpace();
});
afterAll(async () => {
  await redis.close();
  await tp.close();
});
beforeEach(() => tp.reset());

const HOLD_MS = 1500;
const json = 'application/json';
const stores: [string, () => session.Store][] = [
  ['MemoryStore', () => new session.MemoryStore()],
  ['Redis', () => redis.store()],
];
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once the provider has received `count` requests to `path`. */
async function reached(path: string, count = 1): Promise<void> {
  for (let waited = 0; tp.count(path, 'POST') < count; waited += 10) {
    if (waited > 5000) throw new Error(`no request to ${path} reached the provider`);
    await wait(10);
  }
}

function appWith(store: session.Store) {
  return createTestApp(rpOptions(tp, { routes: { backchannelLogout: '/backchannel-logout' }, httpTimeout: 5000 }), store, (app) => {
    app.get('/userinfo', async (req, res) => {
      res.json(await req.auth.fetchUserInfo());
    });
  }).app;
}

/** The two ways a session is signed out while a request is in flight. */
const signOuts: [string, (agent: Agent, app: ReturnType<typeof appWith>) => Promise<void>][] = [
  [
    '/logout',
    async (agent) => {
      expect((await agent.get('/logout')).status).toBe(302);
    },
  ],
  [
    'back-channel logout',
    async (agent, app) => {
      const { sid } = ((await agent.get('/me')).body as { user: { sid: string } }).user;
      const response = await request(app).post('/backchannel-logout').type('form').send({ logout_token: await logoutToken(tp, { sid }) });
      expect(response.status).toBe(200);
    },
  ],
];

describe.each(stores)('on %s', (_name, makeStore) => {
  describe.each(signOuts)('signed out by %s', (_how, signOut) => {
    it(`while a refresh is held ${HOLD_MS} ms at the token endpoint → the protected route is 401 afterwards`, async () => {
      const app = appWith(makeStore());
      const agent = request.agent(app);
      tp.ttl.accessToken = 2;
      await login(agent, tp);
      tp.ttl.accessToken = 3600;
      await wait(1100); // the 2-s token is now due for a refresh
      tp.proxy.clearRequests();
      tp.proxy.setFault('/token', { kind: 'holdResponse', ms: HOLD_MS });

      const inFlight = agent.get('/profile').set('Accept', json).then((response) => response);
      await reached('/token');
      await signOut(agent, app);
      await inFlight;

      expect((await agent.get('/profile').set('Accept', json)).status).toBe(401);
      await expectSignedIn(agent, false);
    });

    it(`while a userinfo call is held ${HOLD_MS} ms → the protected route is 401 afterwards`, async () => {
      const app = appWith(makeStore());
      const agent = request.agent(app);
      await login(agent, tp);
      tp.proxy.clearRequests();
      tp.proxy.setFault('/me', { kind: 'holdResponse', ms: HOLD_MS });

      const inFlight = agent.get('/userinfo').then((response) => response);
      for (let waited = 0; tp.count('/me') < 1 && waited < 5000; waited += 10) await wait(10);
      await signOut(agent, app);
      await inFlight;

      expect((await agent.get('/profile').set('Accept', json)).status).toBe(401);
      await expectSignedIn(agent, false);
    });

    it(`while a second login's callback is held ${HOLD_MS} ms at the token endpoint → that login is refused, nobody is signed in`, async () => {
      const app = appWith(makeStore());
      const agent = request.agent(app);
      await login(agent, tp);
      // a second tab starts a login; its callback is in flight when the user signs out
      const callback = await authorizeAtProvider(tp, await startLogin(agent));
      tp.proxy.clearRequests();
      tp.proxy.setFault('/token', { kind: 'holdResponse', ms: HOLD_MS });

      const inFlight = agent.get(pathOf(callback)).then((response) => response);
      await reached('/token');
      await signOut(agent, app);
      const answer = await inFlight;

      expect(answer.status).toBe(400);
      expect((await agent.get('/profile').set('Accept', json)).status).toBe(401);
      await expectSignedIn(agent, false);
    });
  });
});
