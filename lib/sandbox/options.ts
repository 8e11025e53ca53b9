import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { didYouMean } from '../did-you-mean.js';
import { RelyingPartyError } from '../errors.js';
import { isPlainObject } from '../options/assert.js';

/**
 * A user the sandbox knows in advance: their claims, `sub` required.
 * Typing the `sub` (or the `preferred_username`) at the login page signs
 * in as this user; the claims reach the app as the scopes it was granted
 * release them (see {@link SandboxOptions.claims}).
 */
export interface SandboxUser {
  readonly sub: string;
  readonly [claim: string]: unknown;
}

/** The API (resource server) the sandbox issues JWT access tokens for (RFC 8707, RFC 9068). */
export interface SandboxApi {
  /** Its resource indicator, also the `aud` of its access tokens; the default `resource` of every authorization request. */
  readonly audience: string;
  /**
   * The scopes it understands, besides payment consents (`payments:<payee>:<currency>:<amount>`,
   * see `paymentScope()`), which it always takes. Default is `['accounts:read']`.
   */
  readonly scopes?: readonly string[] | undefined;
}

/** Options of {@link startSandbox}. */
export interface SandboxOptions {
  /** The app's redirect URIs, matched exactly: `<baseUrl>/callback`. At least one is required. */
  readonly redirectUris: readonly string[];
  /**
   * Where the app may send the browser after logout. Default is, for each
   * redirect URI, its origin with `/` and the folder it is in (both
   * `http://localhost:3000/` for `http://localhost:3000/callback`).
   */
  readonly postLogoutRedirectUris?: readonly string[] | undefined;
  /** Port to listen on; `0` picks a free one. Default is `0`. */
  readonly port?: number | undefined;
  /** Loopback address to listen on, also the host of the issuer. Default is `'127.0.0.1'`. */
  readonly host?: string | undefined;
  /** Path of the issuer (`'/oidc'` gives `http://127.0.0.1:<port>/oidc`). Default is `''`. */
  readonly issuerPath?: string | undefined;
  /** The app's client id. Default is `'sandbox-app'`. */
  readonly clientId?: string | undefined;
  /** The app's client secret (`client_secret_basic`). Default is a random one at each start. */
  readonly clientSecret?: string | undefined;
  /** The app's name on the login and consent pages. Default is the client id. */
  readonly clientName?: string | undefined;
  /** Users known in advance; any other username signs in too, with claims made up from it. Default is `[]`. */
  readonly users?: readonly SandboxUser[] | undefined;
  /**
   * More scopes, and the claims each releases, on top of the standard ones
   * (`openid`, `profile`, `email`, `phone`, `address`); a scope listed here
   * that exists gets the claims added. `{ openid: ['groups'] }` releases a
   * `groups` claim with every sign-in. Default is `{}`.
   */
  readonly claims?: Readonly<Record<string, readonly string[]>> | undefined;
  /** An API to issue JWT access tokens for. Default: none, access tokens are opaque. */
  readonly api?: SandboxApi | undefined;
  /** Private signing keys (JWK with `kid`). Default is one RS256 key generated at each start. */
  readonly signingKeys?: readonly JWK[] | undefined;
  /** Lifetime of access tokens in seconds. Default is `600`. */
  readonly accessTokenTtl?: number | undefined;
  /**
   * The app's public JWK Set URL (`relyingParty()`'s `routes.jwks`, e.g.
   * `http://localhost:3000/jwks`): the app is then registered for
   * `private_key_jwt` with this `jwks_uri`, and its client secret is not
   * used. Default: none (`client_secret_basic`).
   */
  readonly clientJwksUri?: string | undefined;
  /**
   * `'fapi2'`: the FAPI 2.0 Security Profile. Pushed authorization
   * requests are required, the app must authenticate with
   * `private_key_jwt` (so `clientJwksUri` is required) and get
   * DPoP-bound tokens, and ID tokens and JWT access tokens are signed
   * PS256. Default: none.
   */
  readonly profile?: 'fapi2' | undefined;
}

/** The standard OpenID Connect scopes and the claims they release (OpenID Connect Core 1.0, section 5.4). */
export const STANDARD_CLAIMS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  // `openid` also brings acr, amr and auth_time: the app learns how (and when) the user authenticated
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  profile: [
    'name',
    'family_name',
    'given_name',
    'middle_name',
    'nickname',
    'preferred_username',
    'profile',
    'picture',
    'website',
    'gender',
    'birthdate',
    'zoneinfo',
    'locale',
    'updated_at',
  ],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  address: ['address'],
});

/** Claims the sign-in itself sets; a user cannot bring them. */
export const AUTHENTICATION_CLAIMS: ReadonlySet<string> = new Set(['acr', 'amr', 'auth_time']);

