import { RelyingPartyError } from './errors.js';

/** JWS algorithms accepted for ID tokens: asymmetric ones, verified with the provider's published keys. */
export const ID_TOKEN_SIGNING_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** One of {@link ID_TOKEN_SIGNING_ALGS}. */
export type IdTokenSigningAlg = (typeof ID_TOKEN_SIGNING_ALGS)[number];

/** How the app authenticates to the provider's token endpoint. */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

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
}

/** Options of {@link relyingParty}. Read and validated once, when `relyingParty()` is called. */
export interface RelyingPartyOptions {
  /**
   * The provider's issuer URL; its metadata is discovered from
   * `<issuer>/.well-known/openid-configuration` on first need and cached.
   * `https:` is required, except `http:` for loopback hosts (`localhost`,
   * `127.0.0.1`, `[::1]`).
   */
  issuer: string;
  /** The client identifier registered at the provider. */
  clientId: string;
  /** The client secret; required for `client_secret_basic` and `client_secret_post`. */
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
  /** Token endpoint authentication. Default is `'client_secret_basic'`. */
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
}

/** The validated, frozen form of {@link RelyingPartyOptions}. */
export interface Config {
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
  readonly routes: Readonly<{ login: string | false; callback: string; logout: string | false; backchannelLogout: string | false }>;
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
];
const knownRoutes = ['login', 'callback', 'logout', 'backchannelLogout'] as const;
const clientAuthMethods: readonly ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'none'];
/** Authorization request parameters the library sets itself; `authorizationParams` may not. */
export const reservedAuthorizationParams: ReadonlySet<string> = new Set([
  'client_id',
  'redirect_uri',
  'response_type',
  'response_mode',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
]);

function invalid(message: string): RelyingPartyError {
  return new RelyingPartyError('invalid_options', `relyingParty(): ${message}`);
}

/** Levenshtein distance, for "did you mean" hints on unknown option names. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function rejectUnknownKeys(object: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue;
    const suggestion = known.find(
      (name) => name.toLowerCase() === key.toLowerCase() || distance(name.toLowerCase(), key.toLowerCase()) <= 2,
    );
    const hint = suggestion ? ` Did you mean \`${suggestion}\`?` : ` Known options: ${known.join(', ')}.`;
    throw invalid(`unknown option \`${where}${key}\`.${hint}`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function requiredString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalid(`\`${name}\` is required and must be a non-empty string (got ${describe(value)}).`);
  }
  return value;
}

function optionalString(value: unknown, name: string, fallback: string): string {
  return value === undefined ? fallback : requiredString(value, name);
}

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw invalid(`\`${name}\` must be a positive whole number (got ${describe(value)}).`);
  }
  return value;
}

function nonNegativeInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`\`${name}\` must be a whole number >= 0 (got ${describe(value)}).`);
  }
  return value;
}

function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw invalid(`\`${name}\` must be true or false (got ${describe(value)}).`);
}

function lifetime(value: unknown, name: string, fallback: number): number | false {
  if (value === false || value === undefined) return value ?? fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw invalid(`\`${name}\` must be a positive number of milliseconds, or false for no limit (got ${describe(value)}).`);
  }
  return value;
}

function parseKeepSessionData(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value) || value.some((key) => typeof key !== 'string' || key === '')) {
    throw invalid(`\`keepSessionData\` must be an array of session keys such as ['cart', 'locale'] (got ${describe(value)}).`);
  }
  const keys = value as string[];
  const reserved = keys.find((key) => key === 'cookie' || key === 'relyingParty');
  if (reserved !== undefined) throw invalid(`\`keepSessionData\` cannot name \`${reserved}\`: it belongs to express-session or this library.`);
  return Object.freeze([...keys]);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** True for hosts that never leave the machine, where plain `http:` is acceptable. */
function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

