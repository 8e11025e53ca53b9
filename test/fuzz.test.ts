/**
 * Property-based fuzzing (fast-check) of the routes the middleware answers,
 * against the real test provider. Whatever arrives — any query, duplicates,
 * unicode, broken percent-encoding, huge values, any method, Accept, Cookie,
 * Content-Type, Host or X-Forwarded-* header, any body — the app answers
 * below 500 (the provider is healthy, so not even the documented 502/503/504),
 * nobody ends up signed in, no promise rejection goes unhandled, and `/login`
 * only ever redirects to the provider's authorize endpoint with the app's own
 * parameters.
 *
 * The seed is fixed so every run fuzzes the same inputs; `FUZZ_SEED=<n>`
 * explores others and `FUZZ_SCALE=<k>` multiplies the number of runs. A
 * failure prints the seed, the path to replay it and the shrunk input.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash, randomUUID } from 'node:crypto';
import session from 'express-session';
import fc from 'fast-check';
import type { Arbitrary } from 'fast-check';
import { SignJWT, base64url, generateKeyPair } from 'jose';
import type { CryptoKey, JWTPayload } from 'jose';
import request from 'supertest';
import type { Response } from 'supertest';
import { ProviderBrowser } from './fixtures/browser.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { baseUrl, createTestApp, expectError, pathOf, redirectOf, rpOptions, serve, sessionCookie, startLogin, storedSessions } from './support/rp-app.js';
import { watchUnhandledRejections } from './support/unhandled-rejections.js';
import type { RejectionWatch } from './support/unhandled-rejections.js';
import type { Agent, ServedApp } from './support/rp-app.js';

const seed = Number(process.env.FUZZ_SEED ?? 20250611);
const scale = Number(process.env.FUZZ_SCALE ?? 1);
const fuzz = (numRuns: number) => ({ seed, numRuns: Math.max(1, Math.round(numRuns * scale)) });
/** A request that takes longer than this is a hang, not slowness: fail it with a clear error, not jest's timeout. */
const REQUEST_DEADLINE_MS = 10_000;

let rejections: RejectionWatch;

let tp: TestProvider;
let authorizeEndpoint: string;
/** where the app listens: one server for all requests instead of one per supertest call */
let served: ServedApp;
let origin: string;
/** signs logout tokens whose signature must not verify */
let foreignKey: CryptoKey;
const store = new session.MemoryStore();

beforeAll(async () => {
  rejections = watchUnhandledRejections();
  tp = await startTestProvider();
  const rp = createTestApp(rpOptions(tp, { httpTimeout: 1000, routes: { backchannelLogout: '/backchannel-logout' } }), store);
  served = await serve(rp.app);
  origin = served.origin;
  const discovery = await fetch(`${tp.issuer}/.well-known/openid-configuration`);
  authorizeEndpoint = ((await discovery.json()) as { authorization_endpoint: string }).authorization_endpoint;
  ({ privateKey: foreignKey } = await generateKeyPair('RS256'));
});
afterAll(async () => {
  rejections.stop();
  await tp.close();
  await served.close();
});
beforeEach(() => tp.reset());
afterEach(() => expect(rejections.reasons).toEqual([]));

// ---------------------------------------------------------------- helpers

type Method = 'get' | 'head' | 'post' | 'put' | 'delete' | 'patch' | 'options';

interface FuzzRequest {
  method: Method;
  path: string;
  /** `''` or `?…`, sent as is */
  query: string;
  headers: [string, string][];
  body?: string;
}

interface ErrorBody {
  code?: string;
  message?: string;
  error?: string;
}

function send(r: FuzzRequest): Promise<Response> {
  let test = request(origin)[r.method](r.path + r.query).timeout({ deadline: REQUEST_DEADLINE_MS });
  for (const [name, value] of r.headers) test = test.set(name, value);
  return r.body === undefined ? test : test.send(r.body);
}

function clearStore(): Promise<void> {
  return new Promise((resolve, reject) => store.clear((err?: unknown) => (err ? reject(new Error(String(err))) : resolve())));
}

