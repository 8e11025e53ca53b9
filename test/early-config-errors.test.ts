/**
 * Configuration mistakes fail early, with the fix: a secure-only session
 * cookie over plain http is caught at the first /login (not at the
 * callback, after a whole provider login), and a `baseUrl` that is really
 * the redirect URI is refused at setup.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectError, redirectOf, rpOptions, sessionCookie } from './support/rp-app.js';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());

describe('cookie.secure over plain http', () => {
  it('is an error at /login that names the fix, not a redirect to the provider', async () => {
    const { app } = createTestApp(rpOptions(tp), undefined, undefined, undefined, { cookie: { secure: true } });
    const response = await request(app).get('/login');
    expectError(response, 'invalid_options', 500);
    expect((response.body as { message: string }).message).toMatch(/cookie\.secure.*trust proxy/);
    expect(tp.count('/auth')).toBe(0);
  });

  it('works behind a TLS-terminating proxy the app trusts', async () => {
    const { app } = createTestApp(rpOptions(tp), undefined, (app) => app.set('trust proxy', 1), undefined, { cookie: { secure: true } });
    const response = await request(app).get('/login').set('X-Forwarded-Proto', 'https');
    expect(redirectOf(response).origin).toBe(new URL(tp.issuer).origin);
    expect(sessionCookie(response)).toBeDefined();
  });

  it("cookie.secure: 'auto' over http is fine", async () => {
    const { app } = createTestApp(rpOptions(tp), undefined, undefined, undefined, { cookie: { secure: 'auto' } });
    expect((await request(app).get('/login')).status).toBe(302);
  });
});

describe('baseUrl', () => {
  it('ending in the callback path is refused at setup, with the base to use', () => {
    expect(() => createTestApp(rpOptions(tp, { baseUrl: 'https://app.example.com/callback' }))).toThrow(/baseUrl.*callback path.*"https:\/\/app\.example\.com"/);
    expect(() => createTestApp(rpOptions(tp, { baseUrl: 'https://example.com/shop/auth/cb', routes: { callback: '/auth/cb' } }))).toThrow(/"https:\/\/example\.com\/shop"/);
  });

  it('with a path prefix of its own is fine', () => {
    expect(() => createTestApp(rpOptions(tp, { baseUrl: 'https://example.com/shop' }))).not.toThrow();
  });
});
