/**
 * express-relying-party/sandbox: startSandbox() options, what the provider
 * publishes, the API's JWT access tokens, an issuer with a path, and the
 * command line's parsing and banner. Sign-ins go through signIn() (see
 * testing-kit.test.ts) against an app using the library.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { relyingParty } from 'express-relying-party';
import { generateSigningKey, startSandbox } from 'express-relying-party/sandbox';
import type { Sandbox, SandboxOptions } from 'express-relying-party/sandbox';
import { signIn } from 'express-relying-party/testing';
import { USAGE, UsageError, banner, parseCommandLine } from '../lib/sandbox/command.js';
import { closeServer, listen } from '../lib/http-server.js';
import { parseSandboxOptions } from '../lib/sandbox/options.js';
import { checkOneTimeCode, oneTimeCodeFor } from '../lib/sandbox/sca.js';
import { HttpBrowser } from './support/http-browser.js';

const BASE_URL = 'http://localhost:3000';
const redirectUris = [`${BASE_URL}/callback`];

function appFor(sandbox: Sandbox, scope: string, authorizationParams: Record<string, string> = {}): express.Express {
  const app = express();
  app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
  app.use(relyingParty({ issuer: sandbox.issuer, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, baseUrl: BASE_URL, scope, authorizationParams }));
  app.get('/me', (req, res) => {
    res.json({ user: req.auth.user, accessToken: req.auth.accessToken?.value, scope: req.auth.accessToken?.scope });
  });
  return app;
}

describe('startSandbox() options', () => {
  it.each<[unknown, string]>([
    [undefined, 'expected options such as { redirectUris'],
    [{}, '`redirectUris` must be a non-empty array of URLs'],
    [{ redirectUris: ['/callback'] }, '`redirectUris[0]` must be an absolute URL'],
    [{ redirectUris: ['ftp://x/callback'] }, 'must be an http: or https: URL without a fragment'],
    [{ redirectUris, redirectUri: 'x' }, 'unknown option `redirectUri`. Did you mean `redirectUris`?'],
    [{ redirectUris, port: 70000 }, '`port` must be a port number'],
    [{ redirectUris, host: '0.0.0.0' }, '`host` must be a loopback address'],
    [{ redirectUris, issuerPath: 'oidc' }, "`issuerPath` must be a path such as '/oidc'"],
    [{ redirectUris, users: [{ name: 'No Sub' }] }, '`users[0].sub` must be a non-empty string'],
    [{ redirectUris, users: [{ sub: 'a', groups: [] }] }, "no scope releases the claim `groups`. Add it to a scope, e.g. startSandbox({ claims: { openid: ['groups'] } })"],
    [{ redirectUris, users: [{ sub: 'a', acr: 'x' }] }, '`users[0].acr` cannot be set'],
    [{ redirectUris, claims: { openid: 'groups' } }, '`claims.openid` must be an array of claim names'],
    [{ redirectUris, api: { audience: 'x', scope: ['a'] } }, 'unknown option `api.scope`. Did you mean `scopes`?'],
    [{ redirectUris, profile: 'fapi1' }, "`profile` must be 'fapi2'"],
    [{ redirectUris, profile: 'fapi2' }, "profile 'fapi2' registers the app as a private_key_jwt client: set `clientJwksUri` to the app's JWK Set URL"],
    [{ redirectUris, clientJwksUri: '/jwks' }, '`clientJwksUri` must be an absolute URL such as http://localhost:3000/jwks'],
    [{ redirectUris, profile: 'fapi2', clientJwksUri: `${BASE_URL}/jwks`, signingKeys: [{ kty: 'RSA', alg: 'RS256' }] }, "profile 'fapi2' signs with PS256, ES256, EdDSA only"],
  ])('%p is refused: %s', async (options, message) => {
    await expect(startSandbox(options as SandboxOptions)).rejects.toMatchObject({ code: 'invalid_options', message: expect.stringContaining(message) });
  });

  it('registers post-logout redirect URIs next to each redirect URI by default', () => {
    const config = parseSandboxOptions({ redirectUris: ['http://localhost:3000/callback', 'https://example.com/app/auth/callback'] });
    expect(config.postLogoutRedirectUris).toEqual(['http://localhost:3000/', 'https://example.com/', 'https://example.com/app/auth/']);
  });

  it('makes up a client secret at each start unless given one', () => {
    const first = parseSandboxOptions({ redirectUris });
    const second = parseSandboxOptions({ redirectUris });
    expect(first.clientSecret).toMatch(/^[\w-]{43}$/);
    expect(first.clientSecret).not.toBe(second.clientSecret);
    expect(parseSandboxOptions({ redirectUris, clientSecret: 'kept' }).clientSecret).toBe('kept');
    expect(first.clientId).toBe('sandbox-app');
  });
});

describe('a running sandbox', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ redirectUris, clientId: 'my-app', clientSecret: 'my-secret', users: [{ sub: 'alice', name: 'Alice', preferred_username: 'ali' }] });
  });
  afterAll(() => sandbox.close());

  it('answers with its issuer, client id and secret, and publishes its metadata', async () => {
    expect(sandbox).toMatchObject({ clientId: 'my-app', clientSecret: 'my-secret', redirectUris });
    expect(sandbox.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const metadata = (await (await fetch(`${sandbox.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      issuer: sandbox.issuer,
      code_challenge_methods_supported: ['S256'],
      acr_values_supported: ['urn:openbanking:psd2:ca', 'urn:openbanking:psd2:sca'],
      end_session_endpoint: `${sandbox.issuer}/session/end`,
    });
    expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'phone', 'address']));
  });

  it('signs in a user given at start by sub or preferred_username, with exactly their claims', async () => {
    const app = appFor(sandbox, 'openid profile email');
    for (const username of ['alice', 'ali']) {
      const cookie = await signIn(app, { sandbox, user: username });
      const { body } = await request(app).get('/me').set('Cookie', cookie);
      expect(body.user).toMatchObject({ sub: 'alice', name: 'Alice', preferred_username: 'ali' });
      expect(body.user).not.toHaveProperty('email');
    }
  });

  it('refuses to add a user with a claim no scope releases', () => {
    expect(() => sandbox.addUser({ sub: 'bob', department: 'x' })).toThrow('`addUser().department`: no scope releases the claim');
  });

  it('shows the login page with the known users, under a strict CSP that lets forms go back to the app', async () => {
    const login = await request(sandbox.issuer).get('/auth').query({
      client_id: 'my-app',
      response_type: 'code',
      scope: 'openid',
      redirect_uri: redirectUris[0],
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    });
    expect(login.status).toBe(303);
    const cookies = ([] as string[]).concat(login.headers['set-cookie'] ?? []).map((line) => line.split(';')[0]).join('; ');
    const page = await request(sandbox.issuer).get(new URL(String(login.headers.location), sandbox.issuer).pathname).set('Cookie', cookies);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Test users: <code>ali</code>.');
    expect(page.headers['content-security-policy']).toContain(`form-action 'self' ${BASE_URL}`);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-store');
  });

  it('shows what users type and what users are called as text, never as markup', async () => {
    const markup = '<img src=x onerror=alert(1)>';
    const risky = await startSandbox({ redirectUris, users: [{ sub: 'u1', preferred_username: markup }] });
    try {
      const server = createServer(appFor(risky, 'openid profile'));
      const { port } = await listen(server, 0, '127.0.0.1');
      try {
        const browser = new HttpBrowser();
        const login = await browser.navigate(`http://127.0.0.1:${port}/login`);
        expect(login.text).toContain('Test users: <code>&lt;img src=x onerror=alert(1)&gt;</code>.');
        const consent = await browser.submit(login, '/login', { username: `${markup}2`, password: 'x' });
        expect(consent.text).toContain('Signed in as <strong>&lt;img src=x onerror=alert(1)&gt;2</strong>.');
        expect(`${login.text}${consent.text}`).not.toContain('<img');
      } finally {
        await closeServer(server);
      }
    } finally {
      await risky.close();
    }
  });

  it('stops listening at close()', async () => {
    const other = await startSandbox({ redirectUris });
    await other.close();
    await expect(fetch(`${other.issuer}/.well-known/openid-configuration`)).rejects.toThrow();
  });
});

describe('a sandbox with an API', () => {
  const audience = `${BASE_URL}/api`;
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ redirectUris, api: { audience, scopes: ['accounts:read', 'payments:write'] } });
  });
  afterAll(() => sandbox.close());

  it('issues JWT access tokens for the API with the API scopes the user granted', async () => {
    const app = appFor(sandbox, 'openid accounts:read payments:write', { resource: audience });
    const cookie = await signIn(app, { sandbox, user: { sub: 'alice' }, scopes: ['openid', 'accounts:read'] });
    const { body } = await request(app).get('/me').set('Cookie', cookie);
    const claims = decodeJwt(String(body.accessToken));
    expect(claims).toMatchObject({ aud: audience, iss: sandbox.issuer, sub: 'alice', scope: 'accounts:read' });
  });
});

describe('a sandbox for a private_key_jwt client (clientJwksUri), and in FAPI 2.0 mode', () => {
  /** An app that authenticates with `key` and serves its public part at /jwks, listening so the sandbox can read it. */
  async function keyApp(options: { profile?: 'fapi2' }) {
    const key = await generateSigningKey('PS256');
    const server = createServer();
    const { port } = await listen(server, 0, '127.0.0.1');
    const baseUrl = `http://127.0.0.1:${port}`;
    const sandbox = await startSandbox({ redirectUris: [`${baseUrl}/callback`], clientJwksUri: `${baseUrl}/jwks`, ...options });
    const app = express();
    app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
    app.use(
      relyingParty({
        issuer: sandbox.issuer,
        clientId: sandbox.clientId,
        baseUrl,
        clientAuthMethod: 'private_key_jwt',
        clientPrivateKey: key,
        routes: { jwks: '/jwks' },
        ...(options.profile === 'fapi2' ? { profile: 'fapi2', dpop: true, dpopKey: await generateSigningKey('PS256') } : { idTokenSigningAlg: 'RS256' }),
      }),
    );
    app.get('/me', (req, res) => {
      res.json({ sub: req.auth.user?.sub, type: req.auth.accessToken?.type, request: req.auth.authorizationRequest });
    });
    server.on('request', app);
    return { sandbox, app, close: () => Promise.all([sandbox.close(), closeServer(server)]) };
  }

  it('signs in an app that authenticates with private_key_jwt, its key read from clientJwksUri', async () => {
    const { sandbox, app, close } = await keyApp({});
    try {
      expect(sandbox.profile).toBeUndefined();
      const cookie = await signIn(app, { sandbox, user: { sub: 'alice' } });
      expect((await request(app).get('/me').set('Cookie', cookie)).body).toEqual({ sub: 'alice', type: 'bearer', request: { pushed: false, signed: false } });
    } finally {
      await close();
    }
  });

  it("with profile 'fapi2', requires PAR and DPoP, signs PS256, and signs in a FAPI 2.0 client", async () => {
    const { sandbox, app, close } = await keyApp({ profile: 'fapi2' });
    try {
      const metadata = (await (await fetch(`${sandbox.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      expect(metadata).toMatchObject({ require_pushed_authorization_requests: true, id_token_signing_alg_values_supported: ['PS256'], authorization_response_iss_parameter_supported: true });
      const cookie = await signIn(app, { sandbox, user: { sub: 'alice' } });
      expect((await request(app).get('/me').set('Cookie', cookie)).body).toEqual({ sub: 'alice', type: 'DPoP', request: { pushed: true, signed: false } });
    } finally {
      await close();
    }
  });

  it("with profile 'fapi2', refuses an authorization request that was not pushed", async () => {
    const { sandbox, close } = await keyApp({ profile: 'fapi2' });
    try {
      const response = await fetch(
        `${sandbox.issuer}/auth?${new URLSearchParams({ client_id: sandbox.clientId, response_type: 'code', scope: 'openid', redirect_uri: sandbox.redirectUris[0] ?? '', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }).toString()}`,
        { redirect: 'manual' },
      );
      const location = new URL(response.headers.get('location') ?? '');
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('error_description')).toMatch(/Pushed Authorization Request must be used/);
    } finally {
      await close();
    }
  });
});

describe('a sandbox with an issuer path', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ redirectUris, issuerPath: '/realms/test/' });
  });
  afterAll(() => sandbox.close());

  it('serves discovery, its pages and the whole sign-in under that path', async () => {
    expect(sandbox.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/realms\/test$/);
    const metadata = (await (await fetch(`${sandbox.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ issuer: sandbox.issuer, authorization_endpoint: `${sandbox.issuer}/auth` });
    expect((await fetch(`${sandbox.issuer}/sandbox-assets/sandbox.css`)).status).toBe(200);

    const app = appFor(sandbox, 'openid profile');
    const cookie = await signIn(app, { sandbox, user: { sub: 'pat', name: 'Pat' } });
    const { body } = await request(app).get('/me').set('Cookie', cookie);
    expect(body.user).toMatchObject({ sub: 'pat', name: 'Pat', iss: sandbox.issuer });
  });
});

describe('the one-time code step', () => {
  it.each([
    ['', { ok: true, acr: 'urn:openbanking:psd2:ca', amr: ['pwd'] }],
    ['   ', { ok: true, acr: 'urn:openbanking:psd2:ca', amr: ['pwd'] }],
    ['123456', { ok: true, acr: 'urn:openbanking:psd2:sca', amr: ['pwd', 'otp'] }],
    ['123 456', { ok: true, acr: 'urn:openbanking:psd2:sca', amr: ['pwd', 'otp'] }],
    ['12345', { ok: false }],
    ['1234567', { ok: false }],
    ['12345a', { ok: false }],
  ])('%p → %p', (input, expected) => {
    expect(checkOneTimeCode(input)).toMatchObject(expected);
  });

  it('knows the code that reaches each acr it issues', () => {
    for (const acr of ['urn:openbanking:psd2:ca', 'urn:openbanking:psd2:sca']) {
      const code = oneTimeCodeFor(acr);
      expect(code).toBeDefined();
      expect(checkOneTimeCode(code ?? 'x')).toMatchObject({ ok: true, acr });
    }
    expect(oneTimeCodeFor('urn:example:other')).toBeUndefined();
  });
});

describe('the express-relying-party-sandbox command line', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'erp-sandbox-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('maps its flags to startSandbox() options, port 3001 by default', () => {
    expect(parseCommandLine(['--redirect-uri', 'http://localhost:3000/callback', '--redirect-uri', 'http://localhost:4000/cb'])).toEqual({
      help: false,
      options: expect.objectContaining({ redirectUris: ['http://localhost:3000/callback', 'http://localhost:4000/cb'], port: 3001 }),
    });
    const { options } = parseCommandLine([
      '--redirect-uri=http://localhost:3000/callback',
      '--port=0',
      '--issuer-path=/oidc',
      '--client-id=shop',
      '--client-secret=s3cret',
      '--api-audience=http://localhost:3000/api',
      '--api-scope=orders:read',
    ]) as { options: SandboxOptions };
    expect(options).toMatchObject({
      port: 0,
      issuerPath: '/oidc',
      clientId: 'shop',
      clientSecret: 's3cret',
      api: { audience: 'http://localhost:3000/api', scopes: ['orders:read'] },
    });
    expect(parseCommandLine(['--help'])).toEqual({ help: true });
    expect(USAGE).toContain('--redirect-uri <url>');
  });

  it('reads users from JSON or a file, releasing their non-standard claims with openid', async () => {
    const file = path.join(dir, 'users.json');
    await writeFile(file, JSON.stringify([{ sub: 'alice', name: 'Alice', groups: ['admins'] }]));
    for (const value of [file, '[{"sub":"alice","name":"Alice","groups":["admins"]}]']) {
      const { options } = parseCommandLine(['--redirect-uri', 'http://localhost:3000/callback', '--users', value]) as { options: SandboxOptions };
      expect(options.users).toEqual([{ sub: 'alice', name: 'Alice', groups: ['admins'] }]);
      expect(options.claims).toEqual({ openid: ['groups'] });
    }
  });

  it.each([
    [[], '--redirect-uri is required'],
    [['--redirect-uri', 'http://x/cb', '--prot', '1'], 'unknown option --prot. Did you mean --port?'],
    [['--redirect-uri', 'http://x/cb', '--port', 'eighty'], '--port must be a number from 0 to 65535'],
    [['--redirect-uri', 'http://x/cb', '--users', '[oops'], '--users: not valid JSON'],
    [['--redirect-uri', 'http://x/cb', '--users', '/nonexistent/users.json'], '--users: cannot read /nonexistent/users.json'],
    [['--redirect-uri', 'http://x/cb', '--api-scope', 'a'], '--api-scope needs --api-audience'],
    [['--redirect-uri', 'http://x/cb', '--profile', 'fapi1'], '--profile must be fapi2 (got "fapi1")'],
  ])('refuses %p: %s', (args, message) => {
    expect(() => parseCommandLine(args)).toThrow(UsageError);
    expect(() => parseCommandLine(args)).toThrow(message);
  });

  it('--profile fapi2 reads the app keys from <redirect URI origin>/jwks unless --client-jwks-uri says otherwise', () => {
    const fapi = parseCommandLine(['--redirect-uri', 'http://localhost:3000/callback', '--profile', 'fapi2']) as { options: SandboxOptions };
    expect(fapi.options).toMatchObject({ profile: 'fapi2', clientJwksUri: 'http://localhost:3000/jwks' });
    const given = parseCommandLine(['--redirect-uri', 'http://localhost:3000/callback', '--profile=fapi2', '--client-jwks-uri=http://localhost:3000/.well-known/jwks.json']) as { options: SandboxOptions };
    expect(given.options.clientJwksUri).toBe('http://localhost:3000/.well-known/jwks.json');
    expect(USAGE).toContain('--profile fapi2');
  });

  it('prints what a FAPI 2.0 app needs, and no client secret, in FAPI 2.0 mode', async () => {
    const sandbox = await startSandbox({ redirectUris, profile: 'fapi2', clientJwksUri: `${BASE_URL}/jwks` });
    try {
      const text = banner(sandbox, { clientSecretGiven: false, knownUsers: [] });
      expect(text).not.toContain('OIDC_CLIENT_SECRET');
      expect(text).not.toContain('client secret changes');
      expect(text).toContain(`The app authenticates with private_key_jwt; its public keys are read from ${BASE_URL}/jwks`);
      expect(text).toContain("relyingParty({ profile: 'fapi2', clientAuthMethod: 'private_key_jwt',");
    } finally {
      await sandbox.close();
    }
  });

  it('prints the settings as env lines ready to paste', async () => {
    const sandbox = await startSandbox({ redirectUris });
    try {
      const text = banner(sandbox, { clientSecretGiven: false, knownUsers: ['alice'] });
      expect(text.split('\n')).toEqual(
        expect.arrayContaining([
          `OIDC_ISSUER=${sandbox.issuer}`,
          'OIDC_CLIENT_ID=sandbox-app',
          `OIDC_CLIENT_SECRET=${sandbox.clientSecret}`,
          'Redirect URIs: http://localhost:3000/callback',
          'Sign in with any username and password (test users: alice).',
          'The client secret changes at every start; pass --client-secret to keep one.',
        ]),
      );
    } finally {
      await sandbox.close();
    }
  });
});