/** The validated, frozen form of {@link SandboxOptions}. */
export interface SandboxConfig {
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris: readonly string[];
  readonly port: number;
  readonly host: string;
  readonly issuerPath: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly clientName: string;
  readonly users: readonly SandboxUser[];
  /** Standard and extra scopes with the claims each releases. */
  readonly claims: Readonly<Record<string, readonly string[]>>;
  readonly api: { readonly audience: string; readonly scopes: readonly string[] } | undefined;
  readonly signingKeys: readonly JWK[] | undefined;
  readonly accessTokenTtl: number;
  readonly clientJwksUri: string | undefined;
  readonly profile: 'fapi2' | undefined;
}

const knownOptions: readonly (keyof SandboxOptions)[] = [
  'redirectUris',
  'postLogoutRedirectUris',
  'port',
  'host',
  'issuerPath',
  'clientId',
  'clientSecret',
  'clientName',
  'users',
  'claims',
  'api',
  'signingKeys',
  'accessTokenTtl',
  'clientJwksUri',
  'profile',
];

/** Signing algorithms the FAPI 2.0 profile allows. */
const FAPI2_ALGS = ['PS256', 'ES256', 'EdDSA'];

function invalid(message: string): RelyingPartyError {
  return new RelyingPartyError('invalid_options', `startSandbox(): ${message}`);
}

function nonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`\`${name}\` must be a non-empty string.`);
  return value;
}

function optionalString(value: unknown, name: string): string | undefined {
  return value === undefined ? undefined : nonEmptyString(value, name);
}

/** An absolute http(s) URL without a fragment. */
function webUrl(value: unknown, name: string, example: string): string {
  const text = nonEmptyString(value, name);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`\`${name}\` must be an absolute URL such as ${example} (got "${text}").`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hash) {
    throw invalid(`\`${name}\` must be an http: or https: URL without a fragment (got "${text}").`);
  }
  return text;
}

function urlList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid(`\`${name}\` must be a non-empty array of URLs, such as ['http://localhost:3000/callback'].`);
  return value.map((item: unknown, i) => webUrl(item, `${name}[${i}]`, 'http://localhost:3000/callback'));
}

/** For each redirect URI, its origin + `/` and its folder (the `baseUrl` of an app mounted under a path). */
function defaultPostLogoutRedirectUris(redirectUris: readonly string[]): string[] {
  const uris = new Set<string>();
  for (const uri of redirectUris) {
    const url = new URL(uri);
    uris.add(`${url.origin}/`);
    uris.add(new URL('./', url).href);
  }
  return [...uris];
}

function parseUsers(value: unknown, claims: Readonly<Record<string, readonly string[]>>): SandboxUser[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid('`users` must be an array of users such as [{ sub: \'alice\', name: \'Alice\' }].');
  return value.map((user: unknown, i) => validateUser(user, claims, `users[${i}]`));
}

/** Checks one user: a `sub`, and only claims some scope releases. Throws `invalid_options` naming the fix. */
export function validateUser(user: unknown, claims: Readonly<Record<string, readonly string[]>>, where: string): SandboxUser {
  if (!isPlainObject(user)) throw invalid(`\`${where}\` must be an object of claims with a \`sub\`, such as { sub: 'alice', name: 'Alice' }.`);
  nonEmptyString(user.sub, `${where}.sub`);
  const released = new Set(Object.values(claims).flat());
  for (const claim of Object.keys(user)) {
    if (AUTHENTICATION_CLAIMS.has(claim)) {
      throw invalid(`\`${where}.${claim}\` cannot be set: the sign-in decides it (acr and amr come from the one-time code step).`);
    }
    if (!released.has(claim)) {
      throw invalid(`\`${where}.${claim}\`: no scope releases the claim \`${claim}\`. Add it to a scope, e.g. startSandbox({ claims: { openid: ['${claim}'] } }).`);
    }
  }
  return Object.freeze({ ...user }) as SandboxUser;
}

function parseClaims(value: unknown): Readonly<Record<string, readonly string[]>> {
  const merged: Record<string, readonly string[]> = { ...STANDARD_CLAIMS };
  if (value === undefined) return Object.freeze(merged);
  if (!isPlainObject(value)) throw invalid('`claims` must map scopes to claim names, such as { openid: [\'groups\'] }.');
  for (const [scope, names] of Object.entries(value)) {
    if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope)) throw invalid(`\`claims\`: "${scope}" is not a valid scope name.`);
    if (!Array.isArray(names) || !names.every((name): name is string => typeof name === 'string' && name !== '')) {
      throw invalid(`\`claims.${scope}\` must be an array of claim names.`);
    }
    merged[scope] = [...new Set([...(merged[scope] ?? []), ...names])];
  }
  return Object.freeze(merged);
}

