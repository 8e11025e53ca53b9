/**
 * Every error this library produces, by `code`. Match on `code`, not on the
 * message: messages are for people and may change.
 *
 * | code | status | meaning |
 * |---|---|---|
 * | `invalid_options` | 500 | `relyingParty()` / `requiresAuth()` was called with invalid options, or mounted without being called; or, at the first login, the provider's metadata cannot satisfy the options (PAR, algorithms, client authentication method) |
 * | `session_missing` | 500 | no `req.session`: `express-session` is not mounted before `relyingParty()` |
 * | `not_mounted` | 500 | `requiresAuth()` ran on a request that did not pass `relyingParty()` |
 * | `session_store_error` | 503 | the session store failed to load, regenerate or save the session |
 * | `state_missing` | 400 | the callback carries no (or more than one) `state` parameter |
 * | `state_unknown` | 400 | no pending login in this session matches `state`: forged, replayed, from another browser, or the session expired |
 * | `login_expired` | 400 | the pending login is older than `loginTimeout` |
 * | `access_denied` | 403 | the provider answered `error=access_denied` (the user declined, or policy refused) |
 * | `authorization_error` | 400 | the provider answered the authorization request with another `error=` (see `providerError`) |
 * | `callback_invalid` | 400 | the callback's parameters are wrong (no `code`, `iss` mismatch, …) |
 * | `token_request_rejected` | 400 | the token endpoint refused the code (`invalid_grant`: used, expired or foreign code) |
 * | `client_authentication_failed` | 500 | the token endpoint refused the client (`invalid_client`, `unauthorized_client`): check `clientId`/`clientSecret`/`clientAuthMethod` |
 * | `id_token_invalid` | 400 | the ID token is missing, or its signature, `alg`, `iss`, `aud`, `exp` or `nonce` is wrong |
 * | `unauthenticated` | 401 | `req.auth.fetch()` / `fetchUserInfo()` / `refresh()` without a signed-in session |
 * | `refresh_token_missing` | 401 | `req.auth.refresh()` but the provider issued no refresh token |
 * | `access_token_rejected` | 401 | the provider rejected the access token (userinfo) even after a refresh |
 * | `login_refused` | 403 | the app's `onLogin` hook refused the login (throw it from the hook): nothing was signed in |
 * | `login_hook_failed` | 500 | the app's `onLogin` hook failed with another error (kept as `cause`): nothing was signed in |
 * | `logout_forbidden` | 403 | a logout request the browser marks as coming from another site (`Sec-Fetch-Site`, `Origin`): nobody was signed out |
 * | `logout_token_invalid` | 400 | a back-channel logout token failed validation (answered to the provider, not via `next`) |
 * | `provider_error` | 502 | the provider answered with a 5xx, garbage, or a response that is not OAuth-conformant |
 * | `provider_unreachable` | 503 | the provider could not be reached (connection refused, reset, DNS) |
 * | `provider_timeout` | 504 | the provider did not answer within `httpTimeout` |
 * | `provider_response_too_large` | 502 | the provider's answer was larger than the response size cap |
 * | `provider_misconfigured` | 502 | the provider and the configuration disagree: discovery names another issuer than `issuer`, or there is no discovery document at `<issuer>/.well-known/openid-configuration`; or it lacks what `profile: 'fapi2'` requires; or it answered a DPoP proof with a bearer token |
 * | `userinfo_sub_mismatch` | 502 | the userinfo endpoint answered about another user than the ID token's `sub` |
 * | `authorization_request_rejected` | 500 | the provider refused the pushed authorization request (`invalid_request`, `invalid_request_object`, …): the client's registration and the options disagree |
 * | `acr_not_satisfied` | 403 | a step-up (or `req.auth.login({ acrValues })`) came back with an ID token whose `acr` is none of those asked for; the session is unchanged |
 * | `max_age_not_satisfied` | 403 | a step-up with `max_age` came back with an ID token whose `auth_time` is missing or older than asked; the session is unchanged |
 * | `scope_not_granted` | 403 | a step-up came back with an access token lacking a scope it asked for; the session is unchanged |
 * | `step_up_user_mismatch` | 400 | a step-up came back signed in as another user (`sub` or `iss` changed); the session is signed out |
 * | `step_up_failed` | 403 | a page still asked for more right after a step-up for it had completed: the browser is not sent to the provider again |
 * | `step_up_required` | 401 | `req.auth.fetch()`: the resource server asked for stronger or fresher authentication (RFC 9470); `stepUp` holds what it asked for |
 * | `forbidden` | 403 | a browser page of a `requiresAuth({ claims })` route, for a user whose claims do not match |
 * | `scope_invalid` | 400 | a `requiresAuth({ scopes: (req) => … })` function built a scope that is not a valid scope token from this request |
 */
