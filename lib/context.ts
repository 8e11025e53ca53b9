import type { NextFunction, Request, Response } from 'express';
import * as client from 'openid-client';
import { dpopFetch } from './dpop.js';
import { stepUpChallengeOf } from './challenges.js';
import { RelyingPartyError } from './errors.js';
import type { Config } from './options.js';
import { providerError } from './provider.js';
import type { Provider } from './provider.js';
import { authOf } from './session.js';
import { instanceNamed } from './instances.js';
import type { AuthRecord, AuthorizationRequestKind, RequestSession } from './session.js';
import { safeReturnTo } from './return-to.js';
import { repeatsStepUp, stepUpFailed, stepUpUser } from './step-up.js';
import type { LoginRequest } from './step-up.js';
import { parseLoginOptions } from './step-up-options.js';
import type { LoginOptions } from './step-up-options.js';
import { idTokenClaims, needsRefresh } from './tokens.js';
import type { TokenRefresher } from './tokens.js';

/** The access token of the signed-in user, as `req.auth.accessToken` shows it. */
export interface AccessToken {
  /** The token itself, for an `Authorization: <type> <value>` header. */
  readonly value: string;
  /** The token type: `bearer` (as the provider sent it, in lower case), or `DPoP` for a DPoP-bound token. */
  readonly type: string;
  /** For a DPoP-bound token: the RFC 7638 thumbprint of the key it is bound to (its `cnf.jkt`). */
  readonly jkt?: string | undefined;
  /** Epoch seconds when it expires, when the provider said. */
  readonly expiresAt?: number | undefined;
  /** The scopes granted, space-separated, when the provider said. */
  readonly scope?: string | undefined;
  /** True once `expiresAt` has passed. */
  isExpired(): boolean;
}

/** What `relyingParty()` attaches to every request as `req.auth`. */
export interface RequestAuth {
  /** True when the session holds a completed login. */
  isAuthenticated(): boolean;
  /** The `name` of the `relyingParty()` instance the user signed in with (`'default'` unless named). */
  readonly provider?: string | undefined;
  /** The ID token claims of the signed-in user, merged with userinfo claims when fetched. */
  readonly user?: Record<string, unknown> | undefined;
  /** The raw ID token. */
  readonly idToken?: string | undefined;
  /** The access token as stored, without refreshing; see {@link RequestAuth.getAccessToken}. */
  readonly accessToken?: AccessToken | undefined;
  /** The refresh token, when the provider issued one. */
  readonly refreshToken?: string | undefined;
  /** How the sign-in's authorization request was sent: pushed (PAR) and/or signed (JAR). */
  readonly authorizationRequest?: Readonly<AuthorizationRequestKind> | undefined;
  /**
   * The access token, refreshed first when it is expired or expires within
   * `refreshLeeway` (with `autoRefresh`). `undefined` when not signed in, or
   * when the provider refused the refresh (the session is then signed out).
   */
  getAccessToken(): Promise<AccessToken | undefined>;
  /**
   * Refreshes the tokens now. Resolves `true` when refreshed, `false` when
   * the provider refused the refresh token and the session was signed out.
   */
  refresh(): Promise<boolean>;
  /**
   * `fetch()` with the access token in the `Authorization` header,
   * refreshing it first when needed; on a `401` whose `WWW-Authenticate`
   * says `invalid_token`, refreshes once and retries (when the request body
   * can be sent again). For calling the app's own APIs. With `dpop`, the
   * token goes as `Authorization: DPoP` with a proof for this method and
   * URL, a `use_dpop_nonce` challenge is answered once, and redirects are
   * not followed.
   */
  fetch(input: string | URL, init?: RequestInit): Promise<globalThis.Response>;
  /** Fetches the userinfo endpoint now, keeps the claims in the session (see `user`) and returns them. */
  fetchUserInfo(): Promise<Record<string, unknown>>;
  /**
   * Starts a login, or a step-up when signed in, from the app's own code:
   * records the pending login and redirects the response to the provider
   * (`acr_values`, `max_age`, the configured `scope` plus `scope`, `prompt`).
   * At the callback the answer must give what was asked and, for a step-up,
   * be the same user, as for `requiresAuth()` options. Resolves once the
   * redirect is sent; rejects with a `RelyingPartyError`.
   */
  login(options?: LoginOptions): Promise<void>;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * Set by `relyingParty()` on every request that passes it (typed as
       * always present, as routes behind the middleware see it).
       */
      auth: RequestAuth;
    }
  }
}

/** What `req.auth` and `requiresAuth()` need of the `relyingParty()` instance that built it. */
export interface Internals {
  readonly config: Config;
  readonly provider: Provider;
  readonly refresher: TokenRefresher;
  startLogin(req: Request, res: Response, next: NextFunction, returnTo: string, request?: LoginRequest): Promise<void>;
}

