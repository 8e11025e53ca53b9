import * as client from 'openid-client';
import createDebug from 'debug';
import { clientAuthentication } from './client-auth.js';
import { dpopHandle } from './dpop.js';
import { RelyingPartyError } from './errors.js';
import type { Config } from './options.js';
import { providerFetch } from './provider-fetch.js';
import { checkProviderRequirements } from './provider-requirements.js';

const debug = createDebug('express-relying-party:provider');

/** Access to the provider's openid-client `Configuration`, discovered once per process. */
export interface Provider {
  /** The configuration, discovering it on first use; a failed discovery is retried by the next call. */
  get(): Promise<client.Configuration>;
  /** With `dpop`: the option that makes an openid-client call send DPoP proofs; else `undefined`. */
  dpop(): Promise<client.DPoPOptions | undefined>;
}

/**
 * openid-client refetches the JWKS for a token whose `kid` it does not know
 * only once its copy is this old (seconds); younger copies refuse the token.
 */
const OPENID_CLIENT_REFETCH_AGE_S = 60;
/** An unknown `kid` makes us refetch the JWKS at most this often (seconds), so forged kids cannot make the app hammer the provider. */
export const JWKS_REFETCH_INTERVAL_S = 10;

const epochSeconds = () => Math.floor(Date.now() / 1000);

/** Creates the lazy, cached, retrying discovery for one `relyingParty()` instance. */
export function createProvider(config: Config): Provider {
  let configuration: client.Configuration | undefined;
  let pending: Promise<client.Configuration> | undefined;
  const fetcher = providerFetch(config);
  const auth = clientAuthentication(config);
  const clientMetadata: Partial<client.ClientMetadata> = {
    id_token_signed_response_alg: config.idTokenSigningAlg,
    [client.clockTolerance]: config.clockTolerance,
  };
  const execute = [client.enableNonRepudiationChecks];
  if (config.allowInsecureRequests) execute.push(client.allowInsecureRequests);

  async function discover(): Promise<client.Configuration> {
    debug('discovering %s', config.issuer.href);
    try {
      const discovered = await client.discovery(config.issuer, config.clientId, clientMetadata, auth, {
        execute,
        timeout: config.httpTimeout / 1000,
        [client.customFetch]: fetcher,
      });
      debug('discovered %s', config.issuer.href);
      checkProviderRequirements(config, discovered.serverMetadata());
      return discovered;
    } catch (err) {
      if (err instanceof RelyingPartyError) throw err;
      throw discoveryError(err, config);
    }
  }

  /**
   * Key rotation: a provider that starts signing with a new key is seen by
   * an ID token whose `kid` is not in the cached JWKS. openid-client refetches
   * the JWKS for it only when its copy is a minute old, so for a minute
   * every login would fail. Once the copy is {@link JWKS_REFETCH_INTERVAL_S}
   * old, the configuration is replaced by one that holds the same keys
   * (openid-client's exported JWKS cache) dated a minute back: known keys
   * are still used without a request, and an unknown `kid` makes
   * openid-client refetch at once. After that refetch the copy is young
   * again, so the next refetch is at least the interval later. A key the
   * provider withdrew is gone from the refetched set and stays refused.
   */
  function withJwksRefetch(current: client.Configuration): client.Configuration {
    const cache = client.getJwksCache(current);
    if (cache === undefined) return current;
    const age = epochSeconds() - cache.uat;
    if (age < JWKS_REFETCH_INTERVAL_S || age >= OPENID_CLIENT_REFETCH_AGE_S) return current;
    const next = new client.Configuration(current.serverMetadata(), config.clientId, clientMetadata, auth);
    next.timeout = current.timeout;
    next[client.customFetch] = fetcher;
    for (const extension of execute) extension(next);
    client.setJwksCache(next, { jwks: cache.jwks, uat: epochSeconds() - OPENID_CLIENT_REFETCH_AGE_S });
    debug('JWKS is %d s old: an unknown kid will refetch it', age);
    return next;
  }

  const provider: Provider = {
    async dpop() {
      if (config.dpopKey === undefined) return undefined;
      return { DPoP: await dpopHandle(config.dpopKey, await provider.get()) };
    },
    get() {
      if (configuration) {
        configuration = withJwksRefetch(configuration);
        return Promise.resolve(configuration);
      }
      // one discovery at a time; a failure is forgotten so the next request retries
      pending ??= discover().then(
        (discovered) => {
          configuration = discovered;
          pending = undefined;
          return discovered;
        },
        (err: unknown) => {
          pending = undefined;
          debug('discovery failed: %s', err instanceof Error ? err.message : String(err));
          throw err;
        },
      );
      return pending;
    },
  };
  return provider;
}

