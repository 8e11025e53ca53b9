/**
 * The options of pushed authorization requests, JWT client authentication,
 * DPoP, signed request objects and the FAPI 2.0 profile: their types,
 * validation at setup, and the checks that need several of them at once.
 * `parseOptions()` calls {@link parseFapiOptions} once.
 */
import { RelyingPartyError } from '../errors.js';
import { processDpopKey } from '../dpop.js';
import { SIGNING_ALGS, parseSigningKey } from '../keys.js';
import type { PrivateKeyInput, SigningAlg, SigningKey } from '../keys.js';

export type { PrivateKeyInput, SigningAlg } from '../keys.js';

/** Algorithm of the client assertion: an asymmetric one for `private_key_jwt`, `HS256` for `client_secret_jwt`. */
export type ClientAssertionSigningAlg = SigningAlg | 'HS256';

/** The security profiles `profile` accepts. */
export type SecurityProfile = 'fapi2';

/** JWS algorithms the FAPI 2.0 Security Profile allows (§5.4): for ID tokens, client assertions, request objects and DPoP proofs. */
export const FAPI2_ALGS: readonly SigningAlg[] = ['PS256', 'ES256', 'EdDSA'];

/** The options of this module, part of {@link RelyingPartyOptions}. */
export interface FapiOptions {
  /**
   * Pushed authorization requests (RFC 9126): the authorization request's
   * parameters go to the provider's `pushed_authorization_request_endpoint`
   * from the server, and the browser URL carries only `client_id` and
   * `request_uri`. `'auto'`: when the provider's metadata says
   * `require_pushed_authorization_requests: true`; `true`: always (a
   * provider without a PAR endpoint is then a configuration error);
   * `false`: never. With `profile: 'fapi2'`, `'auto'` means always.
   * Default is `'auto'`.
   */
  pushedAuthorizationRequests?: boolean | 'auto' | undefined;
  /**
   * The client's private key, for `clientAuthMethod: 'private_key_jwt'`
   * and `requestObjects`: a PEM string, a private JWK object or a
   * `CryptoKey` (RSA, EC P-256/P-384/P-521 or Ed25519). Register its public
   * part at the provider, or serve it with `routes.jwks` and register that
   * URL as `jwks_uri`. It stays in the app's memory, never in the session.
   */
  clientPrivateKey?: PrivateKeyInput | undefined;
  /** The `kid` of `clientPrivateKey`. Default is the JWK's `kid`, else the key's RFC 7638 thumbprint. */
  clientPrivateKeyId?: string | undefined;
  /**
   * Algorithm of the client assertion (and of request objects). Default
   * follows the key: `RS256` for RSA (`PS256` with `profile: 'fapi2'`),
   * `ES256`/`ES384`/`ES512` by EC curve, `EdDSA` for Ed25519, or the
   * JWK's `alg`; `HS256` for `client_secret_jwt`, the only one it supports.
   */
  clientAssertionSigningAlg?: ClientAssertionSigningAlg | undefined;
  /**
   * Sender-constrained tokens with DPoP (RFC 9449): the code exchange,
   * refreshes, userinfo, pushed authorization requests and
   * `req.auth.fetch()` carry DPoP proofs signed with `dpopKey`, and follow
   * `use_dpop_nonce` challenges. The access token's type is then `DPoP`:
   * a copy taken from the session store is useless without the key.
   * Default is `false`.
   */
  dpop?: boolean | undefined;
  /**
   * The private key DPoP proofs are signed with (formats as
   * `clientPrivateKey`; its algorithm follows the key, or the JWK's `alg`).
   * Default: a P-256 key generated for the process, with a warning: every
   * instance of the app must use the same key, so set it when there are
   * several, or tokens issued to one are refused from another.
   */
  dpopKey?: PrivateKeyInput | undefined;
  /**
   * Send the authorization request as a request object (JAR, RFC 9101)
   * signed with `clientPrivateKey`; inside the pushed request when
   * `pushedAuthorizationRequests` is on. Default is `false`.
   */
  requestObjects?: boolean | undefined;
  /**
   * `'fapi2'`: the FAPI 2.0 Security Profile. At setup it requires
   * `clientAuthMethod: 'private_key_jwt'`, `dpop: true`, pushed
   * authorization requests (not `false`), and PS256, ES256 or EdDSA for ID
   * tokens (default `PS256`), the client key and the DPoP key; at discovery
   * it requires a provider with a PAR endpoint, DPoP and the `iss`
   * authorization response parameter (RFC 9207). Default: none.
   */
  profile?: SecurityProfile | undefined;
}

