import type { Request } from 'express';
import type { TokenEndpointResponse } from 'openid-client';
import { describe, httpUrl, invalid, isPlainObject, lifetime, nonNegativeInteger, optionalBoolean, optionalString, parseAuthorizationParams, parseIdTokenSigningAlg, parseKeepSessionData, parseName, parseOnLogin, parseRoutes, positiveInteger, rejectUnknownKeys, requiredString } from './options/assert.js';
import { FAPI_OPTION_NAMES, parseFapiOptions } from './options/fapi.js';
import { ID_TOKEN_SIGNING_ALGS, reservedAuthorizationParams } from './options/assert.js';
import type { IdTokenSigningAlg } from './options/assert.js';

export { ID_TOKEN_SIGNING_ALGS, reservedAuthorizationParams };
export type { IdTokenSigningAlg };
import type { FapiConfig, FapiOptions } from './options/fapi.js';

export type { ClientAssertionSigningAlg, FapiOptions, PrivateKeyInput, SecurityProfile, SigningAlg } from './options/fapi.js';


/** How the app authenticates to the provider's token endpoint. */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'private_key_jwt' | 'none';

/** Paths of the routes `relyingParty()` answers, relative to where it is mounted. */
export interface RoutesOptions {
  /** Starts a login. `false`: not mounted (`requiresAuth()` still starts logins). Default is `'/login'`. */
  login?: string | false | undefined;
  /** Where the provider sends the browser back; `redirect_uri` is `baseUrl` + this. Default is `'/callback'`. */
  callback?: string | undefined;
  /** Signs out (GET or POST). `false`: not mounted. Default is `'/logout'`. */
  logout?: string | false | undefined;
  /**
   * OpenID Connect Back-Channel Logout endpoint (POST from the provider);
   * register `baseUrl` + this path at the provider as
   * `backchannel_logout_uri`. Default is `false` (not mounted).
   */
  backchannelLogout?: string | false | undefined;
  /**
   * Serves the public JWK Set of `clientPrivateKey` (never a private
   * member), so the provider can be given `baseUrl` + this path as the
   * client's `jwks_uri`. Default is `false` (not mounted).
   */
  jwks?: string | false | undefined;
}

