/**
 * The app under test: express + express-session + relyingParty() pointed at
 * the test provider, with a few routes that expose what the tests assert
 * on, and helpers that play a whole login as a browser would.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { ErrorRequestHandler } from 'express';
import session from 'express-session';
import type { SessionData } from 'express-session';
import request from 'supertest';
import type { Response } from 'supertest';
import { expect } from '@jest/globals';
import { relyingParty, requiresAuth, RelyingPartyError } from 'express-relying-party';
import type { RelyingPartyOptions } from 'express-relying-party';
import { ProviderBrowser } from '../fixtures/browser.js';
import type { TestProvider } from '../fixtures/provider.js';

export type Agent = ReturnType<typeof request.agent>;

/** The nominal public origin of the app: the test provider has `<baseUrl>/callback` registered. */
export const baseUrl = 'http://127.0.0.1:3000';

export interface TestApp {
  app: express.Express;
  store: session.Store;
}

/** Options for the test provider, overridable per test. */
export function rpOptions(tp: TestProvider, overrides: Partial<RelyingPartyOptions> = {}): RelyingPartyOptions {
  return { issuer: tp.issuer, clientId: tp.clientId, clientSecret: tp.clientSecret, baseUrl, httpTimeout: 2000, ...overrides };
}

/** name, code and message of each cause, so a failing assertion shows what openid-client said */
function causesOf(err: Error): string[] {
  const causes: string[] = [];
  for (let cause = err.cause, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    const description = 'error_description' in cause && typeof cause.error_description === 'string' ? ` (${cause.error_description})` : '';
    causes.push(`${cause.name} ${'code' in cause ? String(cause.code) : ''}: ${cause.message}${description}`);
  }
  return causes;
}

const errorHandler: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  if (err instanceof RelyingPartyError) {
    res.status(err.status).json({ code: err.code, message: err.message, causes: causesOf(err) });
  } else {
    res.status(500).json({ code: 'unexpected', message: err instanceof Error ? err.message : String(err) });
  }
};

/**
 * Builds the app under test around `relyingParty(options)`, with Express 5
 * or the `framework` given (Express 4 from the `express4` alias), and
 * express-session with `sessionOptions` added.
 */
export function createTestApp(
  options: RelyingPartyOptions,
  store: session.Store = new session.MemoryStore(),
  extend?: (app: express.Express) => void,
  framework: typeof express = express,
  sessionOptions: Partial<session.SessionOptions> = {},
): TestApp {
  const app = framework();
  app.use(session({ secret: 'test-session-secret', resave: false, saveUninitialized: false, store, ...sessionOptions }));
  app.use(relyingParty(options));
  app.get('/public', (req, res) => {
    res.json({ isAuthenticated: req.auth?.isAuthenticated() ?? null });
  });
  app.get('/me', (req, res) => {
    const auth = req.auth;
    res.json({
      isAuthenticated: auth?.isAuthenticated(),
      user: auth?.user,
      idToken: auth?.idToken,
      refreshToken: auth?.refreshToken,
      accessToken: auth?.accessToken && {
        value: auth.accessToken.value,
        type: auth.accessToken.type,
        expiresAt: auth.accessToken.expiresAt,
        scope: auth.accessToken.scope,
        isExpired: auth.accessToken.isExpired(),
      },
    });
  });
  app.get('/profile', requiresAuth(), (req, res) => {
    res.json(req.auth?.user);
  });
  app.post('/profile', requiresAuth(), (req, res) => {
    res.json(req.auth?.user);
  });
  app.get('/cart', (req, res) => {
    req.session.cart = String(req.query.item);
    res.json({ cart: req.session.cart });
  });
  app.get('/cart/show', (req, res) => {
    res.json({ cart: req.session.cart ?? null });
  });
  extend?.(app);
  app.use(errorHandler);
  return { app, store };
}

declare module 'express-session' {
  interface SessionData {
    /** app data the tests put in the session, to check that sign-in keeps it */
    cart?: string;
  }
}

/** The session cookie's value from a response, if it set one. */
export function sessionCookie(response: Response): string | undefined {
  const setCookie: unknown = response.headers['set-cookie'];
  const cookies = Array.isArray(setCookie) ? (setCookie as string[]) : [];
  return cookies.find((c) => c.startsWith('connect.sid='))?.split(';')[0];
}