/** The validated form of {@link FapiOptions}, part of `Config`. */
export interface FapiConfig {
  /** `true` with `profile: 'fapi2'` unless set to `false` (refused). */
  readonly pushedAuthorizationRequests: boolean | 'auto';
  /** The client's signing key (private_key_jwt, request objects, `routes.jwks`). */
  readonly clientKey: SigningKey | undefined;
  /** The DPoP key when `dpop` is on. */
  readonly dpopKey: SigningKey | undefined;
  readonly requestObjects: boolean;
  readonly profile: SecurityProfile | undefined;
}

/** Option names of this module, for the unknown-option check. */
export const FAPI_OPTION_NAMES: readonly (keyof FapiOptions)[] = [
  'pushedAuthorizationRequests',
  'clientPrivateKey',
  'clientPrivateKeyId',
  'clientAssertionSigningAlg',
  'dpop',
  'dpopKey',
  'requestObjects',
  'profile',
];

/** What {@link parseFapiOptions} needs from the rest of the options, already validated. */
export interface CoreOptions {
  readonly clientAuthMethod: string;
  /** the parsed `idTokenSigningAlg` */
  readonly idTokenSigningAlg: string;
  /** `routes.jwks` as parsed */
  readonly jwksRoute: string | false;
}

function invalid(message: string): RelyingPartyError {
  return new RelyingPartyError('invalid_options', `relyingParty(): ${message}`);
}

function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw invalid(`\`${name}\` must be true or false.`);
}

function parsePar(value: unknown): boolean | 'auto' {
  if (value === undefined) return 'auto';
  if (value === true || value === false || value === 'auto') return value;
  throw invalid("`pushedAuthorizationRequests` must be true, false or 'auto'.");
}

function parseProfile(value: unknown): SecurityProfile | undefined {
  if (value === undefined || value === 'fapi2') return value;
  throw invalid(`\`profile\` must be 'fapi2' (the FAPI 2.0 Security Profile), or left out.`);
}

function parseAssertionAlg(value: unknown, clientAuthMethod: string, requestObjects: boolean): ClientAssertionSigningAlg | undefined {
  if (value === undefined) return undefined;
  if (clientAuthMethod === 'client_secret_jwt') {
    if (value === 'HS256') return value;
    throw invalid(`\`clientAssertionSigningAlg\` must be 'HS256' with clientAuthMethod 'client_secret_jwt' (the only one it signs with).`);
  }
  if (clientAuthMethod !== 'private_key_jwt' && !requestObjects) {
    throw invalid(`\`clientAssertionSigningAlg\` is only used with clientAuthMethod 'private_key_jwt' or 'client_secret_jwt', or requestObjects: true (clientAuthMethod is "${clientAuthMethod}").`);
  }
  if (typeof value === 'string' && (SIGNING_ALGS as readonly string[]).includes(value)) return value as SigningAlg;
  if (value === 'HS256') throw invalid("`clientAssertionSigningAlg` 'HS256' is for clientAuthMethod 'client_secret_jwt'; private_key_jwt signs with the key's algorithm.");
  throw invalid(`\`clientAssertionSigningAlg\` must be one of ${SIGNING_ALGS.join(', ')}.`);
}

function parseClientKey(options: Record<string, unknown>, core: CoreOptions, fapi2: boolean, assertionAlg: string | undefined, requestObjects: boolean): SigningKey | undefined {
  const kid = options.clientPrivateKeyId;
  if (kid !== undefined && (typeof kid !== 'string' || kid === '')) throw invalid('`clientPrivateKeyId` must be a non-empty string.');
  if (options.clientPrivateKey === undefined) {
    if (core.clientAuthMethod === 'private_key_jwt') {
      throw invalid("clientAuthMethod 'private_key_jwt' needs `clientPrivateKey`: the private key whose public part is registered at the provider (a PEM string, a private JWK or a CryptoKey).");
    }
    if (requestObjects) throw invalid('`requestObjects` needs `clientPrivateKey`, the key request objects are signed with.');
    if (core.jwksRoute !== false) throw invalid('`routes.jwks` serves the public part of `clientPrivateKey`: set `clientPrivateKey`, or leave `routes.jwks` out.');
    if (kid !== undefined) throw invalid('`clientPrivateKeyId` names the `kid` of `clientPrivateKey`, which is not set.');
    return undefined;
  }
  if (core.clientAuthMethod !== 'private_key_jwt' && !requestObjects) {
    throw invalid(`\`clientPrivateKey\` is used with clientAuthMethod 'private_key_jwt' or requestObjects: true, and neither is set (clientAuthMethod is "${core.clientAuthMethod}").`);
  }
  const key = parseSigningKey(
    options.clientPrivateKey,
    { key: 'clientPrivateKey', alg: 'clientAssertionSigningAlg' },
    { alg: assertionAlg === 'HS256' ? undefined : assertionAlg, kid: kid as string | undefined, preferredRsaAlg: fapi2 ? 'PS256' : 'RS256' },
  );
  if (fapi2 && !FAPI2_ALGS.includes(key.alg)) {
    throw invalid(`profile 'fapi2' allows ${FAPI2_ALGS.join(', ')} for client assertions and request objects; \`clientPrivateKey\` signs ${key.alg}. Set clientAssertionSigningAlg: 'PS256' for an RSA key, or use a P-256 or Ed25519 key.`);
  }
  return key;
}

