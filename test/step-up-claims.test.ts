/** requiresAuth({ claims }): who the user is; a mismatch is 403 and never a new login. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { RequestHandler } from 'express';
import request from 'supertest';
import { requiresAuth } from 'express-relying-party';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectError, rpOptions } from './support/rp-app.js';
import type { TestApp } from './support/rp-app.js';
import { HTML, signInWith } from './support/step-up.js';

let tp: TestProvider;
let rp: TestApp;

beforeAll(async () => {
  tp = await startTestProvider();
  rp = createTestApp(rpOptions(tp), undefined, (app) => {
    const ok: RequestHandler = (_req, res) => {
      res.json({ ok: true });
    };
    app.get('/verified', requiresAuth({ claims: { email_verified: true } }), ok);
    app.get('/team', requiresAuth({ claims: { name: ['Alice', 'Carol'], email_verified: true } }), ok);
    app.get('/amr', requiresAuth({ claims: { amr: 'hwk' } }), ok);
    app.get('/alice-only', requiresAuth({ claims: (claims) => claims.sub === 'alice' }), ok);
    app.get('/truthy', requiresAuth({ claims: (() => 'yes') as unknown as () => boolean }), ok);
    app.get('/proto', requiresAuth({ claims: { constructor: Object } }), ok);
  });
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

async function signedIn(accountId: string, amr?: string[]) {
  const agent = request.agent(rp.app);
  await signInWith(agent, tp, { accountId, ...(amr === undefined ? {} : { amr }) });
  return agent;
}

describe('requiresAuth({ claims })', () => {
  it('lets a user whose claims match through', async () => {
    const alice = await signedIn('alice');
    for (const path of ['/verified', '/team', '/alice-only']) {
      expect({ path, status: (await alice.get(path).set('Accept', HTML)).status }).toEqual({ path, status: 200 });
    }
  });

  it('reads an array value as "one of these"', async () => {
    expect((await (await signedIn('carol')).get('/team')).status).toBe(200);
    expect((await (await signedIn('bob')).get('/team')).status).toBe(403);
  });

  it('lets an array claim match when it contains the value', async () => {
    expect((await (await signedIn('alice', ['pwd', 'hwk'])).get('/amr')).status).toBe(200);
    expect((await (await signedIn('alice', ['pwd'])).get('/amr')).status).toBe(403);
  });

  describe('when the claims do not match', () => {
    it('answers an API request with 403 {"error":"forbidden"} and no challenge', async () => {
      const bob = await signedIn('bob');
      const response = await bob.get('/alice-only').set('Accept', 'application/json');
      expect({ status: response.status, body: response.body as unknown, challenge: response.headers['www-authenticate'] }).toEqual({
        status: 403,
        body: { error: 'forbidden' },
        challenge: undefined,
      });
    });

    it('hands a browser page load to the error handler as 403 forbidden, without a new login', async () => {
      const bob = await signedIn('bob');
      const authorizeRequests = tp.count('/auth');
      expectError(await bob.get('/alice-only').set('Accept', HTML), 'forbidden', 403);
      expect(tp.count('/auth')).toBe(authorizeRequests);
    });

    it('lets a function through only when it returns true', async () => {
      expect((await (await signedIn('alice')).get('/truthy')).status).toBe(403);
    });

    it('does not take a claim from the object prototype', async () => {
      expect((await (await signedIn('alice')).get('/proto')).status).toBe(403);
    });
  });

  it('sends a signed-out browser to a plain login first, then checks the claims', async () => {
    const response = await request(rp.app).get('/verified').set('Accept', HTML);
    expect(response.status).toBe(302);
    const authorize = new URL(String(response.headers.location));
    expect(authorize.searchParams.get('scope')).toBe('openid profile email');
    expect(authorize.searchParams.has('acr_values')).toBe(false);
  });
});
