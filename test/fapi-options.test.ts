/**
 * The options of PAR, JWT client authentication, DPoP, request objects and
 * the FAPI 2.0 profile, checked at setup: every invalid combination is an
 * `invalid_options` naming the option, every key format is accepted, and
 * the JWKS route serves public members only. Nothing here talks to a
 * provider (the issuer is never contacted).
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import express from 'express';
import session from 'express-session';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import type { JWK } from 'jose';
import request from 'supertest';
import { relyingParty, RelyingPartyError } from 'express-relying-party';
import type { RelyingPartyOptions } from 'express-relying-party';
import { testKey } from './support/fapi.js';
import type { TestKey } from './support/fapi.js';

const base: RelyingPartyOptions = {
  issuer: 'https://op.example.com',
  clientId: 'my-app',
  baseUrl: 'https://app.example.com',
};

let rsa: TestKey;
let ec: TestKey;
let ed: TestKey;
let dpopKey: TestKey;

beforeAll(async () => {
  [rsa, ec, ed, dpopKey] = await Promise.all([testKey('RS256', 'rsa-1'), testKey('ES256', 'ec-1'), testKey('EdDSA', 'ed-1'), testKey('ES256', 'dpop-1')]);
});

/** The options a private_key_jwt client needs, with `overrides` on top. */
function pkjwt(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...base, clientAuthMethod: 'private_key_jwt', clientPrivateKey: ec.jwk, ...overrides };
}

/** The options of a FAPI 2.0 client, with `overrides` on top. */
function fapi2(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return pkjwt({ profile: 'fapi2', dpop: true, dpopKey: dpopKey.jwk, ...overrides });
}

function rejectionOf(options: Record<string, unknown>): RelyingPartyError {
  try {
    relyingParty(options as unknown as RelyingPartyOptions);
  } catch (err) {
    expect(err).toBeInstanceOf(RelyingPartyError);
    return err as RelyingPartyError;
  }
  throw new Error(`relyingParty() accepted ${JSON.stringify(Object.keys(options))}`);
}

function shouldReject(options: Record<string, unknown>, message: RegExp): void {
  const err = rejectionOf(options);
  expect({ code: err.code, status: err.status }).toEqual({ code: 'invalid_options', status: 500 });
  expect(err.message).toMatch(message);
  // a key must never end up in a message
  for (const key of [rsa, ec, ed, dpopKey]) {
    expect(err.message).not.toContain(String(key.jwk.d));
    expect(err.message).not.toContain(key.pem.split('\n')[1]);
  }
}

/** The JWK Set an app with these options serves at /jwks. */
async function servedJwks(options: Record<string, unknown>): Promise<{ keys: JWK[] }> {
  const app = express();
  app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
  app.use(relyingParty({ ...options, routes: { jwks: '/jwks' } } as unknown as RelyingPartyOptions));
  const response = await request(app).get('/jwks');
  expect(response.status).toBe(200);
  expect(response.headers['content-type']).toMatch(/^application\/jwk-set\+json/);
  expect(response.headers['set-cookie']).toBeUndefined();
  return JSON.parse(response.text) as { keys: JWK[] };
}