function parseDpopKey(options: Record<string, unknown>, dpop: boolean, fapi2: boolean): SigningKey | undefined {
  if (!dpop) {
    if (options.dpopKey !== undefined) throw invalid('`dpopKey` is set but `dpop` is not true: set dpop: true to bind tokens to it, or remove dpopKey.');
    return undefined;
  }
  const key = options.dpopKey === undefined ? processDpopKey() : parseSigningKey(options.dpopKey, { key: 'dpopKey' }, { preferredRsaAlg: fapi2 ? 'PS256' : 'RS256' });
  if (fapi2 && !FAPI2_ALGS.includes(key.alg)) {
    throw invalid(`profile 'fapi2' allows ${FAPI2_ALGS.join(', ')} for DPoP proofs; \`dpopKey\` signs ${key.alg}. Use a P-256 or Ed25519 key (or an RSA JWK with "alg": "PS256").`);
  }
  return key;
}

/** The FAPI 2.0 rules that are about the options alone; the provider's side is checked at discovery. */
function checkFapi2(options: Record<string, unknown>, core: CoreOptions, dpop: boolean): void {
  if (core.clientAuthMethod !== 'private_key_jwt') {
    throw invalid(`profile 'fapi2' requires clientAuthMethod: 'private_key_jwt' (got "${core.clientAuthMethod}"); mutual TLS client authentication is not supported.`);
  }
  if (options.pushedAuthorizationRequests === false) {
    throw invalid("profile 'fapi2' requires pushed authorization requests: remove `pushedAuthorizationRequests: false`.");
  }
  if (!dpop) throw invalid("profile 'fapi2' requires sender-constrained tokens: set `dpop: true` (and `dpopKey`); mutual TLS token binding is not supported.");
  if (!FAPI2_ALGS.includes(core.idTokenSigningAlg as SigningAlg)) {
    throw invalid(`profile 'fapi2' requires \`idTokenSigningAlg\` PS256, ES256 or EdDSA (got ${core.idTokenSigningAlg}).`);
  }
}

/**
 * Validates the options of this module, and how they combine with the
 * others. Returns them as config, with `idTokenSigningAlg` (whose default
 * is `PS256` under `profile: 'fapi2'`). Throws `invalid_options` naming the
 * option and the fix.
 */
export function parseFapiOptions(options: Record<string, unknown>, core: CoreOptions): FapiConfig & { readonly idTokenSigningAlg: string } {
  const profile = parseProfile(options.profile);
  const fapi2 = profile === 'fapi2';
  const idTokenSigningAlg = fapi2 && options.idTokenSigningAlg === undefined ? 'PS256' : core.idTokenSigningAlg;
  const dpop = optionalBoolean(options.dpop, 'dpop') ?? false;
  const requestObjects = optionalBoolean(options.requestObjects, 'requestObjects') ?? false;
  let pushedAuthorizationRequests = parsePar(options.pushedAuthorizationRequests);
  if (fapi2) {
    checkFapi2(options, { ...core, idTokenSigningAlg }, dpop);
    pushedAuthorizationRequests = true;
  }
  const assertionAlg = parseAssertionAlg(options.clientAssertionSigningAlg, core.clientAuthMethod, requestObjects);
  return {
    pushedAuthorizationRequests,
    clientKey: parseClientKey(options, core, fapi2, assertionAlg, requestObjects),
    dpopKey: parseDpopKey(options, dpop, fapi2),
    requestObjects,
    profile,
    idTokenSigningAlg,
  };
}
