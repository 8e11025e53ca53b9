import { createHash, randomUUID } from 'node:crypto';
import express from 'express';
import type { NextFunction, Request, Response, Router } from 'express';
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import { DPOP_ALGS, DpopRefused, dpopVerifier } from './dpop-verifier.js';

/**
 * The demo resource server: a bank's "accounts API". It knows nothing about
 * sessions or cookies; all it trusts is the access token in the
 * `Authorization: Bearer …` header, which it verifies itself:
 *
 * - the signature, with the provider's public keys from its `jwks_uri`
 *   (fetched once and cached by jose, refetched when an unknown `kid` shows up);
 * - `iss`: signed by *our* provider, not by any other one whose keys are valid;
 * - `aud`: issued *for this API*. Without this check, any token the
 *   provider issued for some other service (or for another app) would be
 *   accepted here; with it, a token leaked from elsewhere is useless here;
 * - `exp` (and `nbf`): not expired;
 * - `typ: at+jwt` (RFC 9068): an access token, so an ID token, which is also
 *   a JWT signed by the same provider, can never be used as one;
 * - the scope: the user consented to `accounts:read`.
 *
 * Failures answer 401 (no or bad token) or 403 (valid token, missing
 * scope) with the `WWW-Authenticate: Bearer …` header of RFC 6750, which
 * tells the client what went wrong.
 *
 * `POST /payments` wants more: the token must show Strong Customer
 * Authentication (`acr`) done at most five minutes ago (`auth_time`), or
 * it answers 401 with an RFC 9470 `insufficient_user_authentication`
 * challenge naming the `acr_values` and `max_age` it needs; and the user
 * must have consented to this very payment (its `payments:…` scope), or it
 * answers 403 `insufficient_scope` naming that scope.
 * With `dpop` (the FAPI 2.0 mode) it accepts only DPoP-bound tokens sent
 * as `Authorization: DPoP …` with a proof of the key they are bound to,
 * checked by oauth4webapi (see `dpop-verifier.ts`); its challenges are
 * `WWW-Authenticate: DPoP …` (RFC 9449).
 */
export interface AccountsApiOptions {
  /** The provider's issuer identifier; tokens must carry it as `iss`. */
  readonly issuer: string;
  /** This API's identifier (the resource indicator); tokens must carry it in `aud`. */
  readonly audience: string;
  /** The provider's JWKS URL. Default is the `jwks_uri` from the issuer's discovery document. */
  readonly jwksUri?: string;
  /** Scope needed to list accounts. Default is `'accounts:read'`. */
  readonly requiredScope?: string;
  /** Upper bound in milliseconds for discovery and JWKS requests. Default is `5000`. */
  readonly httpTimeout?: number;
  /**
   * Accept DPoP-bound tokens only. `publicUrl` is where the API is mounted
   * as clients call it (e.g. `http://127.0.0.1:3000/api`), for the proofs'
   * `htu`. Default: bearer tokens.
   */
  readonly dpop?: { readonly publicUrl: string } | undefined;
  /** The `acr` a payment needs. Default is `'urn:openbanking:psd2:sca'`. */
  readonly paymentAcr?: string;
  /** Seconds: how long ago the user may have authenticated for a payment. Default is `300`. */
  readonly paymentMaxAge?: number;
}

/** A payment the API made. */
export interface DemoPaymentReceipt {
  id: string;
  owner: string;
  payee: string;
  currency: string;
  amount: string;
  status: 'accepted';
}

const REALM = 'demo-api';

/** What a verified token tells the route handlers. */
interface TokenLocals {
  token: JWTPayload;
}

/**
 * RFC 6750 §3: the Bearer challenge, optionally with an error code, its
 * description and the needed scope; RFC 9470 adds `acr_values` and `max_age`.
 */
