/**
 * Sign-in starts clean: nothing of the pre-login session reaches the
 * signed-in one, and nothing of the signed-in session survives logout,
 * except the app keys named in `keepSessionData`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectSignedIn, login, rpOptions } from './support/rp-app.js';
import type { Agent } from './support/rp-app.js';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

declare module 'express-session' {
  interface SessionData {
    /** a CSRF secret an attacker planted before a fixated login */
    csrfSecret?: string;
  }
}

function appWith(keepSessionData?: string[]) {
  return createTestApp(rpOptions(tp, keepSessionData ? { keepSessionData } : {}), undefined, (app) => {
    app.get('/csrf', (req, res) => {
      req.session.csrfSecret = String(req.query.value);
      res.json({ ok: true });
    });
    app.get('/csrf/show', (req, res) => {
      res.json({ csrfSecret: req.session.csrfSecret ?? null });
    });
  }).app;
}

async function shows(agent: Agent): Promise<unknown> {
  return { ...((await agent.get('/cart/show')).body as object), ...((await agent.get('/csrf/show')).body as object) };
}

describe('keepSessionData option', () => {
  describe('when not set', () => {
    it('carries none of the pre-login data into the signed-in session (a planted CSRF secret, a cart)', async () => {
      const agent = request.agent(appWith());
      await agent.get('/csrf?value=planted-by-attacker');
      await agent.get('/cart?item=book');
      await login(agent, tp);
      await expectSignedIn(agent, true);
      expect(await shows(agent)).toEqual({ cart: null, csrfSecret: null });
    });

    it('leaves none of the signed-in data behind at logout (a previous user on a shared browser)', async () => {
      const agent = request.agent(appWith());
      await login(agent, tp);
      await agent.get('/csrf?value=alice-secret');
      await agent.get('/logout');
      await expectSignedIn(agent, false);
      expect(await shows(agent)).toEqual({ cart: null, csrfSecret: null });
    });
  });

  describe("when set to ['cart']", () => {
    it('carries the cart, and only the cart, into the signed-in session', async () => {
      const agent = request.agent(appWith(['cart']));
      await agent.get('/csrf?value=planted-by-attacker');
      await agent.get('/cart?item=book');
      await login(agent, tp);
      await expectSignedIn(agent, true);
      expect(await shows(agent)).toEqual({ cart: 'book', csrfSecret: null });
    });

    it('carries the cart, and only the cart, through logout', async () => {
      const agent = request.agent(appWith(['cart']));
      await login(agent, tp);
      await agent.get('/cart?item=lamp');
      await agent.get('/csrf?value=alice-secret');
      await agent.get('/logout');
      await expectSignedIn(agent, false);
      expect(await shows(agent)).toEqual({ cart: 'lamp', csrfSecret: null });
    });
  });

  it('is validated: an array of app keys, never the library’s own', () => {
    expect(() => appWith(['relyingParty'])).toThrow(/keepSessionData.*relyingParty/);
    expect(() => createTestApp(rpOptions(tp, { keepSessionData: 'cart' as unknown as string[] }))).toThrow(/keepSessionData/);
  });
});