async function signedInSessions(): Promise<number> {
  return (await storedSessions(store)).filter((s) => s.relyingParty?.auth !== undefined).length;
}

async function isSignedIn(agent: Agent): Promise<boolean> {
  return ((await agent.get('/public')).body as { isAuthenticated: boolean }).isAuthenticated;
}

/**
 * Nobody is signed in: not in the store, not in the session the response
 * handed out. And the store holds a session only when the request started a
 * login (`startedLogin`): anything else an anonymous client sends stores
 * nothing, or bots could fill the store (with `saveUninitialized: false`).
 */
async function expectNobodySignedIn(response: Response, startedLogin = false): Promise<void> {
  const sessions = await storedSessions(store);
  expect(sessions.filter((s) => s.relyingParty?.auth !== undefined)).toEqual([]);
  expect({ storedSessions: sessions.length, startedLogin }).toEqual({ storedSessions: startedLogin ? 1 : 0, startedLogin });
  const cookie = sessionCookie(response);
  if (cookie !== undefined) {
    expect((await request(origin).get('/public').set('Cookie', cookie)).body).toEqual({ isAuthenticated: false });
  }
}

const AUTHORIZE_PARAMETERS = ['client_id', 'code_challenge', 'code_challenge_method', 'nonce', 'redirect_uri', 'response_type', 'scope', 'state'];

/** Asserts a redirect to the provider's authorize endpoint carrying exactly the app's own parameters; returns them. */
function expectAuthorizeRedirect(response: Response): URLSearchParams {
  expect(response.status).toBe(302);
  const location = new URL(String(response.headers.location));
  expect(location.origin + location.pathname).toBe(authorizeEndpoint);
  expect([...location.searchParams.keys()].sort()).toEqual(AUTHORIZE_PARAMETERS);
  expect(Object.fromEntries(location.searchParams)).toMatchObject({
    client_id: tp.clientId,
    redirect_uri: `${baseUrl}/callback`,
    response_type: 'code',
    scope: 'openid profile email',
    code_challenge_method: 'S256',
  });
  return location.searchParams;
}

/**
 * Whether a returnTo keeps the browser on the app's origin however it is
 * read: as a browser does (backslash as slash, tabs and newlines dropped)
 * and after each of the three percent-decoding layers the README promises.
 */
function staysOnOrigin(returnTo: string): boolean {
  let value = returnTo;
  for (let layer = 0; layer <= 3; layer++) {
    const asBrowserReadsIt = value.replace(/\\/g, '/').replace(/[\t\n\r]/g, '');
    if (!asBrowserReadsIt.startsWith('/') || asBrowserReadsIt.startsWith('//')) return false;
    if (new URL(asBrowserReadsIt, baseUrl).origin !== baseUrl) return false;
    try {
      const decoded = decodeURIComponent(value);
      if (decoded === value) break;
      value = decoded;
    } catch {
      break;
    }
  }
  return true;
}

/** A 4xx; a failure shows the whole answer. */
function expect4xx(response: Response): void {
  const { status } = response;
  const { code, message } = response.body as ErrorBody;
  expect({ status, code, message, is4xx: status >= 400 && status < 500 }).toEqual({ status, code, message, is4xx: true });
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

// ---------------------------------------------------------------- arbitraries

/** Strings that have broken parsers before: escapes, separators, prototype keys, control and bidi characters, lone surrogates. */
const NASTY = [
  '', ' ', '%', '%%', '%2', '%zz', '%00', '%0a', '%E0%A4', '%C0%AF', '%25', '%2525', '+', '&', '=', '==', ';', '?', '#', '[]', '[0]',
  '\u0000', '\r\n', '\t', '\uD800', '\uDFFF', '\u202E', '\uFEFF', '😀', 'é', 'null', 'undefined', 'NaN', '-1', '1e309', '[object Object]',
  '{"a":1}', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', '../../etc/passwd', '<script>alert(1)</script>',
  '"\'`', 'https://evil.example/', '//evil.example', 'javascript:alert(1)',
];

/** Values from 1.5 to 3 KB once percent-encoded: huge for a parameter, still under Node's 16 KB header limit a few at a time. */
const hugeText = fc
  .tuple(fc.constantFrom('a', '%', 'é', '😀', '&', '\u0000'), fc.integer({ min: 1500, max: 3000 }))
  .map(([unit, bytes]) => unit.repeat(Math.ceil(bytes / encodeURIComponent(unit).length)));

const text: Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 30 }), weight: 3 },
  { arbitrary: hugeText, weight: 1 },
);