function httpUrl(value: unknown, name: string): URL {
  const text = requiredString(value, name);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`\`${name}\` must be an absolute URL such as https://example.com (got "${text}").`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw invalid(`\`${name}\` must use https: (http: is accepted only for localhost, 127.0.0.1 and [::1]); got "${url.origin}".`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw invalid(`\`${name}\` must not contain credentials, a query or a fragment.`);
  }
  return url;
}

function routePath(value: unknown, name: string, fallback: string, mayBeDisabled: boolean): string | false {
  if (value === undefined) return fallback;
  if (value === false && mayBeDisabled) return false;
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/.test(value) || value.startsWith('//')) {
    const allowed = mayBeDisabled ? 'a path starting with "/", or false' : 'a path starting with "/"';
    throw invalid(`\`${name}\` must be ${allowed} (got ${describe(value)}).`);
  }
  return value;
}

function parseRoutes(value: unknown): Config['routes'] {
  if (value === undefined) return Object.freeze({ login: '/login', callback: '/callback', logout: '/logout', backchannelLogout: false });
  if (!isPlainObject(value)) throw invalid(`\`routes\` must be an object (got ${describe(value)}).`);
  rejectUnknownKeys(value, knownRoutes, 'routes.');
  if (value.callback === false) {
    throw invalid('`routes.callback` cannot be false: every login ends there.');
  }
  const routes = {
    login: routePath(value.login, 'routes.login', '/login', true),
    callback: routePath(value.callback, 'routes.callback', '/callback', false) as string,
    logout: routePath(value.logout, 'routes.logout', '/logout', true),
    backchannelLogout: value.backchannelLogout === undefined ? false : routePath(value.backchannelLogout, 'routes.backchannelLogout', '', true),
  };
  const mounted = [routes.login, routes.callback, routes.logout, routes.backchannelLogout].filter((path) => path !== false);
  if (new Set(mounted).size !== mounted.length) throw invalid('`routes` must use a different path for each route.');
  return Object.freeze(routes);
}

function parseIdTokenSigningAlg(value: unknown): IdTokenSigningAlg {
  if (value === undefined) return 'RS256';
  const alg = requiredString(value, 'idTokenSigningAlg');
  if ((ID_TOKEN_SIGNING_ALGS as readonly string[]).includes(alg)) return alg as IdTokenSigningAlg;
  const why = alg.toLowerCase() === 'none'
    ? '"none" means unsigned ID tokens, which anyone could forge'
    : /^HS/i.test(alg)
      ? `"${alg}" is a symmetric algorithm (signed with the client secret), not verifiable with the provider's published keys`
      : `"${alg}" is not a JWS algorithm openid-client verifies ID tokens with`;
  throw invalid(`\`idTokenSigningAlg\` must be one of ${ID_TOKEN_SIGNING_ALGS.join(', ')}: ${why}.`);
}

function parseAuthorizationParams(value: unknown): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  if (!isPlainObject(value)) throw invalid(`\`authorizationParams\` must be an object of strings (got ${describe(value)}).`);
  const params: Record<string, string> = {};
  for (const [key, param] of Object.entries(value)) {
    if (reservedAuthorizationParams.has(key)) {
      const fix = key === 'scope' ? ' Use the `scope` option.' : ' The library sets it.';
      throw invalid(`\`authorizationParams.${key}\` cannot be set.${fix}`);
    }
    if (typeof param !== 'string') {
      throw invalid(`\`authorizationParams.${key}\` must be a string (got ${describe(param)}).`);
    }
    params[key] = param;
  }
  return Object.freeze(params);
}

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
  if (clientAuthMethod !== 'none' && clientSecret === undefined) {
    throw invalid(`\`clientSecret\` is required with clientAuthMethod "${String(clientAuthMethod)}". For a public client use clientAuthMethod: 'none'.`);
  }

  const base = httpUrl(options.baseUrl, 'baseUrl');
  const baseUrl = base.href.replace(/\/+$/, '');
  const routes = parseRoutes(options.routes);
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
    idTokenSigningAlg: parseIdTokenSigningAlg(options.idTokenSigningAlg),
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
  });
}
