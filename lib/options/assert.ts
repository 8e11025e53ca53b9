import type { Config } from '../options.js';
import { didYouMean } from '../did-you-mean.js';
import { RelyingPartyError } from '../errors.js';

/**
 * The small typed assertions `parseOptions()` is made of: each reads one
 * option, and throws `invalid_options` naming the option and the fix.
 */

/** JWS algorithms accepted for ID tokens: asymmetric ones, verified with the provider's published keys. */
export const ID_TOKEN_SIGNING_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** One of {@link ID_TOKEN_SIGNING_ALGS}. */
export type IdTokenSigningAlg = (typeof ID_TOKEN_SIGNING_ALGS)[number];

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

/** Keys of `routes`. */
const knownRoutes = ['login', 'callback', 'logout', 'backchannelLogout', 'jwks'] as const;

export function invalid(message: string): RelyingPartyError {
  return new RelyingPartyError('invalid_options', `relyingParty(): ${message}`);
}

export function rejectUnknownKeys(object: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue;
    throw invalid(`unknown option \`${where}${key}\`. ${didYouMean(key, known)}`);
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

export function requiredString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalid(`\`${name}\` is required and must be a non-empty string (got ${describe(value)}).`);
  }
  return value;
}

export function optionalString(value: unknown, name: string, fallback: string): string {
  return value === undefined ? fallback : requiredString(value, name);
}

export function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw invalid(`\`${name}\` must be a positive whole number (got ${describe(value)}).`);
  }
  return value;
}

export function nonNegativeInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`\`${name}\` must be a whole number >= 0 (got ${describe(value)}).`);
  }
  return value;
}

export function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw invalid(`\`${name}\` must be true or false (got ${describe(value)}).`);
}

export function lifetime(value: unknown, name: string, fallback: number): number | false {
  if (value === false || value === undefined) return value ?? fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw invalid(`\`${name}\` must be a positive number of milliseconds, or false for no limit (got ${describe(value)}).`);
  }
  return value;
}

export function parseKeepSessionData(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value) || value.some((key) => typeof key !== 'string' || key === '')) {
    throw invalid(`\`keepSessionData\` must be an array of session keys such as ['cart', 'locale'] (got ${describe(value)}).`);
  }
  const keys = value as string[];
  const reserved = keys.find((key) => key === 'cookie' || key === 'relyingParty');
  if (reserved !== undefined) throw invalid(`\`keepSessionData\` cannot name \`${reserved}\`: it belongs to express-session or this library.`);
  return Object.freeze([...keys]);
}

export function parseName(value: unknown): string {
  if (value === undefined) return 'default';
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(value)) {
    throw invalid(`\`name\` must be 1 to 64 letters, digits, "-" or "_", such as 'bank' (got ${describe(value)}).`);
  }
  return value;
}

export function parseOnLogin(value: unknown): Config['onLogin'] {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalid(`\`onLogin\` must be a function (req, { claims, tokens, userinfo, provider }) => … (got ${describe(value)}).`);
  return value as Config['onLogin'];
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** True for hosts that never leave the machine, where plain `http:` is acceptable. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

export function httpUrl(value: unknown, name: string): URL {
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

export function routePath(value: unknown, name: string, fallback: string, mayBeDisabled: boolean): string | false {
  if (value === undefined) return fallback;
  if (value === false && mayBeDisabled) return false;
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/.test(value) || value.startsWith('//')) {
    const allowed = mayBeDisabled ? 'a path starting with "/", or false' : 'a path starting with "/"';
    throw invalid(`\`${name}\` must be ${allowed} (got ${describe(value)}).`);
  }
  return value;
}

export function parseRoutes(value: unknown): Config['routes'] {
  if (value === undefined) return Object.freeze({ login: '/login', callback: '/callback', logout: '/logout', backchannelLogout: false, jwks: false });
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
    jwks: value.jwks === undefined ? false : routePath(value.jwks, 'routes.jwks', '', true),
  };
  const mounted = [routes.login, routes.callback, routes.logout, routes.backchannelLogout, routes.jwks].filter((path) => path !== false);
  if (new Set(mounted).size !== mounted.length) throw invalid('`routes` must use a different path for each route.');
  return Object.freeze(routes);
}

export function parseIdTokenSigningAlg(value: unknown): IdTokenSigningAlg {
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

export function parseAuthorizationParams(value: unknown): Readonly<Record<string, string>> {
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