export const ErrorCodes = Object.freeze({
  invalid_options: 'invalid_options',
  session_missing: 'session_missing',
  not_mounted: 'not_mounted',
  session_store_error: 'session_store_error',
  state_missing: 'state_missing',
  state_unknown: 'state_unknown',
  login_expired: 'login_expired',
  access_denied: 'access_denied',
  authorization_error: 'authorization_error',
  callback_invalid: 'callback_invalid',
  token_request_rejected: 'token_request_rejected',
  client_authentication_failed: 'client_authentication_failed',
  id_token_invalid: 'id_token_invalid',
  unauthenticated: 'unauthenticated',
  refresh_token_missing: 'refresh_token_missing',
  access_token_rejected: 'access_token_rejected',
  login_refused: 'login_refused',
  login_hook_failed: 'login_hook_failed',
  logout_forbidden: 'logout_forbidden',
  logout_token_invalid: 'logout_token_invalid',
  provider_error: 'provider_error',
  provider_unreachable: 'provider_unreachable',
  provider_timeout: 'provider_timeout',
  provider_response_too_large: 'provider_response_too_large',
  provider_misconfigured: 'provider_misconfigured',
  userinfo_sub_mismatch: 'userinfo_sub_mismatch',
  authorization_request_rejected: 'authorization_request_rejected',
  acr_not_satisfied: 'acr_not_satisfied',
  max_age_not_satisfied: 'max_age_not_satisfied',
  scope_not_granted: 'scope_not_granted',
  step_up_user_mismatch: 'step_up_user_mismatch',
  step_up_failed: 'step_up_failed',
  step_up_required: 'step_up_required',
  forbidden: 'forbidden',
  scope_invalid: 'scope_invalid',
} as const);

/** One of the documented {@link ErrorCodes}. */
export type ErrorCode = keyof typeof ErrorCodes;

const defaultStatus: Readonly<Record<ErrorCode, number>> = {
  invalid_options: 500,
  session_missing: 500,
  not_mounted: 500,
  session_store_error: 503,
  state_missing: 400,
  state_unknown: 400,
  login_expired: 400,
  access_denied: 403,
  authorization_error: 400,
  callback_invalid: 400,
  token_request_rejected: 400,
  client_authentication_failed: 500,
  id_token_invalid: 400,
  unauthenticated: 401,
  refresh_token_missing: 401,
  access_token_rejected: 401,
  login_refused: 403,
  login_hook_failed: 500,
  logout_forbidden: 403,
  logout_token_invalid: 400,
  provider_error: 502,
  provider_unreachable: 503,
  provider_timeout: 504,
  provider_response_too_large: 502,
  provider_misconfigured: 502,
  userinfo_sub_mismatch: 502,
  authorization_request_rejected: 500,
  acr_not_satisfied: 403,
  max_age_not_satisfied: 403,
  scope_not_granted: 403,
  step_up_user_mismatch: 400,
  step_up_failed: 403,
  step_up_required: 401,
  forbidden: 403,
  scope_invalid: 400,
};

/** Options of the {@link RelyingPartyError} constructor. */
export interface RelyingPartyErrorOptions {
  /** HTTP status to answer with. Default is the code's documented status. */
  status?: number | undefined;
  /** The underlying error (from openid-client, the session store, …). */
  cause?: unknown;
  /** The provider's OAuth `error` value, when the provider sent one. */
  providerError?: string | undefined;
  /** For `step_up_required`: what the resource server asked for. */
  stepUp?: StepUpChallenge | undefined;
}

/**
 * What a resource server's RFC 9470 challenge asked for, shaped like the
 * options of `req.auth.login()`: `req.auth.login({ ...err.stepUp })`.
 */