function challenge(params: { error?: string | undefined; description?: string | undefined; scope?: string | undefined; acrValues?: string; maxAge?: number }): string {
  const parts = [`realm="${REALM}"`];
  if (params.error) parts.push(`error="${params.error}"`);
  // quoted-string values: the descriptions, scopes and acr values here never contain quotes or backslashes
  if (params.description) parts.push(`error_description="${params.description}"`);
  if (params.scope) parts.push(`scope="${params.scope}"`);
  if (params.acrValues) parts.push(`acr_values="${params.acrValues}"`);
  if (params.maxAge !== undefined) parts.push(`max_age="${params.maxAge}"`);
  return `Bearer ${parts.join(', ')}`;
}

function deny(res: Response, status: 400 | 401 | 403, error: string | undefined, description: string, scope?: string): void {
  res.set('WWW-Authenticate', challenge({ error, description: error ? description : undefined, scope }));
  res.status(status).json({ error: error ?? 'unauthenticated', error_description: description });
}

/** RFC 9470 §3: the token is fine, the authentication behind it is not strong or recent enough. */
function askForStepUp(res: Response, description: string, acrValues: string, maxAge: number): void {
  res.set('WWW-Authenticate', challenge({ error: 'insufficient_user_authentication', description, acrValues, maxAge }));
  res.status(401).json({ error: 'insufficient_user_authentication', error_description: description });
}

/** The payment a request body describes, or `undefined` when it is not one. */
function paymentOf(body: unknown): { payee: string; currency: string; amount: string } | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { payee, currency, amount } = body as Record<string, unknown>;
  if (typeof payee !== 'string' || !/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(payee) || payee.length > 60) return undefined;
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) return undefined;
  if (typeof amount !== 'string' || !/^\d{1,9}\.\d{2}$/.test(amount)) return undefined;
  return { payee, currency, amount };
}

/**
 * The token from `Authorization: Bearer <token>`: `undefined` when there is
 * none, `null` when the header is malformed. Only the header is read, never
 * the query string, where tokens end up in logs and browser history.
 */
function bearerToken(req: Request): string | undefined | null {
  const header = req.get('authorization');
  // another scheme (Basic, …) carries no bearer token at all
  if (header === undefined || !/^Bearer(\s|$)/i.test(header)) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  return match?.[1] ?? null;
}

function describeVerificationError(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'The access token expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'The access token was not issued for this API';
    if (err.claim === 'iss') return 'The access token was not issued by the expected provider';
    if (err.claim === 'typ') return 'The token is not an access token';
    return `The access token claim ${err.claim} is invalid`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return 'The access token signature is invalid';
  }
  return 'The access token is malformed';
}