/** The parameters the protocol gives a meaning to, at the callback or at the authorize endpoint. */
const PROTOCOL_KEYS = ['state', 'code', 'iss', 'error', 'error_description', 'error_uri', 'response', 'id_token', 'token', 'session_state'];
const AUTHORIZE_KEYS = ['returnTo', 'redirect_uri', 'client_id', 'response_type', 'response_mode', 'scope', 'nonce', 'code_challenge', 'code_challenge_method', 'prompt', 'request', 'request_uri', 'login_hint'];
const key: Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...PROTOCOL_KEYS, ...AUTHORIZE_KEYS, 'logout_token', '__proto__', 'constructor', 'state[]', 'returnTo[]', 'STATE', ''), weight: 3 },
  { arbitrary: text, weight: 1 },
);
/** Keys repeat often (few keys, up to 8 pairs), so duplicates are common. */
const pairs = fc.array(fc.tuple(key, text), { maxLength: 8 });

/** What a URL parser would choke on: stray separators, broken and nested escapes, characters that need encoding. */
const RAW_PIECES = [...'%&=+;?/.\\-_~!$\'()*,:@[]"<>^`{|}aZ09', '%2', '%zz', '%00', '%25', '%E0', '%A4', '%FF', 'state=', 'code=', 'iss=', 'error=', 'returnTo='];
const rawQuery = fc.array(fc.constantFrom(...RAW_PIECES), { maxLength: 60 }).map((pieces) => `?${pieces.join('')}`);
const query: Arbitrary<string> = fc.oneof(
  fc.constant(''),
  pairs.map((p) => `?${new URLSearchParams(p).toString()}`),
  rawQuery,
);

/** Characters Node's HTTP client lets into a header value. */
const HEADER_CHARS = ['\t', ...Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)), 'é', 'ÿ', '\u0080'];
const headerText = fc.oneof(
  fc.string({ unit: fc.constantFrom(...HEADER_CHARS), maxLength: 60 }),
  fc.constantFrom('', ' ', ';', ',', '=', '"', 'undefined', 'null', '%', '%zz', 'é'.repeat(2000)),
);
const cookieHeader = fc.oneof(
  headerText,
  headerText.map((value) => `connect.sid=${value}`),
  fc.tuple(fc.base64String({ maxLength: 44 }), fc.base64String({ maxLength: 44 })).map(([id, signature]) => `connect.sid=s%3A${id}.${signature}`),
  fc.constantFrom('connect.sid=', 'connect.sid', '=', ';;;', 'connect.sid=s%3A', 'connect.sid=%', 'connect.sid=s%3Aa.b; connect.sid=s%3Ac.d'),
);
const CONTENT_TYPES = [
  'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-16', 'application/json', 'text/plain',
  'multipart/form-data; boundary=x', 'application/jwt', 'APPLICATION/X-WWW-FORM-URLENCODED', '*/*',
];
const ACCEPTS = ['text/html', 'text/html,application/xhtml+xml,*/*;q=0.8', 'application/json', '*/*', 'text/html;q=0', 'TEXT/HTML'];
const header = (name: string, value: Arbitrary<string>): Arbitrary<[string, string][]> =>
  fc.option(value, { nil: undefined }).map((v) => (v === undefined ? [] : [[name, v]]));
