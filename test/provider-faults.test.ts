import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { Fault, TestProvider } from './fixtures/provider.js';
import { authorizeAtProvider, createTestApp, expectError, expectSignedIn, login, pathOf, redirectOf, rpOptions, startLogin } from './support/rp-app.js';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

const discovery = '/.well-known/openid-configuration';
const httpTimeout = 300;

/** A fresh app (so nothing is cached yet) with a short httpTimeout. */
function freshApp() {
  return createTestApp(rpOptions(tp, { httpTimeout })).app;
}

describe('the token endpoint misbehaves', () => {
  it.each<[string, string, number, Fault]>([
    ['answers 500 with an HTML page', 'provider_error', 502, { kind: 'status', status: 500, body: '<h1>oops</h1>', contentType: 'text/html' }],
    ['answers 503 with an OAuth error body', 'provider_error', 502, { kind: 'status', status: 503, body: '{"error":"temporarily_unavailable"}', contentType: 'application/json' }],
    ['answers garbage JSON', 'provider_error', 502, { kind: 'garbage' }],
    ['answers 5 MB', 'provider_response_too_large', 502, { kind: 'oversize', bytes: 5 * 1024 * 1024 }],
    ['answers 5 MB without a content-length', 'provider_response_too_large', 502, { kind: 'oversize', bytes: 5 * 1024 * 1024, chunked: true }],
    ['answers 400 with an empty body (no OAuth error)', 'token_request_rejected', 400, { kind: 'status', status: 400, body: '' }],
    ['resets the connection', 'provider_unreachable', 503, { kind: 'reset' }],
    ['hangs past httpTimeout', 'provider_timeout', 504, { kind: 'hang' }],
  ])('%s → %s %d, nobody signed in', async (_name, code, status, fault) => {
    const app = freshApp();
    const agent = request.agent(app);
    const callback = await authorizeAtProvider(tp, await startLogin(agent));
    tp.proxy.setFault('/token', fault);
    const started = Date.now();
    const response = await agent.get(pathOf(callback));
    expectError(response, code, status);
    expect(Date.now() - started).toBeLessThan(httpTimeout + 1500);
    expect(JSON.stringify(response.body)).not.toContain(String(callback.searchParams.get('code')));
    await expectSignedIn(agent, false);
  });

  it('a refresh answered 400 with an empty body (as Glewlwyd refuses a refresh token) signs the session out', async () => {
    const agent = request.agent(createTestApp(rpOptions(tp)).app);
    // a 2-s access token is due for refresh after 1 s
    tp.ttl.accessToken = 2;
    await login(agent, tp);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    tp.proxy.setFault('/token', { kind: 'status', status: 400, body: '' });
    expect((await agent.get('/profile').set('Accept', 'application/json')).status).toBe(401);
    await expectSignedIn(agent, false);
  });

  it('a delay within httpTimeout is fine', async () => {
    const agent = request.agent(freshApp());
    tp.proxy.setFault('/token', { kind: 'delay', ms: 100 });
    expect(redirectOf(await login(agent, tp)).pathname).toBe('/');
    await expectSignedIn(agent, true);
  });

  it('a JWKS that hangs → 504 and nobody signed in', async () => {
    const agent = request.agent(freshApp());
    tp.proxy.setFault('/jwks', { kind: 'hang' });
    expectError(await login(agent, tp), 'provider_timeout', 504);
    await expectSignedIn(agent, false);
  });
});

describe('discovery', () => {
  it('happens once per instance, not per login, and the JWKS is fetched once', async () => {
    const app = freshApp();
    for (let i = 0; i < 3; i++) await login(request.agent(app), tp);
    expect(tp.count(discovery)).toBe(1);
    expect(tp.count('/jwks')).toBe(1);
    expect(tp.count('/token')).toBe(3);
  });

  it('is lazy: creating the middleware and serving public routes contacts nobody', async () => {
    const app = freshApp();
    expect((await request(app).get('/public')).status).toBe(200);
    expect(tp.requests).toHaveLength(0);
  });

  it('concurrent first logins share one discovery', async () => {
    const app = freshApp();
    await Promise.all(Array.from({ length: 5 }, () => startLogin(request.agent(app))));
    expect(tp.count(discovery)).toBe(1);
  });

  it.each<[string, string, number, Fault]>([
    ['answers 500', 'provider_error', 502, { kind: 'status', status: 500 }],
    ['answers garbage', 'provider_error', 502, { kind: 'garbage' }],
    ['hangs', 'provider_timeout', 504, { kind: 'hang' }],
  ])('that %s → /login answers %s %d, and the next request retries', async (_name, code, status, fault) => {
    const app = freshApp();
    tp.proxy.setFault(discovery, fault, { times: 1 });
    expectError(await request.agent(app).get('/login'), code, status);
    expect(redirectOf(await request.agent(app).get('/login')).pathname).toBe('/auth');
    expect(tp.count(discovery)).toBe(2);
  });

  it('a provider down at start-up: public routes work, login 503, then works once it is up, without a restart', async () => {
    await tp.proxy.down();
    let app;
    try {
      app = freshApp();
      expect((await request(app).get('/public')).status).toBe(200);
      expectError(await request.agent(app).get('/login'), 'provider_unreachable', 503);
      expectError(await request.agent(app).get('/profile').set('Accept', 'text/html'), 'provider_unreachable', 503);
    } finally {
      await tp.proxy.up();
    }
    const agent = request.agent(app);
    expect(redirectOf(await login(agent, tp)).pathname).toBe('/');
    await expectSignedIn(agent, true);
  });
});
