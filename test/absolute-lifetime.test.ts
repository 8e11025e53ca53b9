/**
 * Sign-ins end: `absoluteLifetime` bounds a sign-in however active the
 * session is. Past it, a browser is sent to log in again, an API request
 * gets 401, and the tokens leave the session.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectSignedIn, login, redirectOf, rpOptions, storedSessions } from './support/rp-app.js';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('absoluteLifetime option', () => {
  describe('when a sign-in is older than absoluteLifetime', () => {
    it('counts as signed out: API → 401, browser → login, and the tokens leave the session', async () => {
      const { app, store } = createTestApp(rpOptions(tp, { absoluteLifetime: 1000 }));
      const agent = request.agent(app);
      await login(agent, tp);
      // in use all along: activity does not extend it
      for (let i = 0; i < 3; i++) {
        expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(200);
        await wait(300);
      }
      await wait(200);
      expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(401);
      expect(redirectOf(await agent.get('/profile').set('Accept', 'text/html')).origin).toBe(tp.issuer);
      await expectSignedIn(agent, false);
      const stored = await storedSessions(store);
      expect(stored.filter((data) => data.relyingParty?.auth !== undefined)).toEqual([]);
      expect(JSON.stringify(stored)).not.toMatch(/eyJ[\w-]+\.eyJ/);
    });

    it('a new sign-in starts a new lifetime', async () => {
      const agent = request.agent(createTestApp(rpOptions(tp, { absoluteLifetime: 1000 })).app);
      await login(agent, tp);
      await wait(1100);
      await expectSignedIn(agent, false);
      await login(agent, tp);
      await expectSignedIn(agent, true);
    });
  });

  it('defaults to 7 days: a sign-in of now is signed in', async () => {
    const agent = request.agent(createTestApp(rpOptions(tp)).app);
    await login(agent, tp);
    await expectSignedIn(agent, true);
  });

  it('false: no limit', async () => {
    const agent = request.agent(createTestApp(rpOptions(tp, { absoluteLifetime: false })).app);
    await login(agent, tp);
    await expectSignedIn(agent, true);
  });

  it('is validated: a positive number of milliseconds, or false', () => {
    for (const value of [0, -1, 1.5, '7d', true]) {
      expect(() => createTestApp(rpOptions(tp, { absoluteLifetime: value as unknown as number }))).toThrow(/absoluteLifetime/);
    }
  });
});
