import * as client from 'openid-client';
import createDebug from 'debug';
import { RelyingPartyError } from './errors.js';
import type { Config } from './options.js';

const debug = createDebug('express-relying-party:provider');

/** Provider answers larger than this are refused; discovery documents and JWKS are a few KB. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Access to the provider's openid-client `Configuration`, discovered once per process. */
export interface Provider {
  /** The configuration, discovering it on first use; a failed discovery is retried by the next call. */
  get(): Promise<client.Configuration>;
}

/**
 * `fetch` for every call openid-client makes to the provider: bounded by
 * `httpTimeout` (openid-client's signal) and by {@link MAX_RESPONSE_BYTES},
 * with transport failures turned into coded errors. Bodies are read here, so
 * a provider that sends headers and then stalls still times out.
 */
function providerFetch(config: Config): client.CustomFetch {
  return async function fetchFromProvider(url, options) {
    const signal = options.signal ?? AbortSignal.timeout(config.httpTimeout);
    const target = new URL(url);
    const where = `${target.origin}${target.pathname}`;
    let response: Response;
    let body: Uint8Array<ArrayBuffer> | null;
    try {
      response = await fetch(url, { ...options, body: options.body as BodyInit | null | undefined, signal });
      body = await readCapped(response, where);
    } catch (err) {
      if (err instanceof RelyingPartyError) throw err;
      if (signal.aborted) {
        throw new RelyingPartyError('provider_timeout', `The provider did not answer within ${config.httpTimeout} ms (${where}).`, { cause: err });
      }
      throw new RelyingPartyError('provider_unreachable', `The provider could not be reached (${where}).`, { cause: err });
    }
    debug('%s %s → %d (%d bytes)', options.method, where, response.status, body?.byteLength ?? 0);
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

async function readCapped(response: Response, where: string): Promise<Uint8Array<ArrayBuffer> | null> {
  if (response.body === null || [204, 205, 304].includes(response.status)) {
    await response.body?.cancel();
    return null;
  }
  const tooLarge = () =>
    new RelyingPartyError('provider_response_too_large', `The provider's answer exceeds ${MAX_RESPONSE_BYTES} bytes (${where}).`);
  const declared = response.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared)) {
    if (Number(declared) > MAX_RESPONSE_BYTES) {
      await response.body.cancel();
      throw tooLarge();
    }
    // fetch holds the body to its declared length: read it in one go
    return new Uint8Array(await response.arrayBuffer());
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function clientAuthentication(config: Config): client.ClientAuth {
  switch (config.clientAuthMethod) {
    case 'client_secret_post':
      return client.ClientSecretPost(config.clientSecret);
    case 'none':
      return client.None();
    default:
      return client.ClientSecretBasic(config.clientSecret);
  }
}

/** Creates the lazy, cached, retrying discovery for one `relyingParty()` instance. */
export function createProvider(config: Config): Provider {
  let configuration: client.Configuration | undefined;
  let pending: Promise<client.Configuration> | undefined;

  async function discover(): Promise<client.Configuration> {
    debug('discovering %s', config.issuer.href);
    const execute = [client.enableNonRepudiationChecks];
    if (config.allowInsecureRequests) execute.push(client.allowInsecureRequests);
    try {
      const discovered = await client.discovery(
        config.issuer,
        config.clientId,
        { id_token_signed_response_alg: config.idTokenSigningAlg },
        clientAuthentication(config),
        { execute, timeout: config.httpTimeout / 1000, [client.customFetch]: providerFetch(config) },
      );
      debug('discovered %s', config.issuer.href);
      return discovered;
    } catch (err) {
      throw providerError(err, 'Discovery of the provider failed');
    }
  }

  return {
    get() {
      if (configuration) return Promise.resolve(configuration);
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
    if (providerError === 'invalid_client') {
      return new RelyingPartyError('client_authentication_failed', `${context}: the provider rejected the client credentials (invalid_client). Check clientId, clientSecret and clientAuthMethod.`, { cause: err, providerError });
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
  if (err instanceof TypeError && !(err instanceof client.ClientError)) {
    // fetch() rejects with a TypeError when the connection fails outright
    return new RelyingPartyError('provider_unreachable', `${context}: the provider could not be reached.`, { cause: err });
  }
  return new RelyingPartyError('provider_error', `${context}: the provider's answer was not usable.`, { cause: err });
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