/** Options of {@link relyingParty}. Read and validated once, when `relyingParty()` is called. */
export interface RelyingPartyOptions extends FapiOptions {
  /**
   * The provider's issuer URL; its metadata is discovered from
   * `<issuer>/.well-known/openid-configuration` on first need and cached.
   * `https:` is required, except `http:` for loopback hosts (`localhost`,
   * `127.0.0.1`, `[::1]`).
   */
  issuer: string;
  /** The client identifier registered at the provider. */
  clientId: string;
  /** The client secret; required for `client_secret_basic`, `client_secret_post` and `client_secret_jwt`. */
  clientSecret?: string | undefined;
  /**
   * Public origin of the app, with an optional path prefix
   * (`https://app.example.com` or `https://example.com/app`). The
   * `redirect_uri` is `baseUrl` + `routes.callback`; it is never derived from
   * request headers.
   */
  baseUrl: string;
  /** Space-separated scopes to request. Default is `'openid profile email'`. */
  scope?: string | undefined;
  /**
   * Extra authorization request parameters (`audience`, `prompt`,
   * `acr_values`, `resource`, `ui_locales`, …), all strings. Parameters the
   * library owns (`client_id`, `redirect_uri`, `response_type`, `scope`,
   * `state`, `nonce`, `code_challenge`, `code_challenge_method`,
   * `response_mode`) are rejected. Default is `{}`.
   */
  authorizationParams?: Readonly<Record<string, string>> | undefined;
  /**
   * How the client authenticates at the token, revocation and PAR
   * endpoints: `client_secret_basic`, `client_secret_post`,
   * `client_secret_jwt` (an HS256 assertion with the secret),
   * `private_key_jwt` (an assertion signed with `clientPrivateKey`) or
   * `none`. Default is `'client_secret_basic'`.
   */
  clientAuthMethod?: ClientAuthMethod | undefined;
  /** Route paths; a route set to `false` is not mounted. Default is `{ login: '/login', callback: '/callback', logout: '/logout' }`. */
  routes?: RoutesOptions | undefined;
  /**
   * Where the browser lands after logout: a path (resolved against
   * `baseUrl`) or an absolute URL. Sent to the provider as
   * `post_logout_redirect_uri`, so register it there. Default is `'/'`.
   */
  postLogoutRedirect?: string | undefined;
  /** Upper bound, in milliseconds, for every HTTP call to the provider. Default is `5000`. */
  httpTimeout?: number | undefined;
  /**
   * The only JWS algorithm accepted on ID tokens (sent as the client's
   * `id_token_signed_response_alg`): one of the asymmetric algorithms
   * verified with the provider's published keys, `RS256`, `RS384`, `RS512`,
   * `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `ES512` or `EdDSA`.
   * Default is `'RS256'`.
   */
  idTokenSigningAlg?: IdTokenSigningAlg | undefined;
  /**
   * Seconds of clock difference with the provider allowed in the time
   * checks of ID tokens (`exp`, `auth_time`) and back-channel logout tokens
   * (`iat`, `exp`). Default is `60`.
   */
  clockTolerance?: number | undefined;
  /** How long, in milliseconds, a started login may take before its callback is refused. Default is `600000` (10 minutes). */
  loginTimeout?: number | undefined;
  /** How many logins may be pending in one session at once (browser tabs); the oldest is dropped beyond that. Default is `5`. */
  maxPendingLogins?: number | undefined;
  /**
   * Refresh the access token automatically, with the refresh token, when
   * `requiresAuth()`, `req.auth.getAccessToken()` or `req.auth.fetch()` finds
   * it expired or about to expire. Default is `true`.
   */
  autoRefresh?: boolean | undefined;
  /** Milliseconds before expiry from which an access token counts as expiring and is refreshed. Default is `60000`. */
  refreshLeeway?: number | undefined;
  /** Fetch the userinfo endpoint at login and merge its claims into `req.auth.user`. Default is `false`. */
  fetchUserInfo?: boolean | undefined;
  /**
   * At logout, revoke the refresh token, then the access token, at the
   * provider's revocation endpoint. Failures are logged and never block the
   * logout. Default is `true` when the provider has a `revocation_endpoint`.
   */
  revokeOnLogout?: boolean | undefined;
  /**
   * How long, in milliseconds, a sign-in lasts at most, however active the
   * session: after that it counts as signed out (a browser is sent to log
   * in again, an API request gets 401) and its tokens are dropped from the
   * session. `false`: no limit. The idle timeout is express-session's
   * (`cookie.maxAge` with `rolling: true`). Default is `604800000` (7 days).
   */
  absoluteLifetime?: number | false | undefined;
  /**
   * Keys of the app's own session data (a cart, a locale) carried into the
   * signed-in session at sign-in, and into the signed-out session at
   * logout. Everything else the session held is dropped: data planted
   * before a fixated login, or a previous user's cached data on a shared
   * browser, does not survive. Default is `[]`.
   */
  keepSessionData?: readonly string[] | undefined;
  /**
   * This instance's name, when several providers are mounted side by side
   * ("Sign in with A or B"): each instance keeps its pending logins under
   * its name, answers its own routes (give each its own `routes`), and
   * `req.auth.provider` is the name of the one the user signed in with.
   * Letters, digits, `-` and `_`. Default is `'default'`.
   */
  name?: string | undefined;
  /**
   * On the first browser page load of a signed-out session, try a login
   * with `prompt=none` once: a user already signed in at the provider comes
   * back signed in, anyone else quietly comes back signed out to the same
   * page. Never for API requests, never twice in one session. Default is
   * `false`.
   */
  silentLogin?: boolean | undefined;
  /**
   * Called at the callback after the ID token is validated, before the
   * session is signed in, with the new session already in place
   * (`req.session` keeps what the hook stores there): provision the user,
   * map groups to roles, or refuse the login by throwing
   * `new RelyingPartyError('login_refused', message)` (403, nothing signed
   * in). Any other error ends the login too (500 `login_hook_failed`, the
   * original as `cause`).
   */
  onLogin?: ((req: Request, login: LoginDetails) => void | Promise<void>) | undefined;
}