/** Asserts a redirect and returns its target as a URL (relative targets resolved against baseUrl). */
export function redirectOf(response: Response): URL {
  expect(response.status).toBe(302);
  const location = response.headers.location;
  expect(typeof location).toBe('string');
  return new URL(String(location), baseUrl);
}

/** Path and query of a URL, to replay a provider redirect into the app through supertest. */
export function pathOf(url: URL): string {
  return url.pathname + url.search;
}

/** Starts a login at the app and returns the authorize URL it redirects to. */
export async function startLogin(agent: Agent, path = '/login'): Promise<URL> {
  return redirectOf(await agent.get(path));
}

/** A browser at the provider: runs the scripted login and returns the callback URL the provider sends back. */
export async function authorizeAtProvider(tp: TestProvider, authorizeUrl: URL, browser = new ProviderBrowser(tp.issuer), callbackPath = '/callback'): Promise<URL> {
  const callback = await browser.authorize(authorizeUrl);
  expect(callback.origin + callback.pathname).toBe(`${baseUrl}${callbackPath}`);
  return callback;
}

/** A whole login: /login → provider → /callback. Returns the app's answer to the callback. */
export async function login(agent: Agent, tp: TestProvider, path = '/login', browser = new ProviderBrowser(tp.issuer)): Promise<Response> {
  const callback = await authorizeAtProvider(tp, await startLogin(agent, path), browser);
  return agent.get(pathOf(callback));
}

/** Asserts the app answered with a RelyingPartyError of `code` and `status`. */
export function expectError(response: Response, code: string, status: number): void {
  const body = response.body as { code?: string; causes?: string[] };
  expect({ status: response.status, code: body.code, causes: body.causes }).toEqual({ status, code, causes: body.causes });
}

/** Asserts whether the agent's session is signed in, as the app sees it. */
export async function expectSignedIn(agent: Agent, signedIn: boolean): Promise<void> {
  const response = await agent.get('/public');
  expect(response.body).toEqual({ isAuthenticated: signedIn });
}

/** Every session the store holds, as stored. */
export function storedSessions(store: session.Store): Promise<SessionData[]> {
  return new Promise((resolve, reject) => {
    if (!store.all) throw new Error('the store cannot list its sessions');
    store.all((err: unknown, sessions) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(Object.values(sessions ?? {}));
    });
  });
}

/**
 * One browser in front of several app instances (a load balancer's view):
 * it keeps the session cookie itself and sends each request to whichever
 * instance the test names.
 */
export class SharedBrowser {
  cookie: string | undefined;

  async get(app: express.Express, path: string, accept = 'application/json'): Promise<Response> {
    return this.#remember(this.#withCookie(request(app).get(path).set('Accept', accept)));
  }

  async post(app: express.Express, path: string): Promise<Response> {
    return this.#remember(this.#withCookie(request(app).post(path)));
  }

  async isSignedIn(app: express.Express): Promise<boolean> {
    return ((await this.get(app, '/public')).body as { isAuthenticated: boolean }).isAuthenticated;
  }

  #withCookie(test: request.Test): request.Test {
    return this.cookie === undefined ? test : test.set('Cookie', this.cookie);
  }

  async #remember(pending: request.Test): Promise<Response> {
    const response = await pending;
    this.cookie = sessionCookie(response) ?? this.cookie;
    return response;
  }
}

/**
 * Starts a login in `agent`'s session, lets the provider answer, edits the
 * callback's query with `edit`, and delivers it to the app, as a tampering
 * browser would.
 */
export async function deliverEditedCallback(agent: Agent, tp: TestProvider, edit: (query: URLSearchParams) => void): Promise<Response> {
  const callback = await authorizeAtProvider(tp, await startLogin(agent));
  edit(callback.searchParams);
  return agent.get(pathOf(callback));
}

/** An app listening on a real loopback port, for tests that drive it with many concurrent connections. */
export interface ServedApp {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  close(): Promise<void>;
}

export async function serve(app: express.Express): Promise<ServedApp> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
