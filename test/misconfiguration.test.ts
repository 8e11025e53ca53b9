/**
 * Mistakes in the configuration, or a provider that contradicts it, get an
 * error that says what to fix, not a generic provider fault.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectError, expectSignedIn, login, redirectOf, rpOptions } from './support/rp-app.js';
import type { RelyingPartyOptions } from 'express-relying-party';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

const discovery = '/.well-known/openid-configuration';

async function loginError(options: Partial<RelyingPartyOptions>): Promise<{ code: string; message: string; status: number }> {
  const response = await request.agent(createTestApp(rpOptions(tp, options)).app).get('/login');
  const body = response.body as { code: string; message: string };
  return { code: body.code, message: body.message, status: response.status };
}

describe('discovery', () => {
  it('an issuer the provider does not name (localhost vs 127.0.0.1) → provider_misconfigured naming both', async () => {
    const configured = `http://localhost:${tp.proxy.port}`;
    const error = await loginError({ issuer: configured });
    expect(error).toMatchObject({ code: 'provider_misconfigured', status: 502 });
    expect(error.message).toContain(`names the issuer "${tp.issuer}"`);
    expect(error.message).toContain(`the configured \`issuer\` is "${configured}/"`);
  });

  it('an issuer with a path the provider does not have → provider_misconfigured with the URL tried and the hint', async () => {
    const error = await loginError({ issuer: `${tp.issuer}/realms/main` });
    expect(error).toMatchObject({ code: 'provider_misconfigured', status: 502 });
    expect(error.message).toContain(`${tp.issuer}/realms/main${discovery} answered HTTP 404`);
    expect(error.message).toMatch(/`issuer` must be the provider's issuer URL \(the discovery document is read from <issuer>\/\.well-known\/openid-configuration\), not the URL of the discovery document/);
  });

  it('an HTML page at the discovery URL → provider_misconfigured saying what came back', async () => {
    tp.proxy.setFault(discovery, { kind: 'status', status: 200, body: '<!DOCTYPE html><title>Sign in</title>', contentType: 'text/html; charset=utf-8' });
    const error = await loginError({});
    expect(error).toMatchObject({ code: 'provider_misconfigured', status: 502 });
    expect(error.message).toContain(`${tp.issuer}${discovery} answered a text/html document, not JSON`);
  });

  it('a provider error (5xx) stays provider_error, with the URL tried', async () => {
    tp.proxy.setFault(discovery, { kind: 'status', status: 503 });
    const error = await loginError({});
    expect(error).toMatchObject({ code: 'provider_error', status: 502 });
    expect(error.message).toContain(`${tp.issuer}${discovery}`);
  });

  it('is retried after a misconfiguration answer, so a provider that is fixed is used without a restart', async () => {
    const agent = request.agent(createTestApp(rpOptions(tp)).app);
    tp.proxy.setFault(discovery, { kind: 'status', status: 404 }, { times: 1 });
    expectError(await agent.get('/login'), 'provider_misconfigured', 502);
    expect(redirectOf(await agent.get('/login')).pathname).toBe('/auth');
  });
});

describe('userinfo about another user', () => {
  const otherUser = { kind: 'status', status: 200, body: JSON.stringify({ sub: 'mallory', name: 'Mallory' }), contentType: 'application/json' } as const;

  it('at login (fetchUserInfo) → userinfo_sub_mismatch 502, nobody signed in', async () => {
    const agent = request.agent(createTestApp(rpOptions(tp, { fetchUserInfo: true })).app);
    tp.proxy.setFault('/me', otherUser);
    expectError(await login(agent, tp), 'userinfo_sub_mismatch', 502);
    await expectSignedIn(agent, false);
  });

  it('from req.auth.fetchUserInfo() → userinfo_sub_mismatch, and the claims are not stored', async () => {
    const { app } = createTestApp(rpOptions(tp), undefined, (app) => {
      app.get('/userinfo-now', (req, res, next) => {
        req.auth.fetchUserInfo().then((claims) => res.json(claims), next);
      });
    });
    const agent = request.agent(app);
    await login(agent, tp);
    tp.proxy.setFault('/me', otherUser);
    expectError(await agent.get('/userinfo-now'), 'userinfo_sub_mismatch', 502);
    expect(((await agent.get('/me')).body as { user: { sub: string; name: string } }).user).toMatchObject({ sub: 'alice', name: 'Alice' });
  });
});