/** The one key of the served JWK Set. */
async function servedKey(options: Record<string, unknown>): Promise<JWK> {
  const { keys } = await servedJwks(options);
  expect(keys).toHaveLength(1);
  return keys[0] as JWK;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

describe("clientAuthMethod 'private_key_jwt'", () => {
  describe('clientPrivateKey in each format', () => {
    it.each([
      ['a PKCS#8 PEM', () => rsa.pem],
      ['a PKCS#1 PEM', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs1' }).toString()],
      ['a SEC1 EC PEM', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'sec1' }).toString()],
      ['a private JWK', () => ec.jwk],
      ['an Ed25519 JWK', () => ed.jwk],
    ])('accepts %s, without a client secret', (_format, key) => {
      expect(() => relyingParty(pkjwt({ clientPrivateKey: key() }) as unknown as RelyingPartyOptions)).not.toThrow();
    });

    it('accepts a CryptoKey, even a non-extractable one', async () => {
      const cryptoKey = await ec.cryptoKey();
      expect(cryptoKey.extractable).toBe(false);
      await expect(servedKey(pkjwt({ clientPrivateKey: cryptoKey, clientPrivateKeyId: 'from-crypto-key' }))).resolves.toMatchObject({ kid: 'from-crypto-key', alg: 'ES256', crv: 'P-256' });
    });

    it('needs clientPrivateKey', () => {
      shouldReject(pkjwt({ clientPrivateKey: undefined }), /clientAuthMethod 'private_key_jwt' needs `clientPrivateKey`/);
    });

    it.each([
      ['a public PEM', () => createPublicKey(rsa.pem).export({ format: 'pem', type: 'spki' }).toString(), /`clientPrivateKey` is a public key or certificate/],
      ['a public JWK', () => ec.publicJwk, /`clientPrivateKey` is a public JWK \(it has no `d`\)/],
      ['a symmetric JWK', () => ({ kty: 'oct', k: 'c2VjcmV0' }), /`clientPrivateKey` is a symmetric \(oct\) JWK/],
      ['an encrypted PEM', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString(), /encrypted PEM key; decrypt it first/],
      ['text that is not PEM', () => 'my-secret', /`clientPrivateKey` must be a PEM private key .* \(got a string that is not PEM\)/],
      ['a broken PEM', () => '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----', /`clientPrivateKey` is not a readable PEM private key/],
      ['a number', () => 42, /`clientPrivateKey` must be a PEM private key, a private JWK object or a CryptoKey/],
      ['a secp256k1 key', () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), /an EC key on the curve secp256k1; use P-256, P-384 or P-521/],
      ['an RSA-PSS-only key', () => generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), /RSA-PSS-only key/],
    ])('refuses %s', (_what, key, message) => {
      shouldReject(pkjwt({ clientPrivateKey: key() }), message);
    });

    it('refuses a public or secret CryptoKey', async () => {
      const { publicKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
      shouldReject(pkjwt({ clientPrivateKey: publicKey }), /`clientPrivateKey` is a public CryptoKey/);
      const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      shouldReject(pkjwt({ clientPrivateKey: hmac }), /`clientPrivateKey` is a secret CryptoKey/);
    });
  });

  describe('the assertion algorithm', () => {
    it.each([
      ['an RSA key', () => rsa.pem, 'RS256'],
      ['a P-256 key', () => ec.pem, 'ES256'],
      ['a P-384 key', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 'ES384'],
      ['an Ed25519 key', () => ed.pem, 'EdDSA'],
    ])('follows %s: %s', async (_what, key, alg) => {
      await expect(servedKey(pkjwt({ clientPrivateKey: key() }))).resolves.toMatchObject({ alg, use: 'sig' });
    });

    it("is the JWK's alg when it has one", async () => {
      await expect(servedKey(pkjwt({ clientPrivateKey: { ...rsa.jwk, alg: 'PS384' } }))).resolves.toMatchObject({ alg: 'PS384' });
    });

    it('is clientAssertionSigningAlg when set, if the key can sign with it', async () => {
      await expect(servedKey(pkjwt({ clientPrivateKey: rsa.pem, clientAssertionSigningAlg: 'PS256' }))).resolves.toMatchObject({ alg: 'PS256', kty: 'RSA' });
    });

    it.each([
      [() => rsa.pem, 'ES256', /`clientAssertionSigningAlg` is "ES256", which an RSA key cannot sign with; an RSA key signs RS256, RS384, RS512, PS256, PS384, PS512/],
      [() => ec.pem, 'PS256', /`clientAssertionSigningAlg` is "PS256", which an EC P-256 key cannot sign with; an EC P-256 key signs ES256/],
      [() => ec.pem, 'ES384', /"ES384", which an EC P-256 key cannot sign with/],
      [() => ed.pem, 'ES256', /"ES256", which an Ed25519 key cannot sign with; an Ed25519 key signs EdDSA/],
      [() => rsa.pem, 'none', /`clientAssertionSigningAlg` must be one of RS256, .*EdDSA/],
      [() => rsa.pem, 'HS256', /'HS256' is for clientAuthMethod 'client_secret_jwt'/],
    ])('refuses a key that cannot sign with it (%#)', (key, alg, message) => {
      shouldReject(pkjwt({ clientPrivateKey: key(), clientAssertionSigningAlg: alg }), message);
    });

    it("refuses a JWK whose alg is not one its key signs, or disagrees with clientAssertionSigningAlg", () => {
      shouldReject(pkjwt({ clientPrivateKey: { ...rsa.jwk, alg: 'ES256' } }), /the "alg" of the JWK in `clientPrivateKey` is "ES256", which an RSA key cannot sign with/);
      shouldReject(pkjwt({ clientPrivateKey: { ...rsa.jwk, alg: 'RS256' }, clientAssertionSigningAlg: 'PS256' }), /`clientAssertionSigningAlg` is "PS256" but the JWK of `clientPrivateKey` says "alg": "RS256"/);
    });
  });

  describe('the kid', () => {
    it("is the JWK's kid", async () => {
      await expect(servedKey(pkjwt({ clientPrivateKey: ec.jwk }))).resolves.toMatchObject({ kid: 'ec-1' });
    });

    it('is clientPrivateKeyId when set', async () => {
      await expect(servedKey(pkjwt({ clientPrivateKey: ec.jwk, clientPrivateKeyId: 'rotated-2' }))).resolves.toMatchObject({ kid: 'rotated-2' });
    });

    it("is the key's RFC 7638 thumbprint otherwise", async () => {
      const served = await servedKey(pkjwt({ clientPrivateKey: ec.pem }));
      expect(served.kid).toBe(await calculateJwkThumbprint(ec.publicJwk));
    });

    it('refuses clientPrivateKeyId without a key, or empty', () => {
      shouldReject({ ...base, clientSecret: 's', clientPrivateKeyId: 'k' }, /`clientPrivateKeyId` names the `kid` of `clientPrivateKey`, which is not set/);
      shouldReject(pkjwt({ clientPrivateKeyId: '' }), /`clientPrivateKeyId` must be a non-empty string/);
    });
  });

  it('refuses clientPrivateKey when nothing uses it', () => {
    shouldReject({ ...base, clientSecret: 's', clientPrivateKey: ec.jwk }, /`clientPrivateKey` is used with clientAuthMethod 'private_key_jwt' or requestObjects: true, and neither is set/);
  });

  it('refuses clientAssertionSigningAlg with client_secret_basic', () => {
    shouldReject({ ...base, clientSecret: 's', clientAssertionSigningAlg: 'RS256' }, /`clientAssertionSigningAlg` is only used with clientAuthMethod 'private_key_jwt' or 'client_secret_jwt'/);
  });
});