function parseApi(value: unknown): SandboxConfig['api'] {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) throw invalid('`api` must be an object such as { audience: \'http://localhost:3000/api\' }.');
  for (const key of Object.keys(value)) {
    if (key !== 'audience' && key !== 'scopes') throw invalid(`unknown option \`api.${key}\`. ${didYouMean(key, ['audience', 'scopes'])}`);
  }
  const audience = nonEmptyString(value.audience, 'api.audience');
  const scopes = value.scopes ?? ['accounts:read'];
  if (!Array.isArray(scopes) || !scopes.every((scope): scope is string => typeof scope === 'string' && scope !== '')) {
    throw invalid('`api.scopes` must be an array of scope names.');
  }
  return Object.freeze({ audience, scopes: Object.freeze([...scopes]) });
}

function port(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw invalid(`\`port\` must be a port number from 0 to 65535 (got ${String(value)}).`);
  }
  return value;
}

function issuerPath(value: unknown): string {
  if (value === undefined || value === '' || value === '/') return '';
  if (typeof value !== 'string' || !/^(\/[A-Za-z0-9\-._~]+)+\/?$/.test(value)) {
    throw invalid(`\`issuerPath\` must be a path such as '/oidc' (got ${JSON.stringify(value)}).`);
  }
  return value.replace(/\/$/, '');
}

/** The sandbox signs anyone in: it listens on this machine only. */
function loopbackHost(value: unknown): string {
  const host = optionalString(value, 'host') ?? '127.0.0.1';
  if (host !== 'localhost' && host !== '::1' && !/^127(?:\.\d{1,3}){3}$/.test(host)) {
    throw invalid(`\`host\` must be a loopback address (127.0.0.1, ::1 or localhost): the sandbox signs anyone in, so it listens on this machine only (got "${host}").`);
  }
  return host;
}

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw invalid(`\`${name}\` must be a positive whole number.`);
  return value;
}

function parseProfile(value: unknown): 'fapi2' | undefined {
  if (value === undefined || value === 'fapi2') return value;
  throw invalid("`profile` must be 'fapi2' (the FAPI 2.0 Security Profile), or left out.");
}

function parseClientJwksUri(value: unknown, profile: 'fapi2' | undefined): string | undefined {
  if (value === undefined) {
    if (profile === 'fapi2') {
      throw invalid(
        "profile 'fapi2' registers the app as a private_key_jwt client: set `clientJwksUri` to the app's JWK Set URL (relyingParty()'s routes.jwks), e.g. 'http://localhost:3000/jwks'.",
      );
    }
    return undefined;
  }
  return webUrl(value, 'clientJwksUri', 'http://localhost:3000/jwks');
}

/** Validates `startSandbox()` options into a frozen config. Throws `RelyingPartyError` (`invalid_options`) naming the option. */
export function parseSandboxOptions(options: unknown): SandboxConfig {
  if (!isPlainObject(options)) {
    throw invalid("expected options such as { redirectUris: ['http://localhost:3000/callback'] }.");
  }
  for (const key of Object.keys(options)) {
    if (!(knownOptions as readonly string[]).includes(key)) throw invalid(`unknown option \`${key}\`. ${didYouMean(key, knownOptions)}`);
  }
  const redirectUris = urlList(options.redirectUris, 'redirectUris');
  const clientId = optionalString(options.clientId, 'clientId') ?? 'sandbox-app';
  const claims = parseClaims(options.claims);
  if (options.signingKeys !== undefined && (!Array.isArray(options.signingKeys) || options.signingKeys.length === 0)) {
    throw invalid('`signingKeys` must be a non-empty array of private JWKs.');
  }
  const profile = parseProfile(options.profile);
  if (profile === 'fapi2' && Array.isArray(options.signingKeys) && !options.signingKeys.every((key: JWK) => FAPI2_ALGS.includes(String(key.alg)))) {
    throw invalid(`profile 'fapi2' signs with ${FAPI2_ALGS.join(', ')} only: every key of \`signingKeys\` needs one of them as its "alg".`);
  }
  return Object.freeze({
    redirectUris: Object.freeze(redirectUris),
    postLogoutRedirectUris: Object.freeze(
      options.postLogoutRedirectUris === undefined
        ? defaultPostLogoutRedirectUris(redirectUris)
        : urlList(options.postLogoutRedirectUris, 'postLogoutRedirectUris'),
    ),
    port: port(options.port),
    host: loopbackHost(options.host),
    issuerPath: issuerPath(options.issuerPath),
    clientId,
    clientSecret: optionalString(options.clientSecret, 'clientSecret') ?? randomBytes(32).toString('base64url'),
    clientName: optionalString(options.clientName, 'clientName') ?? clientId,
    users: Object.freeze(parseUsers(options.users, claims)),
    claims,
    api: parseApi(options.api),
    signingKeys: options.signingKeys as readonly JWK[] | undefined,
    accessTokenTtl: positiveInteger(options.accessTokenTtl, 'accessTokenTtl', 600),
    clientJwksUri: parseClientJwksUri(options.clientJwksUri, profile),
    profile,
  });
}
