import { KeyObject, createPrivateKey, createPublicKey } from 'node:crypto';
import type { JsonWebKey as NodeJwk } from 'node:crypto';
import { calculateJwkThumbprint, importJWK } from 'jose';
import type { JWK } from 'jose';
import { RelyingPartyError } from './errors.js';

/** JWS algorithms the client signs with (client assertions, request objects, DPoP proofs). */
export const SIGNING_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** One of {@link SIGNING_ALGS}. */
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/**
 * A private key as the options accept it: a PEM string (PKCS#8, or PKCS#1 /
 * SEC1), a private JWK object, or a WebCrypto `CryptoKey`. RSA, EC (P-256,
 * P-384, P-521) and Ed25519 keys.
 */
export type PrivateKeyInput = string | JWK | CryptoKey;

/** The algorithms each key type can sign with; the first is what the key signs with unless told otherwise. */
const ALGS_BY_KEY: Readonly<Record<string, readonly SigningAlg[]>> = {
  rsa: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  'P-256': ['ES256'],
  'P-384': ['ES384'],
  'P-521': ['ES512'],
  ed25519: ['EdDSA'],
};

const CURVES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** Members of a JWK that belong to the public key; everything else (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) is dropped. */
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

function invalid(message: string): RelyingPartyError {
  return new RelyingPartyError('invalid_options', `relyingParty(): ${message}`);
}

/** A JWK: an object with a `kty` (from JSON.parse, jose, or Node's `KeyObject.export()`, whatever its realm). */
function isJwk(value: unknown): value is Record<string, unknown> & { kty: string } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { kty?: unknown }).kty === 'string';
}

/** How an option names its key and algorithm, for messages. */
export interface KeyOptionNames {
  /** e.g. `clientPrivateKey` */
  readonly key: string;
  /** the option that sets the algorithm, when there is one, e.g. `clientAssertionSigningAlg` */
  readonly alg?: string | undefined;
}

/**
 * A private signing key of the client, validated once at setup. The
 * private part stays inside this object: only {@link SigningKey.publicJwk}
 * and the WebCrypto keys openid-client signs with come out of it.
 */
export class SigningKey {
  /** The JWS algorithm it signs with. */
  readonly alg: SigningAlg;
  readonly #privateJwk: JWK;
  readonly #publicJwk: JWK;
  readonly #kid: string | undefined;
  #thumbprint: string | undefined;
  #thumbprinted: Promise<string> | undefined;
  #privateKey: Promise<CryptoKey> | undefined;
  #publicKey: Promise<CryptoKey> | undefined;

  constructor(key: KeyObject, alg: SigningAlg, kid: string | undefined) {
    this.alg = alg;
    this.#privateJwk = key.export({ format: 'jwk' }) as JWK;
    const publicJwk = createPublicKey(key).export({ format: 'jwk' }) as Record<string, unknown>;
    this.#publicJwk = Object.fromEntries(PUBLIC_MEMBERS.filter((name) => publicJwk[name] !== undefined).map((name) => [name, publicJwk[name]])) as JWK;
    this.#kid = kid;
  }

  /** RFC 7638 thumbprint of the public key (base64url SHA-256); computed once. */
  thumbprint(): Promise<string> {
    this.#thumbprinted ??= calculateJwkThumbprint(this.#publicJwk).then((value) => (this.#thumbprint = value));
    return this.#thumbprinted;
  }

  /** The thumbprint, once {@link SigningKey.thumbprint} has resolved (always the case after the key signed anything). */
  get knownThumbprint(): string | undefined {
    return this.#thumbprint;
  }

  /** The `kid`: the configured one, else the key's thumbprint. */
  async kid(): Promise<string> {
    return this.#kid ?? (await this.thumbprint());
  }

  /** The public key as a JWK with `kid`, `alg` and `use: 'sig'`, for a JWK Set. No private member. */
  async publicJwk(): Promise<JWK> {
    return { ...this.#publicJwk, kid: await this.kid(), alg: this.alg, use: 'sig' };
  }

  /** The private key as a non-extractable `CryptoKey` for {@link SigningKey.alg}. */
  privateKey(): Promise<CryptoKey> {
    this.#privateKey ??= importJWK(this.#privateJwk, this.alg, { extractable: false }) as Promise<CryptoKey>;
    return this.#privateKey;
  }

  /** The public key as an extractable `CryptoKey` (a DPoP proof carries it as `jwk`). */
  publicKey(): Promise<CryptoKey> {
    this.#publicKey ??= importJWK(this.#publicJwk, this.alg, { extractable: true }) as Promise<CryptoKey>;
    return this.#publicKey;
  }

  /** Keeps the key out of logs: `console.log(config)` shows the algorithm only. */
  toJSON() {
    return { alg: this.alg };
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `SigningKey { alg: '${this.alg}' }`;
  }
}

/** The key type as {@link ALGS_BY_KEY} names it, or a message saying why the key cannot sign here. */
function keyType(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'ed25519':
      return key.asymmetricKeyType;
    case 'ec': {
      const curve = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (curve !== undefined) return curve;
      throw new TypeError(`an EC key on the curve ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'}; use P-256, P-384 or P-521`);
    }
    case 'rsa-pss':
      throw new TypeError('an RSA-PSS-only key; export it as a plain RSA key (it can still sign PS256)');
    default:
      throw new TypeError(`a ${key.asymmetricKeyType ?? 'symmetric'} key; use an RSA, EC (P-256, P-384, P-521) or Ed25519 key`);
  }
}

