import type { Request } from 'express';
import type { Session, SessionData } from 'express-session';
import { RelyingPartyError } from './errors.js';
import type { Config } from './options.js';

/** A login started by `/login` and not yet finished at the callback; kept under its `state`. */
export interface PendingLogin {
  /** The `name` of the instance that started it; only that instance's callback completes it. */
  provider: string;
  /** A `prompt=none` login started by `silentLogin`: "not signed in at the provider" ends it quietly. */
  silent?: true;
  /** The `nonce` sent to the provider; absent when `scope` has no `openid`. */
  nonce?: string;
  /** The PKCE `code_verifier` whose S256 challenge went to the provider. */
  codeVerifier: string;
  /** Same-origin path to go back to after the login. */
  returnTo: string;
  /** Epoch milliseconds when the login started. */
  createdAt: number;
  /** How the authorization request was sent, when it was pushed (PAR) or signed (JAR); carried into the auth record. */
  authorizationRequest?: AuthorizationRequestKind;
  /** What a step-up or `req.auth.login()` asked for, checked at the callback (see `lib/step-up.ts`). */
  asked?: AskedLogin;
}

/** How a login's authorization request reached the provider. */
export interface AuthorizationRequestKind {
  /** pushed from the server (PAR, RFC 9126) */
  pushed: boolean;
  /** a signed request object (JAR, RFC 9101) */
  signed: boolean;
}

/** What a login asked of the provider beyond the configured defaults; the callback checks the answer against it. */
export interface AskedLogin {
  /** `acr_values` sent: the ID token's `acr` must be one of them. */
  acrValues?: string[];
  /** `max_age` sent (seconds): the ID token's `auth_time` must be at most this old. */
  maxAge?: number;
  /** Scopes the access token must be granted. */
  scopes?: string[];
  /** The whole `scope` sent; taken as granted when the token response names none (RFC 6749 §5.1). */
  scope?: string;
  /** A step-up: the `sub` of the signed-in user, who must be the one to come back. */
  sub?: string;
  /** A step-up: the `iss` of the signed-in user's ID token, which the new one must have too. */
  iss?: string;
}

/**
 * What a finished login leaves in the session: each token once. The ID
 * token's claims are not stored again; `req.auth.user` reads them from the
 * (validated) ID token when asked.
 */
export interface AuthRecord {
  /** The `name` of the instance the user signed in with (`req.auth.provider`). */
  provider: string;
  /** The issuer (as configured) that issued these tokens; they are never sent anywhere else. */
  issuer: string;
  /** The client the tokens were issued to. */
  clientId: string;
  /** Epoch milliseconds of the sign-in, for `absoluteLifetime`. */
  signedInAt: number;
  accessToken: string;
  tokenType: string;
  /** For a DPoP-bound access token: the RFC 7638 thumbprint of the key it is bound to (`cnf.jkt`). */
  jkt?: string;
  /** How the sign-in's authorization request was sent, when it was pushed or signed. */
  authorizationRequest?: AuthorizationRequestKind;
  /** Epoch seconds when the access token expires, when the provider said. */
  expiresAt?: number;
  /** Epoch seconds from which the access token counts as expiring and is refreshed. */
  refreshAt?: number;
  scope?: string;
  idToken?: string;
  refreshToken?: string;
  /** Claims from the userinfo endpoint, when fetched (`fetchUserInfo`). */
  userinfo?: Record<string, unknown>;
  /**
   * Set by a step-up: the page it was for and what it asked, so that asking
   * again for the same page right after it ends in an error, not in another
   * redirect.
   */
  stepUp?: { returnTo: string } & Pick<AskedLogin, 'acrValues' | 'maxAge' | 'scopes'>;
}

