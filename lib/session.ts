import type { Request } from 'express';
import type { Session, SessionData } from 'express-session';
import { RelyingPartyError } from './errors.js';
import type { Config } from './options.js';

/** A login started by `/login` and not yet finished at the callback; kept under its `state`. */
export interface PendingLogin {
  /** The `nonce` sent to the provider; absent when `scope` has no `openid`. */
  nonce?: string;
  /** The PKCE `code_verifier` whose S256 challenge went to the provider. */
  codeVerifier: string;
  /** Same-origin path to go back to after the login. */
  returnTo: string;
  /** Epoch milliseconds when the login started. */
  createdAt: number;
}

/**
 * What a finished login leaves in the session: each token once. The ID
 * token's claims are not stored again; `req.auth.user` reads them from the
 * (validated) ID token when asked.
 */
export interface AuthRecord {
  accessToken: string;
  tokenType: string;
  /** Epoch seconds when the access token expires, when the provider said. */
  expiresAt?: number;
  scope?: string;
  idToken?: string;
  refreshToken?: string;
  /** Claims from the userinfo endpoint, when fetched (`fetchUserInfo`). */
  userinfo?: Record<string, unknown>;
}

/** Everything this library keeps in the session, under the one key `relyingParty`. */
export interface RelyingPartySessionData {
  /** Pending logins keyed by `state`. */
  logins?: Record<string, PendingLogin>;
  auth?: AuthRecord;
}

declare module 'express-session' {
  interface SessionData {
    /** State of `express-relying-party`; treat it as private. */
    relyingParty?: RelyingPartySessionData;
  }
}

/** The session of this request, typed; `req.session` exists only under express-session. */
export type RequestSession = Session & Partial<SessionData>;

const sessionMissing = () =>
  new RelyingPartyError(
    'session_missing',
    'req.session is missing: mount express-session before relyingParty(), e.g. app.use(session({ secret, resave: false, saveUninitialized: false })). Did you forget to use express-session middleware?',
  );

/**
 * The request's session, or a `session_missing` error when express-session
 * is not mounted. express-session mounted but without a session means its
 * store said it is disconnected: `session_store_error` (503).
 */
export function requireSession(req: Request): RequestSession {
  const session = req.session as RequestSession | undefined;
  if (session && typeof session.regenerate === 'function') return session;
  if ((req.sessionStore as Request['sessionStore'] | undefined) !== undefined) {
    throw new RelyingPartyError('session_store_error', 'The session store is disconnected: no session could be loaded.');
  }
  throw sessionMissing();
}

/** Records a pending login, dropping expired ones and the oldest beyond `maxPendingLogins`. */
export function addPendingLogin(session: RequestSession, state: string, login: PendingLogin, config: Config): void {
  const data = (session.relyingParty ??= {});
  const kept = Object.entries(data.logins ?? {})
    .filter(([, pending]) => login.createdAt - pending.createdAt < config.loginTimeout)
    .sort(([, a], [, b]) => b.createdAt - a.createdAt)
    .slice(0, config.maxPendingLogins - 1);
  data.logins = Object.fromEntries([...kept, [state, login]]);
}

/**
 * Removes and returns the pending login for `state`. It is removed before
 * anything is checked, so a callback can be attempted once only.
 */
export function takePendingLogin(session: RequestSession, state: string): PendingLogin | undefined {
  const data = session.relyingParty;
  const logins = data?.logins;
  if (!data || !logins || !Object.hasOwn(logins, state)) return undefined;
  const { [state]: login, ...others } = logins;
  if (Object.keys(others).length === 0) delete data.logins;
  else data.logins = others;
  if (data.auth === undefined && data.logins === undefined) delete session.relyingParty;
  return login;
}

/** Removes the auth record (sign-out), leaving pending logins and the app's data alone. */
export function clearAuth(session: RequestSession): void {
  const data = session.relyingParty;
  if (!data) return;
  delete data.auth;
  if (data.logins === undefined) delete session.relyingParty;
}

function storeError(err: unknown, action: string): RelyingPartyError {
  return new RelyingPartyError('session_store_error', `The session store failed to ${action} the session.`, { cause: err });
}

/**
 * Gives the session a new id (session fixation defence), keeping the app's
 * own session data: express-session's `regenerate()` alone would drop it.
 */
export async function regenerateSession(req: Request): Promise<RequestSession> {
  const kept = Object.entries(requireSession(req)).filter(([key]) => key !== 'cookie');
  await new Promise<void>((resolve, reject) => {
    requireSession(req).regenerate((err: unknown) => (err ? reject(storeError(err, 'regenerate')) : resolve()));
  });
  const fresh = requireSession(req);
  Object.assign(fresh, Object.fromEntries(kept));
  return fresh;
}

/** Saves the session now, so that it is stored before the browser follows a redirect. */
export async function saveSession(session: RequestSession): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    session.save((err: unknown) => (err ? reject(storeError(err, 'save')) : resolve()));
  });
}