/** What {@link RelyingPartyOptions.onLogin} is told about a login. */
export interface LoginDetails {
  /** The validated ID token's claims (`undefined` without the `openid` scope). */
  readonly claims: Readonly<Record<string, unknown>> | undefined;
  /** The token endpoint's answer: `access_token`, `token_type`, `expires_in`, `refresh_token`, `id_token`, `scope`, … */
  readonly tokens: Readonly<TokenEndpointResponse>;
  /** The userinfo claims, when `fetchUserInfo` is on. */
  readonly userinfo?: Readonly<Record<string, unknown>> | undefined;
  /** The `name` of the instance the user signs in with. */
  readonly provider: string;
}

/** The validated, frozen form of {@link RelyingPartyOptions}. */
export interface Config extends FapiConfig {
  readonly issuer: URL;
  readonly allowInsecureRequests: boolean;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly clientAuthMethod: ClientAuthMethod;
  readonly baseUrl: string;
  readonly redirectUri: string;
  readonly scope: string;
  /** `scope` includes `openid`: an ID token (and a nonce) is required. */
  readonly openid: boolean;
  readonly authorizationParams: Readonly<Record<string, string>>;
  readonly routes: Readonly<{ login: string | false; callback: string; logout: string | false; backchannelLogout: string | false; jwks: string | false }>;
  readonly postLogoutRedirect: string;
  readonly httpTimeout: number;
  readonly idTokenSigningAlg: IdTokenSigningAlg;
  /** seconds */
  readonly clockTolerance: number;
  readonly loginTimeout: number;
  readonly maxPendingLogins: number;
  readonly autoRefresh: boolean;
  readonly refreshLeeway: number;
  readonly fetchUserInfo: boolean;
  /** `undefined`: revoke when the provider has a revocation endpoint. */
  readonly revokeOnLogout: boolean | undefined;
  /** `baseUrl` + `routes.backchannelLogout`, for the README's registration advice and the index. */
  readonly backchannelLogoutUri: string | undefined;
  /** Milliseconds; `false`: no limit. */
  readonly absoluteLifetime: number | false;
  readonly keepSessionData: readonly string[];
  readonly name: string;
  readonly silentLogin: boolean;
  readonly onLogin: ((req: Request, login: LoginDetails) => void | Promise<void>) | undefined;
}

const knownOptions: readonly (keyof RelyingPartyOptions)[] = [
  'issuer',
  'clientId',
  'clientSecret',
  'baseUrl',
  'scope',
  'authorizationParams',
  'clientAuthMethod',
  'routes',
  'postLogoutRedirect',
  'httpTimeout',
  'idTokenSigningAlg',
  'clockTolerance',
  'loginTimeout',
  'maxPendingLogins',
  'autoRefresh',
  'refreshLeeway',
  'fetchUserInfo',
  'revokeOnLogout',
  'absoluteLifetime',
  'keepSessionData',
  'name',
  'silentLogin',
  'onLogin',
  ...FAPI_OPTION_NAMES,
];
const clientAuthMethods: readonly ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'];

/**
 * Validates `relyingParty()` options once and returns the frozen config every
 * request then reads. Throws `RelyingPartyError` (`invalid_options`) naming
 * the option and the fix.
 */