/** Keys or metadata could not be fetched: the provider is down, not the token bad. */
function isProviderUnavailable(err: unknown): boolean {
  if (err instanceof ProviderUnavailable || err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return true;
  // jose's generic JOSEError: the JWKS answer was not 200 or not JSON; its subclasses are about the token
  if (err instanceof errors.JOSEError) return err.code === 'ERR_JOSE_GENERIC';
  // anything else comes from fetching the keys: connection refused, reset, DNS
  return true;
}

class ProviderUnavailable extends Error {
  override readonly name = 'ProviderUnavailable';
}

/** RFC 9449 §7.1: the DPoP challenge, with the algorithms accepted and, when there was a token, what was wrong. */
function denyDpop(res: Response, error: string | undefined, description: string): void {
  const parts = [`algs="${DPOP_ALGS.join(' ')}"`];
  // a quoted-string: the library's messages may hold quotes
  if (error) parts.push(`error="${error}"`, `error_description="${description.replace(/["\\]/g, '')}"`);
  res.set('WWW-Authenticate', `DPoP ${parts.join(', ')}`);
  res.status(401).json({ error: error ?? 'unauthenticated', error_description: description });
}

/** The demo API's Express router: `GET /accounts`. Mount it where `audience` points, e.g. `app.use('/api', accountsApi(…))`. */
export function accountsApi(options: AccountsApiOptions): Router {
  const { issuer, audience, requiredScope = 'accounts:read', httpTimeout = 5000, paymentAcr = 'urn:openbanking:psd2:sca', paymentMaxAge = 300 } = options;
  const verifyDpop = options.dpop && dpopVerifier({ issuer, audience, publicUrl: options.dpop.publicUrl, httpTimeout });

  // discovered on first use and kept; a failed lookup is forgotten so the next request retries
  let keySet: Promise<JWTVerifyGetKey> | undefined;
  function getKeySet(): Promise<JWTVerifyGetKey> {
    keySet ??= discoverJwksUri().then((jwksUri) => createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: httpTimeout }));
    keySet.catch(() => {
      keySet = undefined;
    });
    return keySet;
  }

  async function discoverJwksUri(): Promise<string> {
    if (options.jwksUri !== undefined) return options.jwksUri;
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let metadata: unknown;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(httpTimeout), headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      metadata = await response.json();
    } catch (cause) {
      throw new ProviderUnavailable(`discovery at ${url} failed`, { cause });
    }
    const { issuer: discovered, jwks_uri: jwksUri } = (metadata ?? {}) as Record<string, unknown>;
    if (discovered !== issuer || typeof jwksUri !== 'string') {
      throw new ProviderUnavailable(`discovery at ${url} returned another issuer or no jwks_uri`);
    }
    return jwksUri;
  }

  async function verifyDpopBoundToken(req: Request, res: Response<unknown, TokenLocals>, next: NextFunction): Promise<void> {
    if (!verifyDpop) return next(new Error('verifyDpopBoundToken without dpop'));
    if (req.get('authorization') === undefined) return denyDpop(res, undefined, 'A DPoP-bound access token is required: Authorization: DPoP <token>, with a DPoP proof');
    try {
      res.locals.token = await verifyDpop(req);
      next();
    } catch (err) {
      if (err instanceof DpopRefused) return denyDpop(res, err.error, err.message);
      res.set('Retry-After', '5');
      res.status(503).json({ error: 'temporarily_unavailable', error_description: 'Cannot reach the provider to verify tokens' });
    }
  }

  async function verifyAccessToken(req: Request, res: Response<unknown, TokenLocals>, next: NextFunction): Promise<void> {
    if (verifyDpop) return verifyDpopBoundToken(req, res, next);
    const token = bearerToken(req);
    if (token === undefined) {
      // RFC 6750 §3.1: no credentials at all → a bare challenge, no error code
      return deny(res, 401, undefined, 'An access token is required: Authorization: Bearer <token>');
    }
    if (token === null) return deny(res, 400, 'invalid_request', 'Malformed Authorization header');
    try {
      const { payload } = await jwtVerify(token, await getKeySet(), {
        issuer,
        audience,
        typ: 'at+jwt',
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
        requiredClaims: ['exp', 'sub'],
        clockTolerance: 5,
      });
      res.locals.token = payload;
      next();
    } catch (err) {
      if (isProviderUnavailable(err)) {
        res.set('Retry-After', '5');
        res.status(503).json({ error: 'temporarily_unavailable', error_description: 'Cannot reach the provider to verify tokens' });
        return;
      }
      deny(res, 401, 'invalid_token', describeVerificationError(err));
    }
  }

  function requireScope(scope: string) {
    return function requireScopeHandler(_req: Request, res: Response<unknown, TokenLocals>, next: NextFunction): void {
      const granted = typeof res.locals.token.scope === 'string' ? res.locals.token.scope.split(' ') : [];
      if (!granted.includes(scope)) {
        return deny(res, 403, 'insufficient_scope', `This call needs the ${scope} scope`, scope);
      }
      next();
    };
  }

  const router = express.Router();
  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  router.get('/accounts', verifyAccessToken, requireScope(requiredScope), function listAccounts(_req, res: Response<unknown, TokenLocals>) {
    const owner = String(res.locals.token.sub);
    res.json({ owner, accounts: fakeAccountsOf(owner) });
  });

  /** How the user authenticated, from the token (RFC 9068 §2.2.1): SCA, at most `paymentMaxAge` ago. */
  function requireStrongRecentAuthentication(_req: Request, res: Response<unknown, TokenLocals>, next: NextFunction): void {
    const { acr, auth_time: authTime } = res.locals.token;
    if (acr !== paymentAcr) return askForStepUp(res, 'A payment needs Strong Customer Authentication', paymentAcr, paymentMaxAge);
    // the same 5 s of clock tolerance as for the token's own times
    if (typeof authTime !== 'number' || Date.now() / 1000 - authTime > paymentMaxAge + 5) {
      return askForStepUp(res, 'A payment needs a recent authentication', paymentAcr, paymentMaxAge);
    }
    next();
  }

  router.post(
    '/payments',
    express.json({ limit: '2kb' }),
    verifyAccessToken,
    requireStrongRecentAuthentication,
    function makePayment(req: Request, res: Response<unknown, TokenLocals>) {
      const payment = paymentOf(req.body);
      if (payment === undefined) {
        res.status(400).json({ error: 'invalid_request', error_description: 'The body must be { payee, currency, amount } such as { "payee": "acme-energy", "currency": "GBP", "amount": "25.00" }' });
        return;
      }
      // the user consented to this payment, and no other, at the provider
      const scope = `payments:${payment.payee}:${payment.currency}:${payment.amount}`;
      const granted = typeof res.locals.token.scope === 'string' ? res.locals.token.scope.split(' ') : [];
      if (!granted.includes(scope)) return deny(res, 403, 'insufficient_scope', 'The user did not consent to this payment', scope);
      const receipt: DemoPaymentReceipt = { id: `pay_${randomUUID()}`, owner: String(res.locals.token.sub), ...payment, status: 'accepted' };
      res.status(201).json(receipt);
    },
  );
  router.use((_req, res) => {
    res.status(404).json({ error: 'not_found' });
  });
  // a body that is not JSON, or too large: the client's mistake, answered as JSON
  router.use(function apiErrors(err: unknown, _req: Request, res: Response, next: NextFunction) {
    const status = typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number' ? err.status : 500;
    if (status < 400 || status >= 500) return next(err);
    res.status(status).json({ error: 'invalid_request', error_description: 'The request body is not valid JSON of an acceptable size' });
  });
  return router;
}

