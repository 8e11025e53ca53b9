/**
 * express-relying-party/testing: signIn() against the sandbox, for an app
 * given as an Express app or as the URL of a running one. Every sign-in
 * is the real flow (the app's /login, the sandbox's pages, the app's
 * callback); the assertions read what the app then sees in req.auth.
 */
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import request from 'supertest';
import { relyingParty } from 'express-relying-party';
import type { RelyingPartyOptions } from 'express-relying-party';
import { startSandbox } from 'express-relying-party/sandbox';
import type { Sandbox } from 'express-relying-party/sandbox';
import { SignInError, signIn } from 'express-relying-party/testing';
import { closeServer, listen } from '../lib/http-server.js';

const BASE_URL = 'http://localhost:3000';

/** An app that shows what req.auth holds; `cookie` and `options` vary it per test. */
function createApp(sandbox: Sandbox, overrides: { cookie?: session.CookieOptions; options?: Partial<RelyingPartyOptions> } = {}): express.Express {
  const app = express();
  app.use(session({ secret: 'test', resave: false, saveUninitialized: false, cookie: overrides.cookie ?? {} }));
  app.use(
    relyingParty({
      issuer: sandbox.issuer,
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
      baseUrl: BASE_URL,
      scope: 'openid profile email',
      ...overrides.options,
    }),
  );
  app.get('/me', (req, res) => {
    res.json({ signedIn: req.auth.isAuthenticated(), user: req.auth.user, scope: req.auth.accessToken?.scope });
  });
  return app;
}

async function whoIsSignedIn(app: express.Express, cookie: string): Promise<{ signedIn: boolean; user?: Record<string, unknown>; scope?: string }> {
  const res = await request(app).get('/me').set('Cookie', cookie);
  expect(res.status).toBe(200);
  return res.body as { signedIn: boolean; user?: Record<string, unknown>; scope?: string };
}