const headers: Arbitrary<[string, string][]> = fc
  .tuple(
    header('Accept', fc.oneof(fc.constantFrom(...ACCEPTS), headerText)),
    header('Cookie', cookieHeader),
    header('Content-Type', fc.oneof(fc.constantFrom(...CONTENT_TYPES), headerText)),
    header('Host', fc.oneof(fc.constantFrom('evil.example', 'evil.example:443', '127.0.0.1:1', 'localhost'), headerText)),
    header('X-Forwarded-Host', fc.oneof(fc.constant('evil.example'), headerText)),
    header('X-Forwarded-Proto', fc.oneof(fc.constantFrom('https', 'http', 'javascript'), headerText)),
  )
  .map((all) => all.flat());

const base64urlJson = fc.jsonValue().map((value) => base64url.encode(JSON.stringify(value)));
const jwtHeader = fc
  .record({ alg: fc.constantFrom('RS256', 'none', 'HS256', 'ES256', ''), kid: fc.option(text, { nil: undefined }) })
  .map((h) => base64url.encode(JSON.stringify(h)));
/** Looks like a JWS, verifies as nothing. */
const jwtLike = fc.tuple(fc.oneof(jwtHeader, base64urlJson), base64urlJson, fc.base64String({ maxLength: 80 })).map((parts) => parts.join('.'));
const body: Arbitrary<string> = fc.oneof(
  text,
  pairs.map((p) => new URLSearchParams(p).toString()),
  jwtLike.map((token) => new URLSearchParams({ logout_token: token }).toString()),
  fc.tuple(jwtLike, jwtLike).map(([a, b]) => `logout_token=${a}&logout_token=${b}`),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  // past the 64 KiB cap of the back-channel logout endpoint
  fc.constant(`logout_token=${'a'.repeat(70_000)}`),
);

const ROUTES = ['/login', '/callback', '/logout', '/backchannel-logout', '/profile'];
const METHODS: Method[] = ['get', 'get', 'head', 'post', 'post', 'put', 'delete', 'patch', 'options'];
const fuzzRequest: Arbitrary<FuzzRequest> = fc
  .record({ method: fc.constantFrom(...METHODS), path: fc.constantFrom(...ROUTES), query, headers, body: fc.option(body, { nil: undefined }) })
  .map((r) => (['get', 'head', 'options'].includes(r.method) ? { ...r, body: undefined } : r));

/** What each route answers to a request that does not belong to any login: the README's contract. */
function expectRouteAnswer(r: FuzzRequest, response: Response): void {
  const { status } = response;
  const method = r.method.toUpperCase();
  const errorBody = response.body as ErrorBody;
  switch (`${method} ${r.path}`) {
    case 'GET /login':
      expectAuthorizeRedirect(response);
      return;
    case 'HEAD /login':
      // a HEAD starts no login: it would only leave state behind
      expect(status).toBe(204);
      return;
    case 'GET /callback':
      expect({ status, code: errorBody.code }).toEqual({ status: 400, code: expect.stringMatching(/^state_(missing|unknown)$/) });
      return;
    case 'GET /logout':
    case 'POST /logout':
      // nobody was signed in: straight to postLogoutRedirect, resolved against baseUrl
      expect({ status, location: response.headers.location }).toEqual({ status: 302, location: `${baseUrl}/` });
      return;
    case 'POST /backchannel-logout':
      expect({ status, error: errorBody.error }).toEqual({ status: 400, error: 'invalid_request' });
      return;
    case 'GET /profile':
    case 'HEAD /profile':
    case 'POST /profile': {
      const accept = r.headers.find(([name]) => name === 'Accept')?.[1] ?? '';
      if (method === 'GET' && accept.includes('text/html')) expectAuthorizeRedirect(response);
      else expect(status).toBe(401);
      return;
    }
    case 'OPTIONS /profile':
      // Express answers OPTIONS itself for paths that have routes
      expect(status).toBe(200);
      return;
    default:
      // not a method the route takes: the middleware lets it through to the app, which has nothing there
      expect(status).toBe(404);
  }
}

// ---------------------------------------------------------------- properties

