import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import session from 'express-session';
import type { SessionData } from 'express-session';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { authorizeAtProvider, createTestApp, expectError, expectSignedIn, login, pathOf, rpOptions, startLogin, storedSessions } from './support/rp-app.js';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

/** A MemoryStore whose writes can be made to fail. */
class FlakyStore extends session.MemoryStore {
  /** how many of the next writes fail */
  failingWrites = 0;
  writes = 0;
  override set(sid: string, data: SessionData, callback?: (err?: unknown) => void): void {
    this.writes++;
    if (this.failingWrites > 0) {
      this.failingWrites--;
      callback?.(new Error('store is down'));
      return;
    }
    super.set(sid, data, callback);
  }
}

describe('reading the session', () => {
  it('writes nothing and sends no Set-Cookie on requests that change nothing', async () => {
    const store = new FlakyStore();
    const { app } = createTestApp(rpOptions(tp), store);
    const agent = request.agent(app);
    await login(agent, tp);
    const writes = store.writes;
    for (const path of ['/public', '/me', '/profile']) {
      const response = await agent.get(path).set('Accept', 'application/json');
      expect(response.status).toBe(200);
      expect(response.headers['set-cookie']).toBeUndefined();
    }
    expect(store.writes).toBe(writes);
  });

  it('creates no session for anonymous visitors of public and protected API routes, or of logout', async () => {
    const store = new FlakyStore();
    const { app } = createTestApp(rpOptions(tp), store);
    expect((await request(app).get('/public')).headers['set-cookie']).toBeUndefined();
    expect((await request(app).get('/profile').set('Accept', 'application/json')).headers['set-cookie']).toBeUndefined();
    expect((await request(app).get('/logout')).status).toBe(302);
    expect((await request(app).post('/logout')).status).toBe(302);
    expect(store.writes).toBe(0);
  });

  it('keeps tokens out of JSON.stringify(req.auth) and console.log(req.auth)', async () => {
    const { app } = createTestApp(rpOptions(tp));
    let printed = '';
    app.get('/print', (req, res) => {
      printed = JSON.stringify(req.auth) + inspect(req.auth, { depth: 5, showHidden: true });
      res.end();
    });
    const agent = request.agent(app);
    await login(agent, tp);
    await agent.get('/print');
    const me = (await agent.get('/me')).body as { idToken: string; refreshToken: string; accessToken: { value: string } };
    expect(printed).toContain('Alice');
    for (const token of [me.idToken, me.refreshToken, me.accessToken.value, tp.clientSecret]) expect(printed).not.toContain(token);
  });
});

describe('what a signed-in session holds', () => {
  it('one auth record with the tokens once, and no leftover pending login', async () => {
    const { app, store } = createTestApp(rpOptions(tp));
    await login(request.agent(app), tp);
    const [stored] = await storedSessions(store);
    expect(Object.keys(stored?.relyingParty ?? {})).toEqual(['auth']);
    const json = JSON.stringify(stored);
    const idToken = String(stored?.relyingParty?.auth?.idToken);
    expect(json.split(idToken).length - 1).toBe(1);
  });
});

describe('when the session store fails', () => {
  it('at sign-in → 503 session_store_error, and nobody is signed in', async () => {
    const store = new FlakyStore();
    const { app } = createTestApp(rpOptions(tp), store);
    const agent = request.agent(app);
    const callback = await authorizeAtProvider(tp, await startLogin(agent));
    // only the sign-in write fails: express-session's own save at the end of the response succeeds
    store.failingWrites = 1;
    expectError(await agent.get(pathOf(callback)), 'session_store_error', 503);
    await expectSignedIn(agent, false);
    const sessions = await storedSessions(store);
    expect(sessions.some((s) => s.relyingParty?.auth)).toBe(false);
  });

  it('at login start → 503 session_store_error, not a redirect to the provider', async () => {
    const store = new FlakyStore();
    const { app } = createTestApp(rpOptions(tp), store);
    store.failingWrites = 1;
    expectError(await request(app).get('/login'), 'session_store_error', 503);
  });
});

describe('a signed-in user signs in again', () => {
  it('replaces the auth record and stays signed in', async () => {
    const { app, store } = createTestApp(rpOptions(tp));
    const agent = request.agent(app);
    await login(agent, tp);
    tp.nextInteraction = { accountId: 'bob' };
    const callback = await authorizeAtProvider(tp, await startLogin(agent));
    await agent.get(pathOf(callback));
    await expectSignedIn(agent, true);
    expect(((await agent.get('/me')).body as { user: { sub: string } }).user.sub).toBe('bob');
    expect(await storedSessions(store)).toHaveLength(1);
  });
});