class AccessTokenView implements AccessToken {
  readonly #record: AuthRecord;
  constructor(record: AuthRecord) {
    this.#record = record;
  }
  get value() {
    return this.#record.accessToken;
  }
  get type() {
    return this.#record.tokenType.toLowerCase() === 'dpop' ? 'DPoP' : this.#record.tokenType;
  }
  get jkt() {
    return this.#record.jkt;
  }
  get expiresAt() {
    return this.#record.expiresAt;
  }
  get scope() {
    return this.#record.scope;
  }
  isExpired() {
    const expiresAt = this.#record.expiresAt;
    return expiresAt !== undefined && expiresAt * 1000 <= Date.now();
  }
  toJSON() {
    return { type: this.type, expiresAt: this.expiresAt, scope: this.scope, jkt: this.jkt };
  }
}

const notSignedIn = (what: string) => new RelyingPartyError('unauthenticated', `req.auth.${what}() needs a signed-in session.`);

/** Whether `init.body` can be sent a second time (a stream cannot). */
function replayable(init: RequestInit | undefined): boolean {
  return !(init?.body instanceof ReadableStream);
}

/** The `Authorization` header value; `bearer` is written `Bearer`, as some servers compare the scheme case-sensitively. */
function authorization(token: AccessToken): string {
  return `${token.type.toLowerCase() === 'bearer' ? 'Bearer' : token.type} ${token.value}`;
}

/**
 * `req.auth`: a thin view of the session's auth record. Building it costs
 * one small object; nothing is decoded, fetched or written until a method
 * that says so is called, so reading it never marks the session modified.
 */
export class AuthContext implements RequestAuth {
  readonly #req: Request;
  // private, so that logging req.auth never prints the instance (and its client secret)
  readonly #internals: Internals;
  /** the ID token decoded once per request, and which one it was (a refresh may replace it) */
  #decoded: { idToken: string; claims: Record<string, unknown> } | undefined;

  constructor(req: Request, internals: Internals) {
    this.#req = req;
    this.#internals = internals;
  }

  /** The `relyingParty()` instance that built `auth` (the first one mounted), if `auth` is one of ours. */
  static internals(auth: unknown): Internals | undefined {
    return typeof auth === 'object' && auth !== null && #internals in auth ? auth.#internals : undefined;
  }

  /** The instance the signed-in user's tokens belong to, if `auth` is one of ours. */
  static owner(auth: unknown): Internals | undefined {
    return auth instanceof AuthContext ? auth.#owner : undefined;
  }