/** Where openid-client looks for the discovery document of `issuer` (RFC 8414 §3 style for OpenID: appended to the path). */
export function discoveryUrl(issuer: URL): string {
  return `${issuer.href.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/**
 * A failed discovery as an error that says what to fix: the configured
 * issuer and the one the provider names, or the URL that was tried.
 */
function discoveryError(err: unknown, config: Config): RelyingPartyError {
  const url = discoveryUrl(config.issuer);
  const detail = innermostCoded(err);
  const cause: unknown = detail instanceof Error ? detail.cause : undefined;
  if (
    errorCode(detail) === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' &&
    isRecord(cause) &&
    cause.attribute === 'issuer' &&
    isRecord(cause.body) &&
    typeof cause.body.issuer === 'string'
  ) {
    return new RelyingPartyError(
      'provider_misconfigured',
      `The provider's discovery document (${url}) names the issuer "${printable(cause.body.issuer)}", but the configured \`issuer\` is "${config.issuer.href}". ` +
        'They must be the same URL (scheme, host, port and path): set `issuer` to the provider\'s issuer.',
      { cause: err },
    );
  }
  if (cause instanceof Response && cause.status < 500) {
    const contentType = cause.headers.get('content-type')?.split(';')[0]?.trim();
    const answer = cause.status === 200 ? `a ${printable(contentType ?? 'untyped')} document, not JSON` : `HTTP ${cause.status}`;
    return new RelyingPartyError(
      'provider_misconfigured',
      `Discovery of the provider failed: ${url} answered ${answer}. ` +
        '`issuer` must be the provider\'s issuer URL (the discovery document is read from <issuer>/.well-known/openid-configuration), not the URL of the discovery document or of a login page.',
      { cause: err },
    );
  }
  const mapped = providerError(err, `Discovery of the provider failed (${url})`);
  return mapped;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** A value from the provider, fit for a message: printable ASCII, bounded. */
function printable(value: string): string {
  return value.replace(/[^\x20-\x7E]/g, '?').slice(0, 200);
}

function findRelyingPartyError(err: unknown): RelyingPartyError | undefined {
  for (let current = err, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    if (current instanceof RelyingPartyError) return current;
  }
  return undefined;
}

function errorCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/**
 * Maps anything openid-client throws for a provider call to a
 * `RelyingPartyError` with the documented code and status, keeping the
 * original as `cause`. `context` starts the message ("Token exchange failed").
 */