/** The key as a private `KeyObject`, and the `kid`/`alg` a JWK carried. */
function toKeyObject(value: unknown, name: string): { key: KeyObject; kid?: string; alg?: string } {
  if (typeof value === 'string') {
    if (/-----BEGIN (?:RSA |EC )?PUBLIC KEY-----|-----BEGIN CERTIFICATE-----/.test(value)) {
      throw invalid(`\`${name}\` is a public key or certificate; it must be the private key (the provider gets the public one).`);
    }
    if (value.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
      throw invalid(`\`${name}\` is an encrypted PEM key; decrypt it first (e.g. with crypto.createPrivateKey({ key, passphrase })) and pass the result's PEM or JWK.`);
    }
    if (!value.includes('-----BEGIN')) throw invalid(`\`${name}\` must be a PEM private key ("-----BEGIN PRIVATE KEY-----…"), a private JWK object or a CryptoKey (got a string that is not PEM).`);
    try {
      return { key: createPrivateKey(value) };
    } catch (err) {
      throw new RelyingPartyError('invalid_options', `relyingParty(): \`${name}\` is not a readable PEM private key.`, { cause: err });
    }
  }
  if (value instanceof CryptoKey) {
    if (value.type !== 'private') {
      throw invalid(`\`${name}\` is a ${value.type} CryptoKey; it must be the private key of a key pair (RSA, EC or Ed25519).`);
    }
    return { key: KeyObject.from(value) };
  }
  if (isJwk(value)) {
    if (value.kty === 'oct') throw invalid(`\`${name}\` is a symmetric (oct) JWK; it must be the private key of a key pair (RSA, EC or Ed25519).`);
    if (value.d === undefined) throw invalid(`\`${name}\` is a public JWK (it has no \`d\`); it must be the private key.`);
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: value as NodeJwk, format: 'jwk' });
    } catch (err) {
      throw new RelyingPartyError('invalid_options', `relyingParty(): \`${name}\` is not a usable private JWK.`, { cause: err });
    }
    const kid = typeof value.kid === 'string' && value.kid !== '' ? value.kid : undefined;
    const alg = typeof value.alg === 'string' ? value.alg : undefined;
    return { key, ...(kid === undefined ? {} : { kid }), ...(alg === undefined ? {} : { alg }) };
  }
  throw invalid(`\`${name}\` must be a PEM private key, a private JWK object or a CryptoKey.`);
}

/**
 * Validates a private signing key option: the format, that it is private,
 * and that its type signs with the algorithm asked for (`alg`, else the
 * JWK's `alg`, else the key's default: `preferredRsaAlg` for RSA, ES256 /
 * ES384 / ES512 by curve, EdDSA for Ed25519). Throws `invalid_options`
 * naming the option.
 */
export function parseSigningKey(
  value: unknown,
  names: KeyOptionNames,
  options: { alg?: string | undefined; kid?: string | undefined; preferredRsaAlg?: SigningAlg | undefined } = {},
): SigningKey {
  const { key, kid: jwkKid, alg: jwkAlg } = toKeyObject(value, names.key);
  let type: string;
  try {
    type = keyType(key);
  } catch (err) {
    throw invalid(`\`${names.key}\` is ${err instanceof Error ? err.message : String(err)}.`);
  }
  const possible = ALGS_BY_KEY[type] ?? [];
  if (options.alg !== undefined && jwkAlg !== undefined && options.alg !== jwkAlg) {
    throw invalid(`\`${names.alg ?? 'alg'}\` is "${options.alg}" but the JWK of \`${names.key}\` says "alg": "${jwkAlg}"; make them agree or leave one out.`);
  }
  const wanted = options.alg ?? jwkAlg;
  let alg: SigningAlg;
  if (wanted === undefined) {
    alg = type === 'rsa' ? (options.preferredRsaAlg ?? 'RS256') : (possible[0] as SigningAlg);
  } else if ((possible as readonly string[]).includes(wanted)) {
    alg = wanted as SigningAlg;
  } else {
    const described = type === 'rsa' ? 'an RSA key' : type === 'ed25519' ? 'an Ed25519 key' : `an EC ${type} key`;
    const where = options.alg !== undefined ? `\`${names.alg ?? 'alg'}\`` : `the "alg" of the JWK in \`${names.key}\``;
    throw invalid(`${where} is "${wanted}", which ${described} cannot sign with; ${described} signs ${possible.join(', ')}.`);
  }
  return new SigningKey(key, alg, options.kid ?? jwkKid);
}