  /**
   * The instance the user signed in with: with several providers side by
   * side, the tokens go to the one that issued them, never to this
   * context's own.
   */
  get #owner(): Internals {
    const provider = (this.#req.session as RequestSession | undefined)?.relyingParty?.auth?.provider;
    if (provider === undefined || provider === this.#internals.config.name) return this.#internals;
    return instanceNamed(this.#req, provider) ?? this.#internals;
  }

  get #record(): AuthRecord | undefined {
    const session = this.#req.session as RequestSession | undefined;
    return session && authOf(session, this.#owner.config);
  }

  /** The ID token's claims, decoded once per request (a refresh may replace the token). */
  #idTokenClaims(record: AuthRecord): Record<string, unknown> | undefined {
    if (record.idToken === undefined) return undefined;
    if (this.#decoded?.idToken !== record.idToken) this.#decoded = { idToken: record.idToken, claims: idTokenClaims(record) ?? {} };
    return this.#decoded.claims;
  }

  /** The ID token claims (without userinfo) of `auth`, if it is one of ours and signed in; decoded once per request. */
  static idTokenClaims(auth: unknown): Record<string, unknown> | undefined {
    if (typeof auth !== 'object' || auth === null || !(#internals in auth)) return undefined;
    const record = auth.#record;
    return record && auth.#idTokenClaims(record);
  }

  isAuthenticated(): boolean {
    return this.#record !== undefined;
  }
  get provider(): string | undefined {
    return this.#record?.provider;
  }
  get user(): Record<string, unknown> | undefined {
    const record = this.#record;
    if (!record) return undefined;
    const claims = this.#idTokenClaims(record);
    return record.userinfo ? { ...claims, ...record.userinfo } : claims;
  }
  get idToken() {
    return this.#record?.idToken;
  }
  get accessToken(): AccessToken | undefined {
    const record = this.#record;
    return record && new AccessTokenView(record);
  }
  get refreshToken() {
    return this.#record?.refreshToken;
  }
  get authorizationRequest() {
    const record = this.#record;
    // only a pushed or signed request is recorded
    return record && (record.authorizationRequest ?? { pushed: false, signed: false });
  }

  async getAccessToken(): Promise<AccessToken | undefined> {
    const record = this.#record;
    const owner = this.#owner;
    if (record && owner.config.autoRefresh && needsRefresh(record, owner.config)) {
      await owner.refresher.refresh(this.#req);
    }
    return this.accessToken;
  }

  async refresh(): Promise<boolean> {
    if (!this.#record) throw notSignedIn('refresh');
    return (await this.#owner.refresher.refresh(this.#req)) === 'refreshed';
  }

  async fetch(input: string | URL, init?: RequestInit): Promise<globalThis.Response> {
    const token = await this.getAccessToken();
    if (!token) throw notSignedIn('fetch');
    const send = async (current: AccessToken) => {
      const dpop = await this.#internals.provider.dpop();
      if (dpop?.DPoP) return dpopFetch(await this.#internals.provider.get(), dpop.DPoP, current.value, input, init);
      const headers = new Headers(init?.headers);
      headers.set('authorization', authorization(current));
      return fetch(input, { ...init, headers });
    };
    const response = await stepUpChecked(await send(token));
    const challenge = response.headers.get('www-authenticate') ?? '';
    if (response.status !== 401 || !/\berror="?invalid_token\b/i.test(challenge) || !replayable(init) || !this.#record?.refreshToken) {
      return response;
    }
    await response.body?.cancel();
    if (!(await this.refresh())) return response;
    const refreshed = this.accessToken;
    return refreshed ? stepUpChecked(await send(refreshed)) : response;
  }

  async fetchUserInfo(): Promise<Record<string, unknown>> {
    const token = await this.getAccessToken();
    const record = this.#record;
    if (!token || !record) throw notSignedIn('fetchUserInfo');
    const provider = this.#owner.provider;
    const userinfo = await requestUserInfo(provider, record, token.value).catch(async (err: unknown) => {
      // a 401 may mean the token was revoked or rotated early: one refresh, one retry
      if (!(err instanceof RelyingPartyError) || err.code !== 'access_token_rejected' || !record.refreshToken) throw err;
      if (!(await this.refresh())) throw err;
      const again = this.#record;
      if (!again) throw err;
      return requestUserInfo(provider, again, again.accessToken);
    });
    const current = this.#record;
    if (current) current.userinfo = userinfo;
    return userinfo;
  }

  async login(options?: LoginOptions): Promise<void> {
    const { returnTo: wanted, ...request } = parseLoginOptions(options);
    const req = this.#req;
    const res = req.res;
    if (res === undefined) throw new RelyingPartyError('not_mounted', 'req.auth.login() needs the Express request of a route handler.');
    const returnTo = safeReturnTo(wanted ?? (req.method === 'GET' ? req.originalUrl : '/'));
    const record = this.#record;
    const asksMore = request.acrValues !== undefined || request.maxAge !== undefined || request.scopes !== undefined;
    if (record && asksMore && repeatsStepUp(record, returnTo, request)) throw stepUpFailed('the app asks for the same again');
    let failure: unknown;
    const user = record && stepUpUser(this.#idTokenClaims(record));
    await this.#internals.startLogin(req, res, (err?: unknown) => (failure = err), returnTo, { ...request, user });
    if (failure !== undefined) throw failure;
  }

  /** Keeps tokens out of `JSON.stringify(req.auth)` and logs. */
  toJSON() {
    return { isAuthenticated: this.isAuthenticated(), provider: this.provider, user: this.user };
  }
}

/**
 * A resource server's `401` with an RFC 9470 challenge
 * (`insufficient_user_authentication`) becomes `step_up_required`, carrying
 * the `acr_values`/`max_age` it asked for; any other response is returned.
 */
async function stepUpChecked(response: globalThis.Response): Promise<globalThis.Response> {
  const stepUp = response.status === 401 ? stepUpChallengeOf(response.headers.get('www-authenticate')) : undefined;
  if (stepUp === undefined) return response;
  await response.body?.cancel();
  throw new RelyingPartyError(
    'step_up_required',
    'The resource server asked for stronger or more recent authentication (RFC 9470): step up with req.auth.login({ ...err.stepUp }).',
    { stepUp },
  );
}

/** Calls the userinfo endpoint; openid-client checks that its `sub` is the ID token's. */
export async function requestUserInfo(provider: Provider, record: AuthRecord, accessToken: string): Promise<Record<string, unknown>> {
  const configuration = await provider.get();
  const sub = idTokenClaims(record)?.sub;
  try {
    const userinfo = await client.fetchUserInfo(configuration, accessToken, typeof sub === 'string' ? sub : client.skipSubjectCheck, await provider.dpop());
    return { ...userinfo };
  } catch (err) {
    if (err instanceof client.WWWAuthenticateChallengeError && err.status === 401) {
      throw new RelyingPartyError('access_token_rejected', 'The provider rejected the access token at the userinfo endpoint.', { cause: err });
    }
    throw providerError(err, 'The userinfo request failed');
  }
}