describe('random requests at the routes', () => {
  it('never a 5xx, never a token request, nobody signed in, each route answers as documented', async () => {
    await fc.assert(
      fc.asyncProperty(fuzzRequest, async (r) => {
        await clearStore();
        const response = await send(r);
        expect(response.status).toBeLessThan(500);
        // 431: Node itself refused the request line and headers as too large, the app never saw it
        if (response.status !== 431) expectRouteAnswer(r, response);
        await expectNobodySignedIn(response, String(response.headers.location).startsWith(`${authorizeEndpoint}?`));
        expect(tp.count('/token')).toBe(0);
        expect(rejections.reasons).toEqual([]);
      }),
      fuzz(1000),
    );
  });
});

describe('/login with any query and headers', () => {
  /** Plain paths come back unchanged; the rest is built from the pieces open redirects are made of. */
  const plainPath = fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/), { maxLength: 4 }).map((segments) => `/${segments.join('/')}`);
  const trickyPath = fc
    .array(fc.constantFrom('', '', '.', '..', '%2e', '%2E%2E', '.%2e', 'a', 'evil.example', '\\', '\\evil.example', '%2f', '%5c', '%09', '%252f', '\t', 'https:', '@evil.example', '?x=/', '#/'), { minLength: 1, maxLength: 5 })
    .map((segments) => `/${segments.join('/')}`);
  const returnTo = fc.oneof(plainPath, trickyPath, text);
  const loginQuery = fc
    .record({ returnTo: fc.option(returnTo, { nil: undefined }), more: pairs, rawTail: fc.option(rawQuery, { nil: undefined }) })
    .map(({ returnTo: value, more, rawTail }) => {
      const first: [string, string][] = value === undefined ? [] : [['returnTo', value]];
      const search = new URLSearchParams([...first, ...more]).toString();
      return { returnTo: value, query: `?${search}${rawTail === undefined ? '' : `&${rawTail.slice(1)}`}` };
    });

  it('redirects only to the authorize endpoint with its own parameters, and keeps a same-origin returnTo with the pending login', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<Method>('get'), loginQuery, headers, async (method, { returnTo: asked, query: search }, sent) => {
        await clearStore();
        const response = await send({ method, path: '/login', query: search, headers: sent });
        if (response.status === 431) return;
        const parameters = expectAuthorizeRedirect(response);

        // the pending login behind the redirect: its nonce and PKCE verifier match what went to the provider
        const sessions = await storedSessions(store);
        expect(sessions).toHaveLength(1);
        const logins = sessions[0]?.relyingParty?.logins ?? {};
        expect(Object.keys(logins)).toEqual([parameters.get('state')]);
        const login = Object.values(logins)[0];
        expect(login?.nonce).toBe(parameters.get('nonce'));
        expect(s256(login?.codeVerifier ?? '')).toBe(parameters.get('code_challenge'));
        const kept = login?.returnTo ?? '';
        expect({ returnTo: kept, staysOnOrigin: staysOnOrigin(kept) }).toEqual({ returnTo: kept, staysOnOrigin: true });
        if (asked !== undefined && /^\/([\w-]+(\/[\w-]+)*)?$/.test(asked)) expect(kept).toBe(asked);
        expect(sessions[0]?.relyingParty?.auth).toBeUndefined();
        expect(rejections.reasons).toEqual([]);
      }),
      fuzz(400),
    );
  });
});