describe("clientAuthMethod 'client_secret_jwt'", () => {
  it('needs the client secret', () => {
    shouldReject({ ...base, clientAuthMethod: 'client_secret_jwt' }, /`clientSecret` is required with clientAuthMethod "client_secret_jwt"/);
    expect(() => relyingParty({ ...base, clientAuthMethod: 'client_secret_jwt', clientSecret: 's' })).not.toThrow();
  });

  it('signs HS256 only', () => {
    expect(() => relyingParty({ ...base, clientAuthMethod: 'client_secret_jwt', clientSecret: 's', clientAssertionSigningAlg: 'HS256' })).not.toThrow();
    shouldReject({ ...base, clientAuthMethod: 'client_secret_jwt', clientSecret: 's', clientAssertionSigningAlg: 'HS512' }, /must be 'HS256' with clientAuthMethod 'client_secret_jwt'/);
  });
});

describe('routes.jwks', () => {
  it.each([
    ['RSA', () => rsa, ['kty', 'n', 'e']],
    ['EC', () => ec, ['kty', 'crv', 'x', 'y']],
    ['Ed25519', () => ed, ['kty', 'crv', 'x']],
  ])('serves the public members of an %s key only, with kid, alg and use', async (_type, key, members) => {
    const served = await servedKey(pkjwt({ clientPrivateKey: key().jwk }));
    expect(Object.keys(served).sort()).toEqual([...members, 'kid', 'alg', 'use'].sort());
    for (const member of PRIVATE_MEMBERS) expect(served).not.toHaveProperty(member);
    expect(served).toEqual({ ...key().publicJwk });
  });

  it('does not serve the DPoP key (a proof carries its own), nor anything without a client key', async () => {
    const { keys } = await servedJwks(pkjwt({ dpop: true, dpopKey: dpopKey.jwk }));
    expect(keys.map((key) => key.kid)).toEqual(['ec-1']);
    shouldReject({ ...base, clientSecret: 's', routes: { jwks: '/jwks' } }, /`routes\.jwks` serves the public part of `clientPrivateKey`: set `clientPrivateKey`/);
  });

  it('lets the public JWK Set be cached, answers HEAD, and is not mounted by default', async () => {
    const app = express();
    app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
    app.use(relyingParty({ ...(pkjwt() as unknown as RelyingPartyOptions), routes: { jwks: '/.well-known/jwks.json' } }));
    app.use((_req, res) => res.status(404).end());
    const got = await request(app).get('/.well-known/jwks.json');
    expect(got.headers['cache-control']).toBe('public, max-age=300');
    expect((await request(app).head('/.well-known/jwks.json')).status).toBe(200);
    expect((await request(app).post('/.well-known/jwks.json')).status).toBe(404);

    const plain = express();
    plain.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
    plain.use(relyingParty(pkjwt() as unknown as RelyingPartyOptions));
    plain.use((_req, res) => res.status(404).end());
    expect((await request(plain).get('/jwks')).status).toBe(404);
  });

  it('is served without a session: a session store that is down does not hide the keys from the provider', async () => {
    const app = express();
    // no express-session at all: every other route of the library would answer session_missing
    app.use(relyingParty({ ...(pkjwt() as unknown as RelyingPartyOptions), routes: { jwks: '/jwks' } }));
    const response = await request(app).get('/jwks');
    expect(response.status).toBe(200);
    expect((JSON.parse(response.text) as { keys: JWK[] }).keys).toHaveLength(1);
  });

  it('refuses a path another route uses', () => {
    shouldReject(pkjwt({ routes: { jwks: '/login' } }), /different path for each route/);
  });
});