/** A bank account as the demo API returns it. */
export interface DemoAccount {
  id: string;
  name: string;
  iban: string;
  currency: string;
  /** Balance in minor units (cents), as banking APIs do to avoid floating point. */
  balanceMinor: number;
}

/** Two fake accounts per user, different per user but stable: derived from `sub`. */
function fakeAccountsOf(sub: string): DemoAccount[] {
  const digest = createHash('sha256').update(sub).digest();
  const number = (offset: number) => digest.readUInt32BE(offset);
  const ibanDigits = String(number(0) % 1e10).padStart(10, '0');
  return [
    {
      id: `acc-${digest.subarray(8, 12).toString('hex')}-1`,
      name: 'Everyday current account',
      iban: `XS00 SAND 0000 ${ibanDigits.slice(0, 4)} ${ibanDigits.slice(4, 8)} ${ibanDigits.slice(8)}`,
      currency: 'EUR',
      balanceMinor: number(4) % 500_000,
    },
    {
      id: `acc-${digest.subarray(8, 12).toString('hex')}-2`,
      name: 'Rainy-day savings',
      iban: `XS00 SAND 0001 ${ibanDigits.slice(0, 4)} ${ibanDigits.slice(4, 8)} ${ibanDigits.slice(8)}`,
      currency: 'EUR',
      balanceMinor: number(12) % 2_500_000,
    },
  ];
}