describe('a real pending login, its callback tampered with', () => {
  /** The parameters whose values decide the login; the rest must be ignored (RFC 6749 §4.1.2). */
  type Decisive = 'code' | 'state' | 'iss';
  const DECISIVE: Decisive[] = ['code', 'state', 'iss'];
  /** Parameters a plain code-flow callback must not carry: an error, a JARM response, implicit/hybrid tokens. */
  const FORBIDDEN = ['error', 'response', 'id_token', 'token'];

  type Mutation =
    | { op: 'drop'; key: Decisive }
    | { op: 'duplicate'; key: Decisive; value: string | undefined }
    | { op: 'replace'; key: Decisive; value: string }
    | { op: 'inject'; key: string; value: string }
    | { op: 'garbage'; key: string; value: string };

  const decisive = fc.constantFrom(...DECISIVE);
  const nonEmpty = text.filter((value) => value !== '');
  const mutation: Arbitrary<Mutation> = fc.oneof(
    fc.record({ op: fc.constant('drop' as const), key: decisive }),
    // undefined: the same value once more
    fc.record({ op: fc.constant('duplicate' as const), key: decisive, value: fc.option(text, { nil: undefined }) }),
    fc.record({ op: fc.constant('replace' as const), key: decisive, value: text }),
    fc.record({
      op: fc.constant('inject' as const),
      key: fc.constantFrom(...FORBIDDEN),
      value: fc.oneof(fc.constantFrom('access_denied', 'server_error', 'temporarily_unavailable', 'invalid_request'), nonEmpty),
    }),
    fc.record({ op: fc.constant('garbage' as const), key: key.filter((k) => !PROTOCOL_KEYS.includes(k)), value: text }),
  );

  function apply(genuine: URLSearchParams, mutations: Mutation[]): URLSearchParams {
    const params = new URLSearchParams(genuine);
    for (const m of mutations) {
      switch (m.op) {
        case 'drop':
          params.delete(m.key);
          break;
        case 'duplicate':
          params.append(m.key, m.value ?? genuine.get(m.key) ?? '');
          break;
        case 'replace':
          params.set(m.key, m.value);
          break;
        case 'inject':
        case 'garbage':
          params.append(m.key, m.value);
          break;
      }
    }
    return params;
  }

  const once = (params: URLSearchParams, name: string, value: string | null): boolean => {
    const values = params.getAll(name);
    return values.length === 1 && values[0] === value;
  };

  /** The only callbacks that may sign in: code, state and iss exactly as the provider sent them, nothing forbidden added. */
  function mustSignIn(params: URLSearchParams, genuine: URLSearchParams): boolean {
    return DECISIVE.every((name) => once(params, name, genuine.get(name))) && !FORBIDDEN.some((name) => params.has(name));
  }

  let sharedBrowser: ProviderBrowser;
  beforeAll(() => {
    // one browser at the provider: after the first login the provider redirects straight back
    sharedBrowser = new ProviderBrowser(tp.issuer);
  });

  async function pendingLogin(): Promise<{ agent: Agent; callback: URL }> {
    const agent = request.agent(origin);
    const callback = await sharedBrowser.authorize(await startLogin(agent));
    return { agent, callback };
  }

  it('signs in only with the untouched code, state and iss; anything else is a 4xx and nobody is signed in', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { maxLength: 4 }), async (mutations) => {
        await clearStore();
        const { agent, callback } = await pendingLogin();
        const genuine = callback.searchParams;
        const tampered = apply(genuine, mutations);
        const tokenRequests = tp.count('/token');
        const response = await agent.get(`/callback?${tampered.toString()}`).timeout({ deadline: REQUEST_DEADLINE_MS });
        const body = response.body as ErrorBody;

        if (mustSignIn(tampered, genuine)) {
          expect({ status: response.status, body }).toEqual({ status: 302, body: {} });
          expect(redirectOf(response).href).toBe(`${baseUrl}/`);
          expect(await isSignedIn(agent)).toBe(true);
          expect(await signedInSessions()).toBe(1);
        } else {
          const errors = tampered.getAll('error');
          const providerUnavailable = errors.length === 1 && ['server_error', 'temporarily_unavailable'].includes(errors[0] ?? '');
          if (providerUnavailable && response.status >= 500) {
            // the documented exception: the provider itself said server_error / temporarily_unavailable
            expect({ status: response.status, code: body.code }).toEqual({ status: errors[0] === 'server_error' ? 502 : 503, code: 'authorization_error' });
          } else {
            expect4xx(response);
          }
          if (!once(tampered, 'state', genuine.get('state'))) {
            // checked against the session before anything else: the provider never hears of it
            expect(body.code).toMatch(/^state_(missing|unknown)$/);
            expect(tp.count('/token')).toBe(tokenRequests);
          }
          expect(JSON.stringify(body)).not.toContain(String(genuine.get('code')));
          expect(await isSignedIn(agent)).toBe(false);
          expect(await signedInSessions()).toBe(0);
        }
        expect(rejections.reasons).toEqual([]);
      }),
      fuzz(150),
    );
  });

  it('a genuine state with a forged code → 400 token_request_rejected, nobody signed in', async () => {
    const forgedCode = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
      fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 100 }),
      fc.constantFrom(...NASTY.filter((value) => value !== '')),
      fc.integer({ min: 1000, max: 6000 }).map((length) => 'x'.repeat(length)),
    );
    await fc.assert(
      fc.asyncProperty(forgedCode, async (code) => {
        await clearStore();
        const { agent, callback } = await pendingLogin();
        const genuineCode = String(callback.searchParams.get('code'));
        fc.pre(code !== genuineCode);
        callback.searchParams.set('code', code);
        const tokenRequests = tp.count('/token');
        const response = await agent.get(pathOf(callback)).timeout({ deadline: REQUEST_DEADLINE_MS });
        expectError(response, 'token_request_rejected', 400);
        expect(tp.count('/token')).toBe(tokenRequests + 1);
        expect(await isSignedIn(agent)).toBe(false);
        expect(await signedInSessions()).toBe(0);
        expect(rejections.reasons).toEqual([]);
      }),
      fuzz(50),
    );
  });
});

