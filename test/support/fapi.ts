/**
 * Keys and client registrations for the PAR / private_key_jwt / DPoP / JAR
 * tests: a client key in every format the options accept, and the client
 * metadata the test provider registers for it.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import express from 'express';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, importPKCS8 } from 'jose';
import type { JWK } from 'jose';
import type { ClientMetadata } from 'oidc-provider';
import { accountsApi } from '../../example-app/api.js';
import type { ProxiedRequest } from '../fixtures/provider.js';
import { baseUrl, serve } from './rp-app.js';

/** One key pair in the formats the options accept, and its public JWK for the provider. */
export interface TestKey {
  readonly alg: 'RS256' | 'PS256' | 'ES256' | 'EdDSA';
  readonly kid: string;
  /** PKCS#8 PEM */
  readonly pem: string;
  /** private JWK with `kid` and `alg` */
  readonly jwk: JWK;
  /** public JWK with `kid`, `alg` and `use`, as registered */
  readonly publicJwk: JWK;
  cryptoKey(): Promise<CryptoKey>;
}

function keyObjects(alg: TestKey['alg']): { privateKey: KeyObject; publicKey: KeyObject } {
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (alg === 'EdDSA') return generateKeyPairSync('ed25519');
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

/** A fresh key pair for `alg`, named `kid`. */
export async function testKey(alg: TestKey['alg'], kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = keyObjects(alg);
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid, alg };
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return {
    alg,
    kid,
    pem,
    jwk,
    publicJwk,
    cryptoKey: () => importPKCS8(pem, alg, { extractable: false }),
  };
}

/** Client metadata for the test provider: code flow with refresh, the test app's redirect URIs, `metadata` on top. */
export function testClient(clientId: string, metadata: Partial<ClientMetadata>): ClientMetadata {
  return {
    client_id: clientId,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [`${baseUrl}/callback`],
    post_logout_redirect_uris: [`${baseUrl}/`],
    ...metadata,
  };
}

/** A `private_key_jwt` client whose public keys are `keys`. */
export function privateKeyJwtClient(clientId: string, keys: readonly TestKey[], metadata: Partial<ClientMetadata> = {}): ClientMetadata {
  return testClient(clientId, {
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: keys.map((key) => key.publicJwk) },
    ...metadata,
  });
}

/** A JWT's header and claims, decoded (the provider or the API verified it; the tests only read it). */
export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

export function decoded(jwt: string | undefined): DecodedJwt {
  if (jwt === undefined) throw new Error('no JWT');
  return { header: decodeProtectedHeader(jwt) as Record<string, unknown>, claims: decodeJwt(jwt) as Record<string, unknown> };
}

/** The DPoP proof a request that reached the provider carried. */
export function proofOf(request: ProxiedRequest): DecodedJwt {
  const header = request.headers.dpop;
  return decoded(typeof header === 'string' ? header : undefined);
}

/** The RFC 7638 thumbprint of a public JWK. */
export function thumbprint(key: TestKey): Promise<string> {
  return calculateJwkThumbprint(key.publicJwk);
}

/** An API (the demo's accounts API) served on loopback, checking DPoP-bound JWT access tokens for `audience`. */
export async function serveDpopApi(issuer: string, audience: string): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  // the API checks proofs against its public URL, known once it listens
  const served = await serve(app);
  app.use('/api', accountsApi({ issuer, audience, dpop: { publicUrl: `${served.origin}/api` }, httpTimeout: 2000 }));
  return { url: `${served.origin}/api/accounts`, close: () => served.close() };
}
