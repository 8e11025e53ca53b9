/**
 * req.auth.login(): a login or step-up started by the app's own code, and
 * the RFC 9470 pattern with req.auth.fetch(): a resource server asks for a
 * step-up, the app starts it with what was asked.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import request from 'supertest';
import { RelyingPartyError } from 'express-relying-party';
import type { LoginOptions } from 'express-relying-party';
import { ProviderBrowser } from './fixtures/browser.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectError, expectSignedIn, redirectOf, rpOptions } from './support/rp-app.js';
import type { TestApp } from './support/rp-app.js';
import { LOA1, LOA2, answerAtProvider, me, signInWith, stepUpParams } from './support/step-up.js';

/** A resource server that wants `acr_values` LOA2 within 120 s (RFC 9470) unless it was told to accept the token. */
class StepUpResourceServer {
  readonly accepted = new Set<string>();
  /** the challenge to answer with, or a status with no challenge */
  answer: { status: number; challenge?: string } = {
    status: 401,
    challenge: `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="${LOA2}", max_age=120`,
  };
  readonly server = http.createServer((req, res) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (this.accepted.has(token)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ paid: true }));
      return;
    }
    res.writeHead(this.answer.status, this.answer.challenge === undefined ? {} : { 'www-authenticate': this.answer.challenge });
    res.end('{"error":"insufficient_user_authentication"}');
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/pay`;
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let tp: TestProvider;
let rp: TestApp;
let rs: StepUpResourceServer;
/** what the next call of /start passes to req.auth.login() */
let loginOptions: unknown;

/** Wraps an async route: errors go to next(), as a handler must. */
const route = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
  handler(req, res).catch(next);
};

beforeAll(async () => {
  tp = await startTestProvider({ extraScopes: ['payments:write'] });
  rp = createTestApp(rpOptions(tp), undefined, (app) => {
    app.get('/start', route((req) => req.auth.login(loginOptions as LoginOptions)));
    app.post('/start', route((req) => req.auth.login(loginOptions as LoginOptions)));
    // the documented pattern: a resource server asks for a step-up, the app starts one with what it asked
    app.get(
      '/pay',
      route(async (req, res) => {
        try {
          const response = await req.auth.fetch(rs.url);
          res.status(response.status).json(response.ok ? await response.json() : { upstream: response.status, challenge: response.headers.get('www-authenticate') });
        } catch (err) {
          if (err instanceof RelyingPartyError && err.code === 'step_up_required') return req.auth.login({ ...err.stepUp });
          throw err;
        }
      }),
    );
  });
});
afterAll(() => tp.close());
beforeEach(async () => {
  tp.reset();
  loginOptions = undefined;
  rs = new StepUpResourceServer();
  await rs.start();
});
afterEach(() => rs.close());

describe('req.auth.login()', () => {
  it('starts a step-up with exactly the parameters given, and comes back signed in more strongly', async () => {
    const agent = request.agent(rp.app);
    const browser = await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
    loginOptions = { acrValues: [LOA2], maxAge: 60, scope: 'payments:write', prompt: 'login', returnTo: '/me', authorizationParams: { ui_locales: 'en' } };
    const authorize = redirectOf(await agent.get('/start'));
    expect(stepUpParams(authorize)).toEqual({ scope: 'openid profile email payments:write', acr_values: LOA2, max_age: '60', prompt: 'login' });
    expect(authorize.searchParams.get('ui_locales')).toBe('en');
    const callback = await answerAtProvider(agent, tp, browser, authorize, { accountId: 'alice', acr: LOA2 });
    expect(redirectOf(callback).pathname).toBe('/me');
    const after = await me(agent);
    expect(after.user).toMatchObject({ sub: 'alice', acr: LOA2 });
    expect(after.accessToken?.scope).toBe('openid profile email payments:write');
  });

  it('checks the answer at the callback as a guard\'s step-up: a weaker acr is 403 acr_not_satisfied', async () => {
    const agent = request.agent(rp.app);
    const browser = await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
    loginOptions = { acrValues: LOA2, returnTo: '/me' };
    const callback = await answerAtProvider(agent, tp, browser, redirectOf(await agent.get('/start')), { accountId: 'alice', acr: LOA1 });
    expectError(callback, 'acr_not_satisfied', 403);
    await expectSignedIn(agent, true);
  });

  it('requires the same user to come back when signed in: another one is 400 step_up_user_mismatch and signs out', async () => {
    const agent = request.agent(rp.app);
    await signInWith(agent, tp, { accountId: 'alice' });
    loginOptions = { prompt: 'login', returnTo: '/me' };
    const callback = await answerAtProvider(agent, tp, new ProviderBrowser(tp.issuer), redirectOf(await agent.get('/start')), { accountId: 'bob' });
    expectError(callback, 'step_up_user_mismatch', 400);
    await expectSignedIn(agent, false);
  });

  it('signed out, starts a plain login that comes back to the current URL', async () => {
    const agent = request.agent(rp.app);
    const authorize = redirectOf(await agent.get('/start?step=2'));
    expect(stepUpParams(authorize)).toEqual({ scope: 'openid profile email', acr_values: null, max_age: null, prompt: null });
    const callback = await answerAtProvider(agent, tp, new ProviderBrowser(tp.issuer), authorize, { accountId: 'alice' });
    expect(redirectOf(callback).href).toBe('http://127.0.0.1:3000/start?step=2');
  });

  it.each<[string, 'get' | 'post', unknown]>([
    ['a POST', 'post', undefined],
    ['an unsafe returnTo', 'get', { returnTo: '//evil.example/' }],
  ])('comes back to / for %s', async (_what, method, options) => {
    loginOptions = options;
    const agent = request.agent(rp.app);
    const authorize = redirectOf(await agent[method]('/start'));
    const callback = await answerAtProvider(agent, tp, new ProviderBrowser(tp.issuer), authorize, { accountId: 'alice' });
    expect(redirectOf(callback).href).toBe('http://127.0.0.1:3000/');
  });

  it.each<[string, unknown, RegExp]>([
    ['an unknown option', { acrvalues: LOA2 }, /unknown option `acrvalues`\. Did you mean `acrValues`\?/],
    ['acr values with a quote', { acrValues: 'urn:"x' }, /`acrValues` must be/],
    ['a negative maxAge', { maxAge: -1 }, /`maxAge` must be a whole number of seconds/],
    ['an unknown prompt', { prompt: 'sometimes' }, /`prompt` must be/],
    ['none with another prompt', { prompt: 'none login' }, /`prompt` must be/],
    ['scope in authorizationParams', { authorizationParams: { scope: 'x' } }, /`authorizationParams.scope` cannot be set: the library sets it/],
    ['acr_values in authorizationParams', { authorizationParams: { acr_values: LOA2 } }, /use the `acrValues` option/],
    ['a returnTo that is not a string', { returnTo: 5 }, /`returnTo` must be a same-origin path/],
    ['options that are not an object', 'payments:write', /expected an options object/],
  ])('rejects %s with invalid_options, starting nothing', async (_what, options, message) => {
    loginOptions = options;
    const response = await request(rp.app).get('/start');
    expectError(response, 'invalid_options', 500);
    expect((response.body as { message: string }).message).toMatch(message);
    expect(response.headers['set-cookie']).toBeUndefined();
  });
});

describe('req.auth.fetch() and RFC 9470', () => {
  it('rejects a 401 insufficient_user_authentication with step_up_required carrying acr_values and max_age, for req.auth.login()', async () => {
    const agent = request.agent(rp.app);
    const browser = await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
    const authorize = redirectOf(await agent.get('/pay'));
    expect(stepUpParams(authorize)).toEqual({ scope: 'openid profile email', acr_values: LOA2, max_age: '120', prompt: null });

    const callback = await answerAtProvider(agent, tp, browser, authorize, { accountId: 'alice', acr: LOA2 });
    expect(redirectOf(callback).pathname).toBe('/pay');
    // the resource server now sees a token of a stronger sign-in
    rs.accepted.add((await me(agent)).accessToken?.value ?? '');
    expect((await agent.get('/pay')).body).toEqual({ paid: true });
  });

  it('carries what the challenge asked for on the error', async () => {
    const agent = request.agent(
      createTestApp(rpOptions(tp), undefined, (app) => {
        app.get('/raw', (req, res) => {
          req.auth.fetch(rs.url).then(
            () => res.json({ rejected: false }),
            (err: unknown) => res.json({ code: (err as RelyingPartyError).code, status: (err as RelyingPartyError).status, stepUp: (err as RelyingPartyError).stepUp }),
          );
        });
      }).app,
    );
    await signInWith(agent, tp, { accountId: 'alice' });
    rs.answer = { status: 401, challenge: 'Bearer realm="api", error="insufficient_user_authentication", max_age="0"' };
    expect((await agent.get('/raw')).body).toEqual({ code: 'step_up_required', status: 401, stepUp: { maxAge: 0 } });
  });

  it.each<[string, { status: number; challenge?: string }]>([
    ['a 403 insufficient_scope', { status: 403, challenge: 'Bearer error="insufficient_scope", scope="payments:write"' }],
    ['a 401 without a challenge', { status: 401 }],
    ['a 401 for another scheme', { status: 401, challenge: 'Basic realm="api", error="insufficient_user_authentication"' }],
  ])('returns %s as the response', async (_what, answer) => {
    const agent = request.agent(rp.app);
    await signInWith(agent, tp, { accountId: 'alice' });
    rs.answer = answer;
    const response = await agent.get('/pay');
    expect(response.body).toEqual({ upstream: answer.status, challenge: answer.challenge ?? null });
  });

  it('never loops: a resource server that still asks right after the step-up ends in 403 step_up_failed', async () => {
    const agent = request.agent(rp.app);
    const browser = await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
    const callback = await answerAtProvider(agent, tp, browser, redirectOf(await agent.get('/pay')), { accountId: 'alice', acr: LOA2 });
    expect(redirectOf(callback).pathname).toBe('/pay');
    const again = await agent.get('/pay');
    expectError(again, 'step_up_failed', 403);
    expect(again.headers.location).toBeUndefined();
  });

  it('lets a resource server that asks for more right after a step-up (a shorter max_age) have one more', async () => {
    const agent = request.agent(rp.app);
    const browser = await signInWith(agent, tp, { accountId: 'alice', acr: LOA1 });
    await answerAtProvider(agent, tp, browser, redirectOf(await agent.get('/pay')), { accountId: 'alice', acr: LOA2 });
    rs.answer = { status: 401, challenge: `Bearer error="insufficient_user_authentication", acr_values="${LOA2}", max_age=30` };
    const authorize = redirectOf(await agent.get('/pay'));
    expect(stepUpParams(authorize)).toMatchObject({ acr_values: LOA2, max_age: '30' });
    const callback = await answerAtProvider(agent, tp, browser, authorize, { accountId: 'alice', acr: LOA2 });
    expect(redirectOf(callback).pathname).toBe('/pay');
    // and asking for that again is a loop
    expectError(await agent.get('/pay'), 'step_up_failed', 403);
  });
});
