/**
 * The apps compared, built the way their docs say, each with the same
 * protected route: `GET /protected` → `{"sub": …}` for a signed-in session.
 * Each child imports only what its own app uses, so its memory is its app's.
 */
import express from 'express';
import type { ErrorRequestHandler } from 'express';
import session from 'express-session';
import type { SessionData } from 'express-session';
// the library's session typing (`SessionData.relyingParty`), read by the stats below
import type {} from 'express-relying-party';
import { BENCH_ACR, PROTECTED_PATH, STEP_UP_PATH } from './protocol.js';
import type { AppConfig, GuardUser, SessionStats } from './protocol.js';

declare module 'express-session' {
  interface SessionData {
    /** the hand-written guard's signed-in user */
    user?: GuardUser;
  }
}

const SESSION_SECRET = 'bench-session-secret-0123456789abcdef';

export interface BuiltApp {
  app: express.Express;
  /** the express-session store, when the app has one */
  store?: session.MemoryStore;
}

let reported = false;
const errorHandler: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  // one line, not one per request: a broken setup shows up as failures in the results
  if (!reported) {
    reported = true;
    const code = typeof err === 'object' && err !== null && 'code' in err ? ` (${String(err.code)})` : '';
    console.error(`bench app error${code}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const status = typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number' ? err.status : 500;
  res.status(status).end();
};

/**
 * (a) the floor: express-session and a guard that reads the session, nothing
 * else. `/bench-login` stands in for a hand-written callback; with
 * `extraSession` it also copies that data into the session.
 */
function guardApp(config: Extract<AppConfig, { kind: 'guard' }>): BuiltApp {
  const store = new session.MemoryStore();
  const extra = config.extraSession === undefined ? {} : (JSON.parse(config.extraSession) as Partial<SessionData>);
  const user = config.user;
  const app = express();
  app.use(session({ secret: SESSION_SECRET, resave: false, saveUninitialized: false, store }));
  app.get('/bench-login', (req, res) => {
    Object.assign(req.session, extra);
    req.session.user = user;
    res.sendStatus(204);
  });
  app.get(
    PROTECTED_PATH,
    (req, res, next) => {
      if (!req.session.user) return res.sendStatus(401);
      next();
    },
    (req, res) => {
      res.json({ sub: req.session.user?.sub });
    },
  );
  app.use(errorHandler);
  return { app, store };
}

/** (b) this library, as its README sets it up. */
async function oursApp(config: Extract<AppConfig, { kind: 'ours' }>): Promise<BuiltApp> {
  const { relyingParty, requiresAuth } = await import('express-relying-party');
  const store = new session.MemoryStore();
  const app = express();
  app.use(
    session({
      secret: SESSION_SECRET,
      resave: false,
      saveUninitialized: false,
      store,
      ...(config.sessionMaxAge === undefined ? {} : { cookie: { maxAge: config.sessionMaxAge } }),
    }),
  );
  app.use(
    relyingParty({
      issuer: config.issuer,
      clientId: config.clientId,
      baseUrl: config.baseUrl,
      ...(config.loginTimeout === undefined ? {} : { loginTimeout: config.loginTimeout }),
      ...(config.fapi === undefined
        ? { clientSecret: config.clientSecret }
        : {
            clientAuthMethod: 'private_key_jwt' as const,
            clientPrivateKey: config.fapi.clientPrivateKey,
            pushedAuthorizationRequests: true,
            dpop: true,
            dpopKey: config.fapi.dpopKey,
          }),
    }),
  );
  app.get(PROTECTED_PATH, requiresAuth(), (req, res) => {
    res.json({ sub: req.auth?.user?.sub });
  });
  // (b+): the same route behind a guard with step-up options, met by the sign-in
  app.get(STEP_UP_PATH, requiresAuth({ acr: [BENCH_ACR], scopes: ['openid', 'profile'] }), (req, res) => {
    res.json({ sub: req.auth?.user?.sub });
  });
  app.use(errorHandler);
  return { app, store };
}

/**
 * (c) Auth0's express-openid-connect with its default stateless session
 * (an encrypted `appSession` cookie). v3.4 accepts an `http:` issuer as it
 * is (it turns on openid-client's `allowInsecureRequests` itself) and, for
 * an `http:` baseURL, leaves the cookie without `Secure`: no extra setting.
 */
async function eocApp(config: Extract<AppConfig, { kind: 'eoc' }>): Promise<BuiltApp> {
  // CommonJS whose named exports Node cannot detect: take them from the default export
  const { default: eoc } = await import('express-openid-connect');
  const app = express();
  app.use(
    eoc.auth({
      authRequired: false,
      issuerBaseURL: config.issuer,
      baseURL: config.baseUrl,
      clientID: config.clientId,
      clientSecret: config.clientSecret,
      secret: SESSION_SECRET,
      authorizationParams: { response_type: 'code', scope: 'openid profile email' },
    }),
  );
  app.get(PROTECTED_PATH, eoc.requiresAuth(), (req, res) => {
    res.json({ sub: req.oidc.user?.sub });
  });
  app.use(errorHandler);
  return { app };
}

export async function buildApp(config: AppConfig): Promise<BuiltApp> {
  switch (config.kind) {
    case 'guard':
      return guardApp(config);
    case 'ours':
      return oursApp(config);
    case 'eoc':
      return eocApp(config);
  }
}

function allSessions(store: session.MemoryStore): Promise<SessionData[]> {
  return new Promise((resolve, reject) => {
    store.all((err: unknown, sessions) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(Object.values(sessions ?? {}));
    });
  });
}

const isSignedIn = (data: SessionData) => data.relyingParty?.auth !== undefined || data.user !== undefined;

/** Sizes of what a MemoryStore holds: its entries are `JSON.stringify(session)`. */
export async function sessionStats(store: session.MemoryStore): Promise<SessionStats> {
  const stats: SessionStats = { count: 0, totalBytes: 0, maxBytes: 0, maxPendingLogins: 0, signedIn: 0 };
  for (const data of await allSessions(store)) {
    const bytes = Buffer.byteLength(JSON.stringify(data));
    stats.count += 1;
    stats.totalBytes += bytes;
    stats.maxBytes = Math.max(stats.maxBytes, bytes);
    stats.maxPendingLogins = Math.max(stats.maxPendingLogins, Object.keys(data.relyingParty?.logins ?? {}).length);
    if (isSignedIn(data)) {
      stats.signedIn += 1;
      stats.signedInBytes = bytes;
    }
  }
  return stats;
}

/** One signed-in session's data without its cookie, as JSON, to give another app the same session contents. */
export async function signedInSession(store: session.MemoryStore): Promise<string | null> {
  const data = (await allSessions(store)).find(isSignedIn);
  if (data === undefined) return null;
  return JSON.stringify(Object.fromEntries(Object.entries(data).filter(([key]) => key !== 'cookie')));
}
