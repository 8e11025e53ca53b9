import type { StepUpChallenge } from './errors.js';

/**
 * `WWW-Authenticate` challenges: the ones `requiresAuth()` answers API
 * requests with (RFC 6750 `insufficient_scope`, RFC 9470
 * `insufficient_user_authentication`), and the reading of a resource
 * server's RFC 9470 challenge for `req.auth.fetch()`.
 */

/** An RFC 9110 quoted-string. */
function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/** RFC 9470 §3: the user must authenticate again, with one of `acrValues` and/or at most `maxAge` seconds ago. */
export function authenticationChallenge(acrValues: readonly string[] | undefined, maxAge: number | undefined): string {
  const description = acrValues === undefined ? 'More recent authentication is required' : 'A different authentication level is required';
  const parameters = ['error="insufficient_user_authentication"', `error_description=${quoted(description)}`];
  if (acrValues !== undefined) parameters.push(`acr_values=${quoted(acrValues.join(' '))}`);
  if (maxAge !== undefined) parameters.push(`max_age=${quoted(String(maxAge))}`);
  return `Bearer ${parameters.join(', ')}`;
}

/** RFC 6750 §3.1: the access token lacks scope; `scopes` are the scopes the resource requires. */
export function scopeChallenge(scopes: readonly string[]): string {
  return `Bearer error="insufficient_scope", error_description=${quoted('The access token lacks a scope this resource requires')}, scope=${quoted(scopes.join(' '))}`;
}

/** One challenge of a `WWW-Authenticate` header: its scheme (lower case) and auth-params (names lower case). */
export interface Challenge {
  readonly scheme: string;
  readonly parameters: ReadonlyMap<string, string>;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const SCHEME = new RegExp(`^(${TOKEN})`);
const PARAMETER = new RegExp(`^(${TOKEN})[ \\t]*=[ \\t]*(?:"((?:[^"\\\\]|\\\\[\\s\\S])*)"|(${TOKEN}))`);
// a token68 credential right after the scheme (`Basic dXNlcg==`), not followed by `=` and a value
const TOKEN68 = /^[ \t]+[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))/;
/** Headers longer than this are not read: a challenge is a few hundred bytes. */
const MAX_HEADER_LENGTH = 8192;

/**
 * Parses a `WWW-Authenticate` header (RFC 9110 §11.6.1) into its
 * challenges. Reading stops at the first thing that is neither a scheme nor
 * an auth-param; what was read until then is kept.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: { scheme: string; parameters: Map<string, string> }[] = [];
  let rest = header.length > MAX_HEADER_LENGTH ? '' : header;
  let current: { scheme: string; parameters: Map<string, string> } | undefined;
  for (;;) {
    rest = rest.replace(/^[\s,]+/, '');
    if (rest === '') break;
    const parameter = current === undefined ? null : PARAMETER.exec(rest);
    if (current !== undefined && parameter !== null) {
      const [matched, rawName = '', quotedValue, tokenValue] = parameter;
      const name = rawName.toLowerCase();
      // a repeated parameter is ambiguous: the first one counts
      if (!current.parameters.has(name)) current.parameters.set(name, quotedValue === undefined ? (tokenValue ?? '') : quotedValue.replace(/\\([\s\S])/g, '$1'));
      rest = rest.slice(matched.length);
      continue;
    }
    const scheme = SCHEME.exec(rest);
    if (scheme === null) break;
    current = { scheme: (scheme[1] ?? '').toLowerCase(), parameters: new Map() };
    challenges.push(current);
    rest = rest.slice(scheme[0].length);
    const token68 = TOKEN68.exec(rest);
    if (token68 !== null) rest = rest.slice(token68[0].length);
  }
  return challenges;
}

/** `acr_values` longer than this, or with more values, are not taken from a resource server. */
const MAX_ACR_VALUES = 10;
const ACR_VALUE = /^[\x21\x23-\x5B\x5D-\x7E]{1,512}$/;

/**
 * The RFC 9470 step-up a resource server asks for in its `401` answer's
 * `WWW-Authenticate` header: a `Bearer` challenge with
 * `error="insufficient_user_authentication"`, and its `acr_values` and
 * `max_age` (values that are not well-formed are left out). `undefined`
 * when the header holds no such challenge.
 */
export function stepUpChallengeOf(header: string | null): StepUpChallenge | undefined {
  if (header === null || !/insufficient_user_authentication/i.test(header)) return undefined;
  const challenge = parseChallenges(header).find((c) => c.scheme === 'bearer' && c.parameters.get('error') === 'insufficient_user_authentication');
  if (challenge === undefined) return undefined;
  const stepUp: { acrValues?: string[]; maxAge?: number } = {};
  const acrValues = challenge.parameters.get('acr_values')?.split(' ').filter((value) => value !== '');
  if (acrValues !== undefined && acrValues.length > 0 && acrValues.length <= MAX_ACR_VALUES && acrValues.every((value) => ACR_VALUE.test(value))) {
    stepUp.acrValues = acrValues;
  }
  const maxAge = challenge.parameters.get('max_age');
  if (maxAge !== undefined && /^\d{1,9}$/.test(maxAge)) stepUp.maxAge = Number(maxAge);
  return Object.freeze(stepUp);
}