describe('dpop', () => {
  it('takes dpopKey in each format', async () => {
    for (const key of [dpopKey.pem, dpopKey.jwk, await dpopKey.cryptoKey(), ed.jwk]) {
      expect(() => relyingParty({ ...base, clientSecret: 's', dpop: true, dpopKey: key })).not.toThrow();
    }
  });

  it.each([
    ['dpop that is not a boolean', () => ({ dpop: 'yes' }), /`dpop` must be true or false/],
    ['dpopKey without dpop', () => ({ dpopKey: dpopKey.jwk }), /`dpopKey` is set but `dpop` is not true/],
    ['a symmetric key', () => ({ dpop: true, dpopKey: { kty: 'oct', k: 'c2VjcmV0' } }), /`dpopKey` is a symmetric \(oct\) JWK/],
    ['a public JWK', () => ({ dpop: true, dpopKey: dpopKey.publicJwk }), /`dpopKey` is a public JWK/],
    ['a string that is no key', () => ({ dpop: true, dpopKey: 'not a key' }), /`dpopKey` must be a PEM private key/],
  ])('refuses %s', (_what, overrides, message) => {
    shouldReject({ ...base, clientSecret: 's', ...overrides() }, message);
  });

  it('refuses a DPoP key that is a public CryptoKey', async () => {
    const { publicKey } = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
    shouldReject({ ...base, clientSecret: 's', dpop: true, dpopKey: publicKey }, /`dpopKey` is a public CryptoKey/);
  });

  describe('without dpopKey', () => {
    it('generates one key per process, with one warning that names dpopKey', () => {
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      try {
        relyingParty({ ...base, clientSecret: 's', dpop: true });
        relyingParty({ ...base, clientId: 'other-app', clientSecret: 's', dpop: true });
        expect(warn).toHaveBeenCalledTimes(1);
        expect(String(warn.mock.calls[0]?.[0])).toMatch(/`dpop` is on without `dpopKey`.*Set `dpopKey` to one key shared by every instance/);
      } finally {
        warn.mockRestore();
      }
    });
  });
});

