import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import request from 'supertest';
import type { RelyingPartyError } from 'express-relying-party';
import { relyingParty, requiresAuth } from 'express-relying-party';
import type { RequestHandler } from 'express';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { authorizeAtProvider, createTestApp, expectError, pathOf, redirectOf, rpOptions } from './support/rp-app.js';
import type { TestApp } from './support/rp-app.js';

let tp: TestProvider;
let rp: TestApp;

beforeAll(async () => {
  tp = await startTestProvider();
  rp = createTestApp(rpOptions(tp));
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

const html = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('requiresAuth()', () => {
  describe('when signed out', () => {
    it('sends a browser page load into the login flow and back to the same URL', async () => {
      const agent = request.agent(rp.app);
      const authorize = redirectOf(await agent.get('/profile?tab=emails').set('Accept', html));
      expect(authorize.origin).toBe(tp.issuer);
      const callback = await authorizeAtProvider(tp, authorize);
      expect(redirectOf(await agent.get(pathOf(callback))).href).toBe('http://127.0.0.1:3000/profile?tab=emails');
      const profile = await agent.get('/profile?tab=emails').set('Accept', html);
      expect(profile.status).toBe(200);
      expect(profile.body).toMatchObject({ sub: 'alice' });
    });

    it.each<[string, () => request.Test]>([
      ['an API call (Accept: application/json)', () => request(rp.app).get('/profile').set('Accept', 'application/json')],
      ['a call accepting anything (Accept: */*)', () => request(rp.app).get('/profile').set('Accept', '*/*')],
      ['a call without Accept', () => request(rp.app).get('/profile')],
      ['a POST from a form', () => request(rp.app).post('/profile').set('Accept', html)],
    ])('answers %s with 401 {"error":"unauthenticated"}', async (_name, send) => {
      const response = await send();
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ error: 'unauthenticated' });
    });
  });

  it('lets a signed-in request through', async () => {
    const agent = request.agent(rp.app);
    const callback = await authorizeAtProvider(tp, redirectOf(await agent.get('/login')));
    await agent.get(pathOf(callback));
    const response = await agent.get('/profile').set('Accept', 'application/json');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ sub: 'alice', name: 'Alice' });
  });

  it('starts logins even when the login route is disabled', async () => {
    const noLoginRoute = createTestApp(rpOptions(tp, { routes: { login: false } }));
    const response = await request(noLoginRoute.app).get('/profile').set('Accept', html);
    expect(redirectOf(response).origin).toBe(tp.issuer);
  });

  describe('when misused', () => {
    it('throws a clear error for app.get(path, requiresAuth, handler)', () => {
      const misuse = requiresAuth as unknown as RequestHandler;
      const app = express();
      app.get('/x', misuse);
      return request(app)
        .get('/x')
        .expect(500)
        .then((response) => expect(response.text).toContain('requiresAuth must be called'));
    });

    it('answers not_mounted when relyingParty() is not in front of it', async () => {
      const app = express();
      app.get('/x', requiresAuth());
      app.use(((err: RelyingPartyError, _req, res, _next) => {
        res.status(err.status).json({ code: err.code, message: err.message });
      }) as express.ErrorRequestHandler);
      const response = await request(app).get('/x');
      expectError(response, 'not_mounted', 500);
      expect((response.body as { message: string }).message).toContain('app.use(relyingParty(');
    });
  });
});

describe('relyingParty() misuse', () => {
  it('app.use(relyingParty) without calling it is caught with a clear message', async () => {
    const app = express();
    app.use(session({ secret: 's', resave: false, saveUninitialized: false }));
    app.use(relyingParty as unknown as RequestHandler);
    const response = await request(app).get('/');
    expect(response.status).toBe(500);
    expect(response.text).toContain('relyingParty must be called with its options');
  });

  it('without express-session every request fails with session_missing', async () => {
    const app = express();
    app.use(relyingParty(rpOptions(tp)));
    app.get('/public', (_req, res) => res.send('ok'));
    app.use(((err: RelyingPartyError, _req, res, _next) => {
      res.status(err.status).json({ code: err.code, message: err.message });
    }) as express.ErrorRequestHandler);
    for (const path of ['/public', '/login', '/callback?state=x&code=y', '/logout']) {
      const response = await request(app).get(path);
      expectError(response, 'session_missing', 500);
      expect((response.body as { message: string }).message).toMatch(/mount express-session before relyingParty\(\)/);
    }
    expect(tp.requests).toHaveLength(0);
  });
});