describe('/backchannel-logout with validly signed tokens of arbitrary claims', () => {
  const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
  /** Each claim as a named variant; `ok` says whether OpenID Connect Back-Channel Logout 1.0 accepts it. */
  const variant = <T extends string>(ok: readonly T[], bad: readonly T[]) =>
    fc.oneof(fc.constantFrom(...ok).map((name) => ({ name, ok: true })), fc.constantFrom(...bad).map((name) => ({ name, ok: false })));
  const identifier = fc.option(fc.oneof(text, fc.integer(), fc.constant(null)), { nil: undefined });
  const token = fc.record({
    iss: variant(['issuer'], ['other', 'missing', 'trailing-slash']),
    aud: variant(['client', 'array'], ['other', 'missing']),
    iat: variant(['now', 'recent'], ['old', 'future', 'string', 'missing']),
    jti: variant(['unique'], ['number', 'missing']),
    events: variant(['event', 'event-and-more'], ['empty', 'null-event', 'string-event', 'array', 'string', 'missing']),
    nonce: variant(['absent'], ['present']),
    exp: variant(['absent', 'future'], ['past']),
    key: variant(['provider'], ['foreign', 'alg-none']),
    sid: identifier,
    sub: identifier,
  });
  type Token = typeof token extends Arbitrary<infer T> ? T : never;

  async function sign(t: Token): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const pick = <T>(name: string, values: Record<string, T>): T | undefined => values[name];
    const claims: Record<string, unknown> = {
      iss: pick(t.iss.name, { issuer: tp.issuer, other: 'https://other.example', 'trailing-slash': `${tp.issuer}/` }),
      aud: pick(t.aud.name, { client: tp.clientId, array: [tp.clientId, 'someone-else'], other: 'someone-else' }),
      iat: pick<number | string>(t.iat.name, { now, recent: now - 60, old: now - 3600, future: now + 3600, string: String(now) }),
      jti: pick<string | number>(t.jti.name, { unique: randomUUID(), number: 42 }),
      events: pick<unknown>(t.events.name, {
        event: { [LOGOUT_EVENT]: {} },
        'event-and-more': { [LOGOUT_EVENT]: {}, 'https://other.example/event': {} },
        empty: {},
        'null-event': { [LOGOUT_EVENT]: null },
        'string-event': { [LOGOUT_EVENT]: 'yes' },
        array: [LOGOUT_EVENT],
        string: LOGOUT_EVENT,
      }),
      nonce: pick(t.nonce.name, { present: 'n-0S6_WzA2Mj' }),
      exp: pick(t.exp.name, { future: now + 300, past: now - 300 }),
      sid: t.sid,
      sub: t.sub,
    };
    const payload: JWTPayload = Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
    if (t.key.name === 'alg-none') {
      return `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'logout+jwt' }))}.${base64url.encode(JSON.stringify(payload))}.`;
    }
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', kid: tp.signingKey.kid, typ: 'logout+jwt' })
      .sign(t.key.name === 'provider' ? tp.signingKey.privateKey : foreignKey);
  }

  const post = (logoutToken: string) =>
    request(origin).post('/backchannel-logout').type('form').send({ logout_token: logoutToken }).timeout({ deadline: REQUEST_DEADLINE_MS });

  it('200 exactly when the token is valid, else 400 invalid_request; a replay is refused; never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(token, async (t) => {
        await clearStore();
        const valid = [t.iss, t.aud, t.iat, t.jti, t.events, t.nonce, t.exp, t.key].every((claim) => claim.ok)
          && (typeof t.sid === 'string' || typeof t.sub === 'string');
        const logoutToken = await sign(t);
        const first = await post(logoutToken);
        expect({ status: first.status, error: (first.body as ErrorBody).error }).toEqual(valid ? { status: 200, error: undefined } : { status: 400, error: 'invalid_request' });
        if (valid) {
          const replay = await post(logoutToken);
          expect({ status: replay.status, error: (replay.body as ErrorBody).error }).toEqual({ status: 400, error: 'invalid_request' });
        }
        await expectNobodySignedIn(first);
        expect(rejections.reasons).toEqual([]);
      }),
      fuzz(200),
    );
  });
});

