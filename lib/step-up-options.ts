import type { Request } from 'express';
import { didYouMean } from './did-you-mean.js';
import { RelyingPartyError } from './errors.js';
import { reservedAuthorizationParams } from './options.js';
import { isPlainObject } from './options/assert.js';

/** The user's claims, as `requiresAuth({ claims })` gets them (`req.auth.user`). */
export type UserClaims = Readonly<Record<string, unknown>>;

/** Options of `requiresAuth()`: what a route requires of the sign-in. All optional. */
export interface RequiresAuthOptions {
  /**
   * The sign-in's ID token `acr` must be one of these values. Unmet, a
   * browser page load steps up (a new authorization request with these as
   * `acr_values`, in this order); an API request gets `401` with an RFC 9470
   * `insufficient_user_authentication` challenge. Default is none: any `acr`.
   */
  acr?: string | readonly string[] | undefined;
  /**
   * Seconds: the user must have authenticated (ID token `auth_time`) at
   * most this long ago, give or take `clockTolerance`. Unmet, as `acr`, with
   * `max_age`. Default is none: no limit.
   */
  maxAge?: number | undefined;
  /**
   * The access token's granted scope must include every one of these. A
   * function builds them from the request, for dynamic scopes
   * (`(req) => [\`payments:${req.params.id}\`]`). Unmet, a browser page load
   * steps up asking for the configured `scope` plus these; an API request
   * gets `403` with an `insufficient_scope` challenge. Default is none.
   */
  scopes?: readonly string[] | ((req: Request) => readonly string[]) | undefined;
  /**
   * The user's claims (`req.auth.user`) must match: each listed claim equal
   * to the value (an array claim: containing it), an array of values
   * meaning "one of these"; or a function of the claims that returns `true`
   * to let the request through. Unmet: `403`, never a new login. Default
   * is none: any claims.
   */
  claims?: UserClaims | ((claims: UserClaims) => boolean) | undefined;
  /**
   * Where a signed-out browser is sent instead of straight into a login: a
   * page of the app (such as a "Sign in with A or B" chooser), given as a
   * same-origin path; `?returnTo=<the page>` is added. Default: the login
   * of the first `relyingParty()` mounted.
   */
  loginUrl?: string | undefined;
}

/** The validated, frozen form of {@link RequiresAuthOptions} (what it requires; `loginUrl` is not a requirement). */
export interface Requirement {
  readonly acr?: readonly string[];
  readonly maxAge?: number;
  readonly scopes?: readonly string[] | ((req: Request) => readonly string[]);
  readonly claims?: UserClaims | ((claims: UserClaims) => boolean);
}

/** Options of `req.auth.login()`. All optional. */
export interface LoginOptions {
  /** Same-origin path to come back to. Default is the current URL for a GET request, else `'/'`. */
  returnTo?: string | undefined;
  /**
   * Scopes to ask for on top of the configured `scope` (space-separated or
   * an array); the callback checks that they were granted. Default is none.
   */
  scope?: string | readonly string[] | undefined;
  /** `acr_values` to ask for, in order (space-separated or an array); the callback checks the new ID token's `acr` is one of them. Default is none. */
  acrValues?: string | readonly string[] | undefined;
  /** `max_age` in seconds; the callback checks the new ID token's `auth_time`. Default is none. */
  maxAge?: number | undefined;
  /** `prompt`: `login`, `consent`, `select_account`, `create` (space-separated), or `none`. Default is none. */
  prompt?: string | undefined;
  /**
   * More authorization request parameters for this login, on top of the
   * configured `authorizationParams` (strings; those the library owns, and
   * `acr_values`, `max_age` and `prompt`, which have options above, are
   * rejected). Default is `{}`.
   */
  authorizationParams?: Readonly<Record<string, string>> | undefined;
}

const requiresAuthKeys = ['acr', 'maxAge', 'scopes', 'claims', 'loginUrl'];
const loginKeys = ['returnTo', 'scope', 'acrValues', 'maxAge', 'prompt', 'authorizationParams'];
const loginOwnParams = new Set(['acr_values', 'max_age', 'prompt']);
const prompts = new Set(['login', 'consent', 'select_account', 'create']);

/** Printable ASCII without space, `"` or `\`: the RFC 6749 scope-token set, also used for `acr` values. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,512}$/;
/** Scopes one route may ask for at most (a function could otherwise grow the authorization request without bound). */
export const MAX_SCOPES = 50;

/** True for a valid scope token (RFC 6749 §3.3), the same set for `acr` values. */
export function isScopeToken(value: unknown): value is string {
  return typeof value === 'string' && SCOPE_TOKEN.test(value);
}

function invalid(where: string, message: string): RelyingPartyError {
  return new RelyingPartyError('invalid_options', `${where}: ${message}`);
}

/** `'a b'` or `['a', 'b']` → `['a', 'b']`, each a valid token, at least one. */
function tokens(value: unknown, where: string, name: string, example: string): string[] {
  const list = typeof value === 'string' ? value.split(' ').filter((item) => item !== '') : value;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_SCOPES || !list.every(isScopeToken)) {
    throw invalid(where, `\`${name}\` must be a non-empty string or array of values without spaces, quotes or backslashes, such as ${example}.`);
  }
  return [...new Set(list)];
}

function seconds(value: unknown, where: string, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(where, `\`${name}\` must be a whole number of seconds >= 0, such as 300.`);
  }
  return value;
}

