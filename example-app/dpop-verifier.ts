import type { Request } from 'express';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';

/**
 * How the demo API checks a DPoP-bound JWT access token (RFC 9449, RFC
 * 9068) in FAPI mode. oauth4webapi's resource-server validation
 * (`validateJwtAccessToken` with `requireDPoP`) does the cryptography and
 * the claims:
 *
 * - the access token: signature with the provider's keys, `typ: at+jwt`,
 *   `iss`, `aud` (this API), `exp`, and a `cnf.jkt` (it is bound to a key);
 * - the DPoP proof in the `DPoP` header: its signature with the public key
 *   it carries, whose thumbprint must be the token's `cnf.jkt` (so only the
 *   holder of the private key can use the token); `htm` and `htu` (this
 *   method and URL, as the client called it); `ath` (the hash of this very
 *   token); a recent `iat`;
 * - `Authorization: DPoP …`, never `Bearer`.
 *
 * What it leaves to the resource server, done here: a proof is accepted
 * once (`jti`), so a proof captured in transit cannot be replayed.
 */
export interface DpopVerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  /** Where the API is mounted, as clients call it (e.g. `http://127.0.0.1:3000/api`): a proof's `htu` is checked against it, never against the Host header. */
  readonly publicUrl: string;
  readonly httpTimeout: number;
}

/** The JWS algorithms the API accepts on tokens and proofs: those of the FAPI 2.0 Security Profile. */
export const DPOP_ALGS = ['PS256', 'ES256', 'EdDSA'];

/** How long a proof's `jti` is remembered: oauth4webapi refuses proofs whose `iat` is further off. */
const PROOF_MEMORY_MS = 5 * 60 * 1000;
/** At most this many remembered proofs; the oldest go first. */
const MAX_REMEMBERED_PROOFS = 10_000;

/** A refused token or proof, with the RFC 9449 error code for the `WWW-Authenticate: DPoP` challenge. */
export class DpopRefused extends Error {
  override readonly name = 'DpopRefused';
  constructor(
    readonly error: 'invalid_token' | 'invalid_dpop_proof',
    message: string,
  ) {
    super(message);
  }
}

/** The provider's metadata or keys could not be fetched: the provider is down, not the token bad. */
export class VerifierProviderUnavailable extends Error {
  override readonly name = 'VerifierProviderUnavailable';
}

function headersOf(req: Request): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) for (const item of value) headers.append(name, item);
  }
  return headers;
}

/** oauth4webapi's error as an answer: proof problems, token problems, or an unreachable provider. */
function refusal(err: unknown): Error {
  if (err instanceof TypeError && !(err instanceof oauth.OperationProcessingError)) return new VerifierProviderUnavailable('fetching the provider keys failed', { cause: err });
  if (err instanceof DOMException) return new VerifierProviderUnavailable('the provider keys did not arrive in time', { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof oauth.OperationProcessingError && err.cause instanceof Response) {
    return new VerifierProviderUnavailable(`the provider answered ${err.cause.status} for its keys`, { cause: err });
  }
  // the proof is missing or wrong, or made with another key than the token is bound to
  if (/DPoP|confirmation mismatch/.test(message)) return new DpopRefused('invalid_dpop_proof', message.replace(/"request" /, 'the request '));
  if (/"cnf"/.test(message)) return new DpopRefused('invalid_token', 'The access token is not bound to a DPoP key');
  if (/\bexp\b|timestamp/i.test(message)) return new DpopRefused('invalid_token', 'The access token expired');
  if (/\baud\b/.test(message)) return new DpopRefused('invalid_token', 'The access token was not issued for this API');
  return new DpopRefused('invalid_token', 'The access token is invalid');
}

/** Builds the verifier; it discovers the provider on first use (a failed discovery is retried by the next request). */
export function dpopVerifier(options: DpopVerifierOptions): (req: Request) => Promise<oauth.JWTAccessTokenClaims> {
  const issuer = new URL(options.issuer);
  const insecure = issuer.protocol === 'http:';
  const publicUrl = options.publicUrl.replace(/\/+$/, '');
  const jwksCache: oauth.JWKSCacheInput = {};
  const seenProofs = new Map<string, number>();
  let metadata: Promise<oauth.AuthorizationServer> | undefined;

  function authorizationServer(): Promise<oauth.AuthorizationServer> {
    metadata ??= oauth
      .discoveryRequest(issuer, { [oauth.allowInsecureRequests]: insecure, signal: AbortSignal.timeout(options.httpTimeout) })
      .then((response) => oauth.processDiscoveryResponse(issuer, response))
      .catch((err: unknown) => {
        metadata = undefined;
        throw new VerifierProviderUnavailable(`discovery of ${issuer.href} failed`, { cause: err });
      });
    return metadata;
  }

  function firstUse(jti: string): boolean {
    const now = Date.now();
    for (const [seen, expires] of seenProofs) {
      if (expires > now && seenProofs.size < MAX_REMEMBERED_PROOFS) break;
      seenProofs.delete(seen);
    }
    if (seenProofs.has(jti)) return false;
    seenProofs.set(jti, now + PROOF_MEMORY_MS);
    return true;
  }

  return async function verifyDpopBoundToken(req: Request): Promise<oauth.JWTAccessTokenClaims> {
    const as = await authorizationServer();
    // the URL the client called: the API's public address plus the path below it
    const request = new Request(`${publicUrl}${req.url}`, { method: req.method, headers: headersOf(req) });
    let claims: oauth.JWTAccessTokenClaims;
    try {
      claims = await oauth.validateJwtAccessToken(as, request, options.audience, {
        requireDPoP: true,
        signingAlgorithms: DPOP_ALGS,
        [oauth.jwksCache]: jwksCache,
        [oauth.allowInsecureRequests]: insecure,
        signal: AbortSignal.timeout(options.httpTimeout),
      });
    } catch (err) {
      throw refusal(err);
    }
    // the proof was verified above; only its jti is read here
    const { jti } = decodeJwt(req.get('dpop') ?? '');
    if (typeof jti !== 'string' || !firstUse(jti)) throw new DpopRefused('invalid_dpop_proof', 'This DPoP proof was already used');
    return claims;
  };
}