// ---------------------------------------------------------------- found by the properties above
// The shrunk counterexamples (and close relatives), as plain examples whose failure names the bug.

describe('regressions found by fuzzing', () => {
  it.each(['/.//evil.example', '/..//evil.example', '/a/..//evil.example/path?x=1', '/%2e%2e//evil.example'])(
    'returnTo %j does not send the browser to another origin after the login',
    async (returnTo) => {
      const agent = request.agent(origin);
      const callback = await new ProviderBrowser(tp.issuer).authorize(await startLogin(agent, `/login?${new URLSearchParams({ returnTo })}`));
      const response = await agent.get(pathOf(callback));
      const location = String(response.headers.location);
      expect({ location, sameOrigin: new URL(location, baseUrl).origin === baseUrl }).toEqual({ location, sameOrigin: true });
    },
  );

  it.each(['/..//evil.example', '/./%2F%2Fevil.example', '/../%5c/evil.example'])(
    '/login?returnTo=%j keeps a returnTo that no decoding turns into another origin',
    async (returnTo) => {
      await clearStore();
      expectAuthorizeRedirect(await request(origin).get(`/login?${new URLSearchParams({ returnTo })}`));
      const kept = Object.values((await storedSessions(store))[0]?.relyingParty?.logins ?? {})[0]?.returnTo ?? '';
      expect({ kept, staysOnOrigin: staysOnOrigin(kept) }).toEqual({ kept, staysOnOrigin: true });
    },
  );

  it.each(['get', 'post'] as const)('an anonymous %s /logout stores no session', async (method) => {
    await clearStore();
    const response = await request(origin)[method]('/logout');
    expect(redirectOf(response).href).toBe(`${baseUrl}/`);
    expect(await storedSessions(store)).toEqual([]);
  });

  it.each<[string, (callback: URLSearchParams) => void]>([
    ['iss twice', (p) => p.append('iss', p.get('iss') ?? '')],
    ['error twice', (p) => { p.append('error', 'access_denied'); p.append('error', 'access_denied'); }],
    ['response twice', (p) => { p.append('response', 'x'); p.append('response', 'y'); }],
    ['an id_token parameter', (p) => p.append('id_token', 'x')],
    ['a token parameter', (p) => p.append('token', 'x')],
    ['an empty code', (p) => p.set('code', '')],
  ])('a callback with a genuine state and %s → 400 callback_invalid, not a provider error', async (_name, tamper) => {
    const agent = request.agent(origin);
    const callback = await new ProviderBrowser(tp.issuer).authorize(await startLogin(agent));
    tamper(callback.searchParams);
    expectError(await agent.get(pathOf(callback)), 'callback_invalid', 400);
    expect(await isSignedIn(agent)).toBe(false);
  });
});