describe('signIn()', () => {
  let sandbox: Sandbox;
  let app: express.Express;

  beforeAll(async () => {
    sandbox = await startSandbox({ redirectUris: [`${BASE_URL}/callback`], claims: { openid: ['groups'] } });
    app = createApp(sandbox);
  });
  afterAll(() => sandbox.close());

  it('signs a user in with the chosen claims, customer authentication by default', async () => {
    const cookie = await signIn(app, { sandbox, user: { sub: 'alice', name: 'Alice Liddell', email: 'alice@example.com', groups: ['admins'] } });
    const { signedIn, user } = await whoIsSignedIn(app, cookie);
    expect(signedIn).toBe(true);
    expect(user).toMatchObject({
      sub: 'alice',
      name: 'Alice Liddell',
      email: 'alice@example.com',
      groups: ['admins'],
      acr: 'urn:openbanking:psd2:ca',
      amr: ['pwd'],
      iss: sandbox.issuer,
      aud: sandbox.clientId,
    });
  });

  it('passes Strong Customer Authentication when asked for acr urn:openbanking:psd2:sca', async () => {
    const cookie = await signIn(app, { sandbox, user: { sub: 'bob' }, acr: 'urn:openbanking:psd2:sca' });
    const { user } = await whoIsSignedIn(app, cookie);
    expect(user).toMatchObject({ sub: 'bob', acr: 'urn:openbanking:psd2:sca', amr: ['pwd', 'otp'] });
  });

  it('grants only the chosen scopes: declined scopes release no claims', async () => {
    const cookie = await signIn(app, { sandbox, user: { sub: 'carol', name: 'Carol', email: 'carol@example.com' }, scopes: ['openid', 'profile'] });
    const { user, scope } = await whoIsSignedIn(app, cookie);
    expect(user).toMatchObject({ sub: 'carol', name: 'Carol' });
    expect(user).not.toHaveProperty('email');
    expect(scope?.split(' ').sort()).toEqual(['openid', 'profile']);
  });

  it('signs in any username as is, with claims the sandbox makes up', async () => {
    const cookie = await signIn(app, { sandbox, user: 'Dora Explorer' });
    const { user } = await whoIsSignedIn(app, cookie);
    expect(user).toMatchObject({ name: 'Dora Explorer', preferred_username: 'Dora Explorer', email: 'dora-explorer@sandbox.example' });
    expect(user?.sub).toMatch(/^sbx-/);
  });

  it('gives every sign-in its own session', async () => {
    const [first, second] = await Promise.all([
      signIn(app, { sandbox, user: { sub: 'erin' } }),
      signIn(app, { sandbox, user: { sub: 'frank' } }),
    ]);
    expect(first).not.toBe(second);
    expect((await whoIsSignedIn(app, first)).user?.sub).toBe('erin');
    expect((await whoIsSignedIn(app, second)).user?.sub).toBe('frank');
  });

  it('signs in to an app that is already listening, given its URL', async () => {
    const server = createServer(app);
    const { port } = await listen(server, 0, '127.0.0.1');
    try {
      const cookie = await signIn(`http://127.0.0.1:${port}`, { sandbox, user: { sub: 'grace' } });
      const res = await fetch(`http://127.0.0.1:${port}/me`, { headers: { cookie } });
      expect(await res.json()).toMatchObject({ signedIn: true, user: { sub: 'grace' } });
    } finally {
      await closeServer(server);
    }
  });

  it('uses the login route and returnTo it is given', async () => {
    const landings: unknown[] = [];
    const custom = express();
    // where the callback sends the browser: returnTo of the login
    custom.use('/callback', (_req, res, next) => {
      res.on('finish', () => landings.push(res.getHeader('location')));
      next();
    });
    custom.use(createApp(sandbox, { options: { routes: { login: '/auth/sign-in' } } }));
    await expect(signIn(custom, { sandbox, user: { sub: 'heidi' } })).rejects.toThrow(SignInError);
    const cookie = await signIn(custom, { sandbox, user: { sub: 'heidi' }, loginPath: '/auth/sign-in', returnTo: '/me?tab=1' });
    expect((await whoIsSignedIn(custom, cookie)).user?.sub).toBe('heidi');
    expect(landings).toEqual(['/me?tab=1']);
  });

  describe('when the sign-in cannot complete', () => {
    it('rejects with the status and page of the app that refused it', async () => {
      const wrongSecret = createApp(sandbox, { options: { clientSecret: 'not-the-secret' } });
      const failure = signIn(wrongSecret, { sandbox, user: { sub: 'ivan' } });
      await expect(failure).rejects.toThrow(SignInError);
      await expect(failure).rejects.toMatchObject({ status: 500, message: expect.stringContaining('callback') });
    });

    it('says so when the app is configured with another provider', async () => {
      const other = await startSandbox({ redirectUris: [`${BASE_URL}/callback`] });
      try {
        await expect(signIn(createApp(other), { sandbox, user: { sub: 'judy' } })).rejects.toThrow(`should redirect to the sandbox at ${sandbox.issuer}`);
      } finally {
        await other.close();
      }
    });

    it('says so when /login sets no cookie (a secure cookie over plain http)', async () => {
      const secure = createApp(sandbox, { cookie: { secure: true } });
      const failure = signIn(secure, { sandbox, user: { sub: 'ken' } });
      await expect(failure).rejects.toThrow(SignInError);
      await expect(failure).rejects.toThrow("the app's /login");
    });

    it.each([
      [{ acr: 'urn:example:loa:3' }, 'the sandbox issues no acr "urn:example:loa:3"'],
      [{ scopes: ['openid', 'phone'] }, 'the app does not ask for phone; it asks for: openid profile email'],
      [{ user: { sub: 'x', shoe_size: 44 } }, 'no scope releases the claim `shoe_size`'],
      [{ user: { sub: '' } }, 'a username or an object of claims with a `sub`'],
      [{ sandbox: { issuer: 'http://127.0.0.1:1' } }, 'needs the sandbox object startSandbox() returned'],
    ])('refuses %p', async (overrides, message) => {
      await expect(signIn(app, { sandbox, user: { sub: 'laura' }, ...overrides })).rejects.toThrow(message);
    });
  });
});
