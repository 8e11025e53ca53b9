import type { Request } from 'express';
import createDebug from 'debug';
import { isDeepStrictEqual } from 'node:util';
import { RelyingPartyError } from './errors.js';
import type { Config } from './options.js';
import { endSession } from './session.js';
import type { AskedLogin, AuthRecord, PendingLogin } from './session.js';
import { markSignedOut } from './sign-out.js';
import { scopesFor } from './step-up-options.js';
import type { ParsedLogin, Requirement, UserClaims } from './step-up-options.js';

/**
 * Step-up authentication: what a route requires of the sign-in (`acr`,
 * `max_age`, scopes, claims), whether the session's sign-in meets it, the
 * authorization request that asks the provider for it, and the check of
 * the provider's answer at the callback.
 */

const debug = createDebug('express-relying-party:step-up');

/** An authorization request beyond the configured defaults: from a guard's step-up or `req.auth.login()`. */
export interface LoginRequest extends ParsedLogin {
  /** The signed-in user, who must be the one to come back (set when the session is signed in: a step-up). */
  readonly user?: { readonly sub: string; readonly iss: string } | undefined;
  /** `silentLogin`: "the user would have to interact" ends it quietly back on `returnTo` (send `prompt: 'none'`). */
  readonly silent?: boolean | undefined;
}

/** What the sign-in lacks for a route. */
export interface Shortfall {
  /** The ID token's `acr` is not one the route accepts. */
  readonly acr: boolean;
  /** The ID token's `auth_time` is missing or older than the route's `maxAge`. */
  readonly maxAge: boolean;
  /** The route's scopes (all of them, when one is missing; else empty). */
  readonly scopes: readonly string[];
  /** The user's claims do not match (only looked at once the rest is met). */
  readonly claims: boolean;
  /** The route's scopes for this request. */
  readonly required: readonly string[];
}

/** The granted scopes of the sign-in; a token response without `scope` granted what was asked (RFC 6749 §5.1). */
function grantedScopes(record: AuthRecord, config: Config): Set<string> {
  return new Set((record.scope ?? config.scope).split(' '));
}

function acrMet(acr: unknown, accepted: readonly string[]): boolean {
  return typeof acr === 'string' && accepted.includes(acr);
}

/** `auth_time` at most `maxAge` seconds ago, give or take `clockTolerance`. */
function authenticatedWithin(authTime: unknown, maxAge: number, config: Config): boolean {
  return typeof authTime === 'number' && Date.now() / 1000 - authTime <= maxAge + config.clockTolerance;
}

/** A claim matches a wanted value when equal to it, or, for an array claim (`groups`), when it contains it. */
function claimMatches(actual: unknown, wanted: unknown): boolean {
  return isDeepStrictEqual(actual, wanted) || (Array.isArray(actual) && actual.some((item) => isDeepStrictEqual(item, wanted)));
}

function claimsMatch(wanted: NonNullable<Requirement['claims']>, user: UserClaims): boolean {
  if (typeof wanted === 'function') return wanted(user) === true;
  return Object.entries(wanted).every(([name, value]) => {
    const actual = Object.hasOwn(user, name) ? user[name] : undefined;
    return (Array.isArray(value) ? value : [value]).some((option) => claimMatches(actual, option));
  });
}

/**
 * What the session's sign-in lacks for `requirement`, or `undefined` when
 * it meets it. The ID token's claims and the user's claims are asked for
 * only when needed (`req.auth` decodes the ID token once per request).
 */
export function shortfallOf(
  requirement: Requirement,
  req: Request,
  record: AuthRecord,
  config: Config,
  idTokenClaims: () => UserClaims | undefined,
  userClaims: () => UserClaims | undefined,
): Shortfall | undefined {
  let acr = false;
  let maxAge = false;
  if (requirement.acr !== undefined || requirement.maxAge !== undefined) {
    if (!config.openid) {
      throw new RelyingPartyError('invalid_options', 'requiresAuth({ acr, maxAge }) needs an ID token: add `openid` to the `scope` option.');
    }
    const claims = idTokenClaims();
    acr = requirement.acr !== undefined && !acrMet(claims?.acr, requirement.acr);
    maxAge = requirement.maxAge !== undefined && !authenticatedWithin(claims?.auth_time, requirement.maxAge, config);
  }
  const required = scopesFor(requirement.scopes, req);
  let scopes: readonly string[] = [];
  if (required.length > 0) {
    const granted = grantedScopes(record, config);
    if (!required.every((scope) => granted.has(scope))) scopes = required;
  }
  if (acr || maxAge || scopes.length > 0) return { acr, maxAge, scopes, claims: false, required };
  if (requirement.claims !== undefined && !claimsMatch(requirement.claims, userClaims() ?? {})) return { acr, maxAge, scopes, claims: true, required };
  return undefined;
}

/**
 * The login that satisfies a route: everything it requires (not only what
 * is missing: the new tokens replace the current ones, and must meet the
 * whole requirement), by `user` when the session is signed in.
 */
export function requestFor(requirement: Requirement, scopes: readonly string[], user: LoginRequest['user']): LoginRequest {
  return {
    ...(requirement.acr === undefined ? {} : { acrValues: requirement.acr }),
    ...(requirement.maxAge === undefined ? {} : { maxAge: requirement.maxAge }),
    ...(scopes.length === 0 ? {} : { scopes }),
    ...(user === undefined ? {} : { user }),
  };
}

/** The signed-in user a step-up must bring back: the ID token's `sub` and `iss`. */
export function stepUpUser(claims: UserClaims | undefined): LoginRequest['user'] {
  const { sub, iss } = claims ?? {};
  return typeof sub === 'string' && typeof iss === 'string' ? { sub, iss } : undefined;
}