function rejectUnknown(options: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw invalid(where, `unknown option \`${key}\`. ${didYouMean(key, known)}`);
  }
}

/** Validates `requiresAuth()` options once; `undefined` when there are none (the plain guard). */
export function parseRequiresAuthOptions(options: unknown): Requirement | undefined {
  const where = 'requiresAuth()';
  if (options === undefined) return undefined;
  if (!isPlainObject(options)) throw invalid(where, 'expected an options object such as { acr, maxAge, scopes, claims, loginUrl }.');
  rejectUnknown(options, requiresAuthKeys, where);
  const requirement: { -readonly [K in keyof Requirement]: Requirement[K] } = {};
  if (options.acr !== undefined) requirement.acr = Object.freeze(tokens(options.acr, where, 'acr', "'urn:openbanking:psd2:sca'"));
  if (options.maxAge !== undefined) requirement.maxAge = seconds(options.maxAge, where, 'maxAge');
  const { scopes, claims } = options;
  if (typeof scopes === 'function') requirement.scopes = scopes as (req: Request) => readonly string[];
  else if (scopes !== undefined) requirement.scopes = Object.freeze(tokens(scopes, where, 'scopes', "['payments:write']"));
  if (typeof claims === 'function') {
    requirement.claims = claims as (claims: UserClaims) => boolean;
  } else if (claims !== undefined) {
    if (!isPlainObject(claims) || Object.keys(claims).length === 0 || Object.values(claims).some((value) => value === undefined)) {
      throw invalid(where, '`claims` must be a function, or an object of claim values such as { email_verified: true }.');
    }
    requirement.claims = Object.freeze({ ...claims });
  }
  return Object.keys(requirement).length === 0 ? undefined : Object.freeze(requirement);
}

/**
 * The scopes of a route for this request: its list, or what its function
 * returned, checked here because a function may build them from request
 * input (`req.params.id` with a space would smuggle in another scope).
 */
export function scopesFor(scopes: Requirement['scopes'], req: Request): readonly string[] {
  if (scopes === undefined) return [];
  if (typeof scopes !== 'function') return scopes;
  const built: unknown = scopes(req);
  if (!Array.isArray(built) || built.some((scope) => typeof scope !== 'string')) {
    throw new RelyingPartyError('invalid_options', 'requiresAuth(): the `scopes` function must return an array of strings.');
  }
  const list = built as string[];
  if (list.length > MAX_SCOPES || !list.every(isScopeToken)) {
    throw new RelyingPartyError('scope_invalid', `The scopes this request needs are not valid scope tokens (no spaces, quotes or backslashes; at most ${MAX_SCOPES}).`);
  }
  return list;
}

/** What `req.auth.login()` asks of the provider, validated. */
export interface ParsedLogin {
  readonly returnTo?: string;
  readonly scopes?: readonly string[];
  readonly acrValues?: readonly string[];
  readonly maxAge?: number;
  readonly prompt?: string;
  readonly authorizationParams?: Readonly<Record<string, string>>;
}

/** Validates the options of `req.auth.login()`; throws `invalid_options` naming the option. */
export function parseLoginOptions(options: unknown): ParsedLogin {
  const where = 'req.auth.login()';
  if (options === undefined) return {};
  if (!isPlainObject(options)) throw invalid(where, 'expected an options object such as { acrValues, maxAge, scope, returnTo }.');
  rejectUnknown(options, loginKeys, where);
  const parsed: { -readonly [K in keyof ParsedLogin]: ParsedLogin[K] } = {};
  if (options.returnTo !== undefined) {
    if (typeof options.returnTo !== 'string') throw invalid(where, '`returnTo` must be a same-origin path such as /payments.');
    parsed.returnTo = options.returnTo;
  }
  if (options.scope !== undefined) parsed.scopes = tokens(options.scope, where, 'scope', "'payments:write'");
  if (options.acrValues !== undefined) parsed.acrValues = tokens(options.acrValues, where, 'acrValues', "['urn:openbanking:psd2:sca']");
  if (options.maxAge !== undefined) parsed.maxAge = seconds(options.maxAge, where, 'maxAge');
  if (options.prompt !== undefined) {
    const values = typeof options.prompt === 'string' ? options.prompt.split(' ') : [];
    const valid = values.length > 0 && (options.prompt === 'none' || values.every((value) => prompts.has(value)));
    if (!valid) throw invalid(where, '`prompt` must be none, or one or more of login, consent, select_account, create (space-separated).');
    parsed.prompt = options.prompt as string;
  }
  if (options.authorizationParams !== undefined) parsed.authorizationParams = loginParams(options.authorizationParams, where);
  return parsed;
}

function loginParams(value: unknown, where: string): Readonly<Record<string, string>> {
  if (!isPlainObject(value)) throw invalid(where, '`authorizationParams` must be an object of strings.');
  for (const [key, param] of Object.entries(value)) {
    if (reservedAuthorizationParams.has(key)) throw invalid(where, `\`authorizationParams.${key}\` cannot be set: the library sets it.`);
    if (loginOwnParams.has(key)) throw invalid(where, `\`authorizationParams.${key}\` cannot be set: use the \`${key === 'acr_values' ? 'acrValues' : key === 'max_age' ? 'maxAge' : 'prompt'}\` option.`);
    if (typeof param !== 'string') throw invalid(where, `\`authorizationParams.${key}\` must be a string.`);
  }
  return Object.freeze({ ...(value as Record<string, string>) });
}