export function parseOptions(options: unknown): Config {
  if (!isPlainObject(options)) {
    throw invalid(`expected an options object such as { issuer, clientId, clientSecret, baseUrl } (got ${describe(options)}).`);
  }
  rejectUnknownKeys(options, knownOptions, '');

  const issuer = httpUrl(options.issuer, 'issuer');
  if (issuer.pathname.includes('/.well-known/')) {
    throw invalid(
      `\`issuer\` must be the provider's issuer URL, not its discovery document's URL (got "${issuer.href}"); ` +
        'the discovery document is read from <issuer>/.well-known/openid-configuration.',
    );
  }
  const clientId = requiredString(options.clientId, 'clientId');
  const clientAuthMethod = options.clientAuthMethod ?? 'client_secret_basic';
  if (!clientAuthMethods.includes(clientAuthMethod as ClientAuthMethod)) {
    throw invalid(`\`clientAuthMethod\` must be one of ${clientAuthMethods.join(', ')} (got ${describe(clientAuthMethod)}).`);
  }
  const clientSecret = options.clientSecret === undefined ? undefined : requiredString(options.clientSecret, 'clientSecret');
  if (clientAuthMethod !== 'none' && clientAuthMethod !== 'private_key_jwt' && clientSecret === undefined) {
    throw invalid(`\`clientSecret\` is required with clientAuthMethod "${String(clientAuthMethod)}". For a public client use clientAuthMethod: 'none'.`);
  }

  const base = httpUrl(options.baseUrl, 'baseUrl');
  const baseUrl = base.href.replace(/\/+$/, '');
  const routes = parseRoutes(options.routes);
  if (base.pathname !== '/' && base.pathname.replace(/\/+$/, '').endsWith(routes.callback)) {
    throw invalid(
      `\`baseUrl\` is the app's public origin (and path prefix), not the redirect URI: it ends in the callback path "${routes.callback}" (got "${baseUrl}"). ` +
        `Use "${baseUrl.slice(0, baseUrl.length - routes.callback.length) || base.origin}"; the redirect URI is baseUrl + routes.callback.`,
    );
  }
  const scope = optionalString(options.scope, 'scope', 'openid profile email').trim().split(/\s+/).join(' ');

  const postLogout = optionalString(options.postLogoutRedirect, 'postLogoutRedirect', '/');
  let postLogoutRedirect: string;
  if (postLogout.startsWith('/') && !postLogout.startsWith('//')) {
    postLogoutRedirect = baseUrl + postLogout;
  } else {
    postLogoutRedirect = httpUrl(postLogout, 'postLogoutRedirect').href;
  }

  return Object.freeze({
    issuer,
    allowInsecureRequests: issuer.protocol === 'http:',
    clientId,
    clientSecret,
    clientAuthMethod: clientAuthMethod as ClientAuthMethod,
    baseUrl,
    redirectUri: baseUrl + routes.callback,
    scope,
    openid: scope.split(' ').includes('openid'),
    authorizationParams: parseAuthorizationParams(options.authorizationParams),
    routes,
    postLogoutRedirect,
    httpTimeout: positiveInteger(options.httpTimeout, 'httpTimeout', 5000),
    clockTolerance: nonNegativeInteger(options.clockTolerance, 'clockTolerance', 60),
    loginTimeout: positiveInteger(options.loginTimeout, 'loginTimeout', 600_000),
    maxPendingLogins: positiveInteger(options.maxPendingLogins, 'maxPendingLogins', 5),
    autoRefresh: optionalBoolean(options.autoRefresh, 'autoRefresh') ?? true,
    refreshLeeway: nonNegativeInteger(options.refreshLeeway, 'refreshLeeway', 60_000),
    fetchUserInfo: optionalBoolean(options.fetchUserInfo, 'fetchUserInfo') ?? false,
    revokeOnLogout: optionalBoolean(options.revokeOnLogout, 'revokeOnLogout'),
    backchannelLogoutUri: routes.backchannelLogout === false ? undefined : baseUrl + routes.backchannelLogout,
    absoluteLifetime: lifetime(options.absoluteLifetime, 'absoluteLifetime', 7 * 24 * 60 * 60 * 1000),
    keepSessionData: parseKeepSessionData(options.keepSessionData),
    name: parseName(options.name),
    silentLogin: optionalBoolean(options.silentLogin, 'silentLogin') ?? false,
    onLogin: parseOnLogin(options.onLogin),
    // PAR, JWT client authentication, DPoP, request objects, profile; and idTokenSigningAlg, whose default the profile sets
    ...(parseFapiOptions(options, {
      clientAuthMethod: clientAuthMethod as ClientAuthMethod,
      idTokenSigningAlg: parseIdTokenSigningAlg(options.idTokenSigningAlg),
      jwksRoute: routes.jwks,
    }) as FapiConfig & { idTokenSigningAlg: IdTokenSigningAlg }),
  });
}