/** How long after a step-up for a page another one for the same page counts as "in a row". */
const STEP_UP_REPEAT_MS = 60 * 1000;

/**
 * True when the sign-in comes from a step-up for `returnTo` completed
 * moments ago and `request` asks for nothing that one did not (without
 * `request`: whatever it asks). Asking the provider again would send the
 * browser round in circles: its answer passed the callback's checks, yet
 * the page wants more. The caller ends in `step_up_failed` instead. A
 * request for more (a shorter `max_age`, another `acr`, a new scope) gets
 * one step-up; the next one for the same page is then covered by it.
 */
export function repeatsStepUp(record: AuthRecord, returnTo: string, request?: LoginRequest): boolean {
  const previous = record.stepUp;
  if (previous?.returnTo !== returnTo || Date.now() - record.signedInAt >= STEP_UP_REPEAT_MS) return false;
  if (request === undefined) return true;
  const acr = request.acrValues === undefined || (previous.acrValues?.every((value) => request.acrValues?.includes(value)) ?? false);
  const maxAge = request.maxAge === undefined || (previous.maxAge !== undefined && request.maxAge >= previous.maxAge);
  const scopes = request.scopes === undefined || request.scopes.every((scope) => previous.scopes?.includes(scope));
  return acr && maxAge && scopes;
}

export const stepUpFailed = (why: string) =>
  new RelyingPartyError('step_up_failed', `A step-up for this page completed moments ago, yet ${why}: the browser is not sent to the provider again.`);

/** Space-separated union of `scope` and `extra`, in order, without repeats. */
function withScopes(scope: string, extra: readonly string[] | undefined): string {
  return extra === undefined ? scope : [...new Set([...scope.split(' '), ...extra])].join(' ');
}

/**
 * The authorization request parameters of a login (the configured ones,
 * then what `request` adds: `acr_values`, `max_age`, scopes, `prompt`), and
 * what the pending login remembers for the callback's checks.
 */
export function authorizationRequest(config: Config, request: LoginRequest | undefined): { parameters: Record<string, string>; asked: AskedLogin | undefined } {
  const scope = withScopes(config.scope, request?.scopes);
  const parameters: Record<string, string> = { ...config.authorizationParams, ...request?.authorizationParams, scope };
  if (request === undefined) return { parameters, asked: undefined };
  const asked: AskedLogin = {};
  if (request.acrValues !== undefined) {
    parameters.acr_values = request.acrValues.join(' ');
    asked.acrValues = [...request.acrValues];
  }
  if (request.maxAge !== undefined) {
    parameters.max_age = String(request.maxAge);
    asked.maxAge = request.maxAge;
  }
  if (request.scopes !== undefined) {
    asked.scopes = [...request.scopes];
    asked.scope = scope;
  }
  if (request.prompt !== undefined) parameters.prompt = request.prompt;
  if (request.user !== undefined) {
    asked.sub = request.user.sub;
    asked.iss = request.user.iss;
  }
  return { parameters, asked: Object.keys(asked).length === 0 ? undefined : asked };
}

/** A value from the provider, fit for a message: printable ASCII, bounded. */
function printable(value: unknown): string {
  return typeof value === 'string' ? value.replace(/[^\x20-\x7E]/g, '?').slice(0, 100) : 'none';
}

/**
 * At the callback, before the session's tokens are replaced: the answer
 * gives what the login asked for (`acr` one of `acr_values`, `auth_time`
 * within `max_age`, the scopes granted) and, for a step-up, comes from the
 * same user. Another user signs the session out (`step_up_user_mismatch`);
 * anything else leaves the session as it was. Completes `record`: the
 * scope asked when the provider named none, and the page a step-up was for.
 */
export async function checkLoginAnswer(req: Request, login: PendingLogin, record: AuthRecord, claims: UserClaims | undefined, config: Config): Promise<void> {
  const asked = login.asked;
  if (asked === undefined) return;
  if (asked.sub !== undefined && (claims?.sub !== asked.sub || claims?.iss !== asked.iss)) {
    debug('a step-up came back with another user: signing out');
    await markSignedOut(req.sessionStore, req.sessionID);
    await endSession(req, config.keepSessionData);
    throw new RelyingPartyError('step_up_user_mismatch', 'The step-up came back signed in as another user than the one who started it: the session was signed out. Sign in again.');
  }
  if (asked.acrValues !== undefined && !acrMet(claims?.acr, asked.acrValues)) {
    throw new RelyingPartyError(
      'acr_not_satisfied',
      `The provider answered without the authentication asked for: acr ${printable(claims?.acr)}, not one of ${asked.acrValues.join(', ')}. The session is unchanged.`,
    );
  }
  if (asked.maxAge !== undefined && !authenticatedWithin(claims?.auth_time, asked.maxAge, config)) {
    throw new RelyingPartyError(
      'max_age_not_satisfied',
      `The provider answered with an authentication older than the ${asked.maxAge} s asked for (or without auth_time). The session is unchanged.`,
    );
  }
  if (asked.scope !== undefined) record.scope ??= asked.scope;
  const granted = grantedScopes(record, config);
  const missing = asked.scopes?.filter((scope) => !granted.has(scope)) ?? [];
  if (missing.length > 0) {
    throw new RelyingPartyError('scope_not_granted', `The provider did not grant ${missing.join(', ')}. The session is unchanged.`);
  }
  if (asked.sub !== undefined) {
    const { acrValues, maxAge, scopes } = asked;
    record.stepUp = { returnTo: login.returnTo, ...(acrValues && { acrValues }), ...(maxAge !== undefined && { maxAge }), ...(scopes && { scopes }) };
  }
}
