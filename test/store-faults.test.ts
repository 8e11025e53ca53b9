/**
 * Redis stops mid-run under the production session setup of the example
 * app: requests that need the session get a 503, public routes keep
 * working, nothing crashes or is signed in half, and the app recovers by
 * itself when Redis is back.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import express from 'express';
import session from 'express-session';
import request from 'supertest';
import { relyingParty, requiresAuth, RelyingPartyError } from 'express-relying-party';
import { createRedisSessionStore } from '../example-app/session-store.js';
import type { RedisSessionStore } from '../example-app/session-store.js';
import { ProviderBrowser } from './fixtures/browser.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { startTcpProxy } from './fixtures/tcp-proxy.js';
import type { TcpProxy } from './fixtures/tcp-proxy.js';
import { pathOf, redirectOf, rpOptions, SharedBrowser } from './support/rp-app.js';
import { watchUnhandledRejections } from './support/unhandled-rejections.js';
import type { RejectionWatch } from './support/unhandled-rejections.js';
import { redisUrl } from './support/redis.js';

let tp: TestProvider;
let redisProxy: TcpProxy;
let sessions: RedisSessionStore;
let app: express.Express;
let rejections: RejectionWatch;

beforeAll(async () => {
  rejections = watchUnhandledRejections();
  tp = await startTestProvider();
  const redis = new URL(redisUrl);
  redisProxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
  sessions = createRedisSessionStore(`redis://127.0.0.1:${redisProxy.port}`, { prefix: `erp-test:${randomUUID()}:` });
  app = express();
  // public routes that need no session are mounted before it
  app.get('/health', (_req, res) => res.json({ ok: true }));
  app.use(session({ secret: 'test', resave: false, saveUninitialized: false, store: sessions.store }));
  app.use(relyingParty(rpOptions(tp)));
  app.get('/public', (req, res) => res.json({ isAuthenticated: req.auth.isAuthenticated() }));
  app.get('/profile', requiresAuth(), (req, res) => res.json(req.auth.user));
  app.use(((err: { status?: number; code?: string }, _req, res, _next) => {
    res.status(err instanceof RelyingPartyError ? err.status : (err.status ?? 500)).json({ code: err.code });
  }) as express.ErrorRequestHandler);
  await waitForRedis();
});
afterAll(async () => {
  rejections.stop();
  await sessions.close();
  await redisProxy.close();
  await tp.close();
});
beforeEach(() => tp.reset());

/** Waits until a request that writes the session succeeds (a login start saves one). */
async function waitForRedis(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await request(app).get('/login')).status === 302) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('Redis did not come back');
}

describe('Redis stops mid-run', () => {
  it('signed-in requests get 503 fast, /health keeps answering, and the session is intact once Redis is back', async () => {
    const browser = new SharedBrowser();
    const callback = await new ProviderBrowser(tp.issuer).authorize(redirectOf(await browser.get(app, '/login', 'text/html')));
    await browser.get(app, pathOf(callback), 'text/html');
    expect(await browser.isSignedIn(app)).toBe(true);

    await redisProxy.down();
    try {
      for (const path of ['/profile', '/public', '/login']) {
        const started = Date.now();
        const response = await browser.get(app, path);
        expect({ path, status: response.status, code: (response.body as { code?: string }).code }).toEqual({ path, status: 503, code: 'session_store_unavailable' });
        expect(Date.now() - started).toBeLessThan(1000);
      }
      expect((await request(app).get('/health')).status).toBe(200);
    } finally {
      await redisProxy.up();
    }
    await waitForRedis();
    expect((await browser.get(app, '/profile')).body).toMatchObject({ sub: 'alice' });
    expect(rejections.reasons).toEqual([]);
  });

  it('a callback while Redis is down fails with 503 and signs nobody in', async () => {
    const browser = new SharedBrowser();
    const callback = await new ProviderBrowser(tp.issuer).authorize(redirectOf(await browser.get(app, '/login', 'text/html')));
    await redisProxy.down();
    try {
      expect((await browser.get(app, pathOf(callback), 'text/html')).status).toBe(503);
    } finally {
      await redisProxy.up();
    }
    await waitForRedis();
    expect(await browser.isSignedIn(app)).toBe(false);
    expect(rejections.reasons).toEqual([]);
  });
});