export function providerError(err: unknown, context: string): RelyingPartyError {
  const coded = findRelyingPartyError(err);
  if (coded) return coded;

  if (err instanceof client.AuthorizationResponseError) {
    const providerError = err.error;
    if (providerError === 'access_denied') {
      return new RelyingPartyError('access_denied', 'The provider denied the login (access_denied).', { cause: err, providerError });
    }
    const status = providerError === 'temporarily_unavailable' ? 503 : providerError === 'server_error' ? 502 : 400;
    return new RelyingPartyError('authorization_error', `The provider refused the login (${sanitize(providerError)}).`, {
      cause: err,
      providerError,
      status,
    });
  }

  if (err instanceof client.ResponseBodyError) {
    const providerError = err.error;
    if (err.status >= 500) {
      return new RelyingPartyError('provider_error', `${context}: the provider answered ${err.status}.`, { cause: err, providerError });
    }
    if (providerError === 'invalid_client' || providerError === 'unauthorized_client') {
      // unauthorized_client: some providers (Glewlwyd) answer it, not invalid_client, to credentials they cannot match
      return new RelyingPartyError(
        'client_authentication_failed',
        `${context}: the provider rejected the client (${providerError}). Check clientId and clientSecret, and that clientAuthMethod is the token endpoint authentication the client is registered with at the provider.`,
        { cause: err, providerError },
      );
    }
    return new RelyingPartyError('token_request_rejected', `${context}: the provider rejected the request (${sanitize(providerError)}).`, {
      cause: err,
      providerError,
    });
  }

  if (err instanceof client.WWWAuthenticateChallengeError) {
    // a token endpoint answers 401 with a challenge when it does not accept the client's credentials
    if (err.status === 401) {
      return new RelyingPartyError('client_authentication_failed', `${context}: the provider rejected the client credentials. Check clientId, clientSecret and clientAuthMethod.`, { cause: err, providerError: 'invalid_client' });
    }
    return new RelyingPartyError('provider_error', `${context}: the provider answered ${err.status}.`, { cause: err });
  }

  // openid-client wraps the error that says what went wrong in a generic ClientError
  const detail = innermostCoded(err);
  if (errorCode(detail) === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' && comparedAttribute(detail) === 'sub') {
    // only the userinfo response is compared on `sub` (ID token claims are JWT claim comparisons)
    return new RelyingPartyError('userinfo_sub_mismatch', `${context}: the userinfo response is about another user (its \`sub\` is not the ID token's).`, { cause: err });
  }
  switch (errorCode(detail)) {
    case 'OAUTH_TIMEOUT':
    case 'OAUTH_ABORT':
      return new RelyingPartyError('provider_timeout', `${context}: the provider did not answer in time.`, { cause: err });
    case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
    case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
    case 'OAUTH_KEY_SELECTION_FAILED':
      return idTokenInvalid(err, detail);
    case 'OAUTH_INVALID_RESPONSE':
    case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
      if (isAuthorizationResponseProblem(detail)) {
        return new RelyingPartyError('callback_invalid', `The callback is invalid: ${messageOf(detail)}.`, { cause: err });
      }
      if (/\bJWT\b|ID Token|id_token/.test(messageOf(detail))) return idTokenInvalid(err, detail);
      break;
  }
  const answer: unknown = detail instanceof Error ? detail.cause : undefined;
  if (answer instanceof Response && answer.status === 400) {
    // a refusal without the OAuth error body (Glewlwyd answers a refused refresh token with an empty 400)
    return new RelyingPartyError('token_request_rejected', `${context}: the provider rejected the request (HTTP 400 without an OAuth error).`, { cause: err });
  }
  if (err instanceof TypeError && !(err instanceof client.ClientError)) {
    // fetch() rejects with a TypeError when the connection fails outright
    return new RelyingPartyError('provider_unreachable', `${context}: the provider could not be reached.`, { cause: err });
  }
  return new RelyingPartyError('provider_error', `${context}: the provider's answer was not usable.`, { cause: err });
}

/** The attribute a failed JSON comparison was about (`issuer`, `sub`, …), as openid-client reports it. */
function comparedAttribute(err: unknown): unknown {
  const cause: unknown = err instanceof Error ? err.cause : undefined;
  return typeof cause === 'object' && cause !== null && 'attribute' in cause ? cause.attribute : undefined;
}

function idTokenInvalid(err: unknown, detail: unknown): RelyingPartyError {
  return new RelyingPartyError('id_token_invalid', `The ID token was rejected: ${messageOf(detail)}.`, { cause: err });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : 'unknown reason';
}

/** The deepest error in the cause chain that still carries a `code`. */
function innermostCoded(err: unknown): unknown {
  let found = err;
  for (let current = err, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    if (errorCode(current) !== undefined) found = current;
  }
  return found;
}

/** openid-client attaches the authorization response parameters to errors about the callback itself. */
function isAuthorizationResponseProblem(err: unknown): boolean {
  const cause: unknown = err instanceof Error ? err.cause : undefined;
  return (
    cause instanceof URLSearchParams ||
    (typeof cause === 'object' && cause !== null && 'parameters' in cause && cause.parameters instanceof URLSearchParams)
  );
}

/** Provider error values go into messages; keep them to the RFC 6749 character set and short. */
function sanitize(value: string): string {
  return value.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '').slice(0, 64);
}