export interface StepUpChallenge {
  /** The `acr_values` of the challenge, in order. */
  readonly acrValues?: readonly string[] | undefined;
  /** The `max_age` of the challenge, in seconds. */
  readonly maxAge?: number | undefined;
}

/**
 * The one error class of this library. It reaches the app's error handler
 * through `next(err)`; `status` is what to answer with (Express's default
 * handler uses it), `code` says what happened, `cause` keeps the original
 * error. Messages never contain tokens, codes or secrets, and neither does
 * the cause chain once it is attached (see {@link withoutSecrets}).
 */
export class RelyingPartyError extends Error {
  /** What happened; one of {@link ErrorCodes}. */
  readonly code: ErrorCode;
  /** The HTTP status for the response: 4xx for bad input, 502/503/504 for provider faults. */
  readonly status: number;
  /** Same as `status`, for error handlers that read `statusCode`. */
  readonly statusCode: number;
  /** Whether the message is safe to show to the end user (true for 4xx), as in `http-errors`. */
  readonly expose: boolean;
  /** The provider's OAuth `error` value (`access_denied`, `invalid_grant`, …) when it sent one. */
  readonly providerError?: string | undefined;
  /** For `step_up_required`: the `acr_values`/`max_age` the resource server asked for. */
  readonly stepUp?: StepUpChallenge | undefined;

  constructor(code: ErrorCode, message: string, options: RelyingPartyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: withoutSecrets(options.cause) });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? defaultStatus[code];
    this.statusCode = this.status;
    this.expose = this.status < 500;
    if (options.providerError !== undefined) this.providerError = options.providerError;
    if (options.stepUp !== undefined) this.stepUp = options.stepUp;
  }
}

/** Properties of an error in the cause chain that say what went wrong without carrying protocol values. */
const SAFE_ERROR_KEYS = new Set(['name', 'message', 'stack', 'code', 'status', 'error', 'error_description', 'error_uri', 'claim', 'reason', 'cause', 'statusCode', 'expose', 'providerError', 'stepUp']);
/** Of a non-Error `cause` (openid-client and jose put parameters, claims and expected values there), only these survive. */
const SAFE_DETAIL_KEYS = ['claim', 'attribute', 'reason', 'status', 'error', 'error_description'] as const;
const MAX_CAUSE_DEPTH = 8;

/**
 * Removes from an error's cause chain what could carry an authorization
 * code, `state`, nonce, PKCE verifier, token, claim value or client secret:
 * openid-client attaches the callback parameters, the expected values and
 * the ID token claims to its errors, and jose the logout token's payload.
 * The errors keep their class, `name`, `message`, `code` and the provider's
 * `error`/`error_description`, so the cause still says what went wrong;
 * `util.inspect(err, { depth: Infinity })` and loggers show nothing secret.
 * Mutates the chain in place (its errors belong to one failed call).
 */
export function withoutSecrets(cause: unknown): unknown {
  let current = cause;
  for (let depth = 0; current instanceof Error && depth < MAX_CAUSE_DEPTH; depth++) {
    const err: Error = current;
    for (const key of Reflect.ownKeys(err)) {
      if (typeof key === 'string' && SAFE_ERROR_KEYS.has(key)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(err, key);
      // what cannot be deleted is kept out of inspect() by making it non-enumerable, where allowed
      if (descriptor?.configurable) Reflect.deleteProperty(err, key);
    }
    const next: unknown = err.cause;
    if (next !== undefined && !(next instanceof Error)) {
      Object.defineProperty(err, 'cause', { value: safeDetail(next), writable: true, configurable: true, enumerable: false });
    }
    current = next;
  }
  return cause;
}

function safeDetail(detail: unknown): Record<string, string | number> | undefined {
  if (typeof detail !== 'object' || detail === null || detail instanceof URLSearchParams || Array.isArray(detail)) return undefined;
  const kept: Record<string, string | number> = {};
  for (const key of SAFE_DETAIL_KEYS) {
    const value: unknown = (detail as Record<string, unknown>)[key];
    if (typeof value === 'string' || typeof value === 'number') kept[key] = value;
  }
  return Object.keys(kept).length > 0 ? kept : undefined;
}