describe('pushedAuthorizationRequests and requestObjects', () => {
  it.each([true, false, 'auto'])('accepts pushedAuthorizationRequests: %j', (value) => {
    expect(() => relyingParty({ ...base, clientSecret: 's', pushedAuthorizationRequests: value as boolean })).not.toThrow();
  });

  it('refuses other values', () => {
    shouldReject({ ...base, clientSecret: 's', pushedAuthorizationRequests: 'always' }, /`pushedAuthorizationRequests` must be true, false or 'auto'/);
    shouldReject({ ...base, clientSecret: 's', requestObjects: 1 }, /`requestObjects` must be true or false/);
  });

  it('requestObjects needs clientPrivateKey, with any clientAuthMethod', () => {
    shouldReject({ ...base, clientSecret: 's', requestObjects: true }, /`requestObjects` needs `clientPrivateKey`/);
    expect(() => relyingParty({ ...base, clientSecret: 's', requestObjects: true, clientPrivateKey: ec.jwk })).not.toThrow();
  });
});

describe("profile: 'fapi2'", () => {
  it('accepts a FAPI 2.0 client: private_key_jwt, DPoP, PS256/ES256/EdDSA keys', () => {
    expect(() => relyingParty(fapi2() as unknown as RelyingPartyOptions)).not.toThrow();
    expect(() => relyingParty(fapi2({ clientPrivateKey: ed.pem, dpopKey: ed.jwk, idTokenSigningAlg: 'EdDSA', requestObjects: true }) as unknown as RelyingPartyOptions)).not.toThrow();
  });

  it('signs with PS256, not RS256, with an RSA key', async () => {
    await expect(servedKey(fapi2({ clientPrivateKey: rsa.pem }))).resolves.toMatchObject({ alg: 'PS256', kty: 'RSA' });
  });

  it.each([
    [{ profile: 'fapi1' }, /`profile` must be 'fapi2'/],
    [{ clientAuthMethod: 'client_secret_basic', clientSecret: 's', clientPrivateKey: undefined }, /profile 'fapi2' requires clientAuthMethod: 'private_key_jwt' \(got "client_secret_basic"\); mutual TLS client authentication is not supported/],
    [{ clientAuthMethod: 'client_secret_jwt', clientSecret: 's', clientPrivateKey: undefined }, /requires clientAuthMethod: 'private_key_jwt' \(got "client_secret_jwt"\)/],
    [{ dpop: false, dpopKey: undefined }, /profile 'fapi2' requires sender-constrained tokens: set `dpop: true`/],
    [{ dpop: undefined, dpopKey: undefined }, /set `dpop: true`/],
    [{ pushedAuthorizationRequests: false }, /profile 'fapi2' requires pushed authorization requests: remove `pushedAuthorizationRequests: false`/],
    [{ idTokenSigningAlg: 'RS256' }, /profile 'fapi2' requires `idTokenSigningAlg` PS256, ES256 or EdDSA \(got RS256\)/],
    [{ idTokenSigningAlg: 'ES384' }, /requires `idTokenSigningAlg` PS256, ES256 or EdDSA \(got ES384\)/],
    [{ issuer: 'http://op.example.com' }, /`issuer` must use https:/],
    [{ baseUrl: 'http://app.example.com' }, /`baseUrl` must use https:/],
  ])('refuses %j', (overrides, message) => {
    shouldReject(fapi2(overrides), message);
  });

  it('refuses RS256 client keys and non-FAPI DPoP keys', async () => {
    shouldReject(fapi2({ clientPrivateKey: { ...rsa.jwk, alg: 'RS256' } }), /profile 'fapi2' allows PS256, ES256, EdDSA for client assertions and request objects; `clientPrivateKey` signs RS256/);
    shouldReject(fapi2({ clientPrivateKey: rsa.pem, clientAssertionSigningAlg: 'RS256' }), /`clientPrivateKey` signs RS256/);
    const p384 = await exportJWK(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey);
    shouldReject(fapi2({ dpopKey: p384 }), /profile 'fapi2' allows PS256, ES256, EdDSA for DPoP proofs; `dpopKey` signs ES384/);
  });

  it('accepts http: for a loopback issuer and app (a local sandbox)', () => {
    expect(() => relyingParty(fapi2({ issuer: 'http://127.0.0.1:3001', baseUrl: 'http://localhost:3000' }) as unknown as RelyingPartyOptions)).not.toThrow();
  });
});