/** Everything this library keeps in the session, under the one key `relyingParty`. */
export interface RelyingPartySessionData {
  /** Pending logins keyed by `state`. */
  logins?: Record<string, PendingLogin>;
  auth?: AuthRecord;
  /**
   * Set while the session's cookie was shortened to `loginTimeout` because
   * it held nothing but pending logins: the app's own max age, to restore
   * once the app keeps data of its own in the session.
   */
  appCookieMaxAge?: number | null;
  /** `silentLogin` was tried in this session: it is not tried again. */
  silentLoginTried?: true;
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

/**
 * The session's auth record, when it is this instance's to use: issued by
 * the configured issuer to the configured client, and younger than
 * `absoluteLifetime`. Tokens are never sent to another provider.
 */
export function authOf(session: RequestSession, config: Config): AuthRecord | undefined {
  const auth = session.relyingParty?.auth;
  if (auth === undefined || auth.provider !== config.name || auth.issuer !== config.issuer.href || auth.clientId !== config.clientId) return undefined;
  if (config.absoluteLifetime !== false && Date.now() - auth.signedInAt >= config.absoluteLifetime) return undefined;
  return auth;
}

/** The keys the app itself keeps in the session. */
function appKeys(session: RequestSession): string[] {
  return Object.keys(session).filter((key) => key !== 'cookie' && key !== 'relyingParty');
}

/**
 * Records a pending login, dropping expired ones and the oldest beyond
 * `maxPendingLogins`. A session that holds nothing else gets a cookie (and
 * so a store TTL) of `loginTimeout`: anonymous visitors who never finish a
 * login leave nothing behind for longer than that.
 */
export function addPendingLogin(session: RequestSession, state: string, login: PendingLogin, config: Config): void {
  const data = (session.relyingParty ??= {});
  const kept = Object.entries(data.logins ?? {})
    .filter(([, pending]) => login.createdAt - pending.createdAt < config.loginTimeout)
    .sort(([, a], [, b]) => b.createdAt - a.createdAt)
    .slice(0, config.maxPendingLogins - 1);
  data.logins = Object.fromEntries([...kept, [state, login]]);

  if (data.auth === undefined && data.appCookieMaxAge === undefined && appKeys(session).length === 0) {
    const appMaxAge = session.cookie.originalMaxAge;
    if (appMaxAge === null || appMaxAge > config.loginTimeout) {
      data.appCookieMaxAge = appMaxAge;
      session.cookie.maxAge = config.loginTimeout;
    }
  }
}

/**
 * Gives back the app's cookie lifetime to a session that was shortened by
 * {@link addPendingLogin} and has since received data of the app's own.
 * Cheap for every other session: one property check.
 */
export function restoreAppCookie(session: RequestSession): void {
  const data = session.relyingParty;
  if (data?.appCookieMaxAge === undefined || appKeys(session).length === 0) return;
  const appMaxAge = data.appCookieMaxAge;
  // a null max age is a browser-session cookie: no expiry at all
  if (appMaxAge === null) session.cookie.expires = null;
  else session.cookie.maxAge = appMaxAge;
  delete data.appCookieMaxAge;
}

/**
 * Removes and returns the pending login for `state`. It is removed before
 * anything is checked, so a callback can be attempted once only.
 */
export function takePendingLogin(session: RequestSession, state: string, provider: string): PendingLogin | undefined {
  const data = session.relyingParty;
  const logins = data?.logins;
  // another instance's login is not this callback's to take (mix-up defence)
  if (!data || !logins || !Object.hasOwn(logins, state) || logins[state]?.provider !== provider) return undefined;
  const { [state]: login, ...others } = logins;
  if (Object.keys(others).length === 0) delete data.logins;
  else data.logins = others;
  dropIfEmpty(session);
  return login;
}

/** Removes the library's key from a session that no longer holds anything of it. */
function dropIfEmpty(session: RequestSession): void {
  const data = session.relyingParty;
  if (data && Object.values(data).every((value) => value === undefined)) delete session.relyingParty;
}

/** Removes the auth record (sign-out), leaving pending logins and the app's data alone. */
export function clearAuth(session: RequestSession): void {
  const data = session.relyingParty;
  if (!data) return;
  delete data.auth;
  dropIfEmpty(session);
}

function storeError(err: unknown, action: string): RelyingPartyError {
  return new RelyingPartyError('session_store_error', `The session store failed to ${action} the session.`, { cause: err });
}

/**
 * Gives the session a new id (session fixation defence). Of the old
 * session's data only the app's keys named in `keep` (`keepSessionData`)
 * and, with `keepLogins`, the other pending logins (tabs) are carried over;
 * everything else, a CSRF secret planted before a fixated login or a
 * previous user's cached data, is gone. The new session has the app's own
 * cookie settings.
 */
export async function regenerateSession(req: Request, keep: readonly string[], keepLogins: boolean): Promise<RequestSession> {
  const old = requireSession(req);
  const kept = Object.fromEntries(keep.filter((key) => Object.hasOwn(old, key)).map((key) => [key, (old as unknown as Record<string, unknown>)[key]]));
  const logins = keepLogins ? old.relyingParty?.logins : undefined;
  await new Promise<void>((resolve, reject) => {
    old.regenerate((err: unknown) => (err ? reject(storeError(err, 'regenerate')) : resolve()));
  });
  const fresh = requireSession(req);
  Object.assign(fresh, kept);
  if (logins !== undefined && Object.keys(logins).length > 0) fresh.relyingParty = { logins };
  return fresh;
}

/**
 * Ends the session at logout: the old id is gone from the store. When the
 * app's `keep` keys hold something, or the library must `carry` a note
 * (silent login already tried), a new session carries them; otherwise
 * there is no session until the app or a login needs one.
 */
export async function endSession(req: Request, keep: readonly string[], carry: RelyingPartySessionData = {}): Promise<void> {
  const old = requireSession(req);
  if (keep.some((key) => Object.hasOwn(old, key)) || Object.keys(carry).length > 0) {
    const fresh = await regenerateSession(req, keep, false);
    if (Object.keys(carry).length > 0) fresh.relyingParty = { ...carry };
    await saveSession(fresh);
    return;
  }
  await new Promise<void>((resolve, reject) => {
    old.destroy((err: unknown) => (err ? reject(storeError(err, 'destroy')) : resolve()));
  });
}

/** Saves the session now, so that it is stored before the browser follows a redirect. */
export async function saveSession(session: RequestSession): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    session.save((err: unknown) => (err ? reject(storeError(err, 'save')) : resolve()));
  });
}
