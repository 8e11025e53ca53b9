/** requiresAuth() options validation, and reading WWW-Authenticate challenges. */
import { describe, expect, it } from '@jest/globals';
import { requiresAuth, RelyingPartyError } from 'express-relying-party';
import type { RequiresAuthOptions } from 'express-relying-party';
import { authenticationChallenge, parseChallenges, scopeChallenge, stepUpChallengeOf } from '../lib/challenges.js';

function invalidOptions(options: unknown): string {
  try {
    requiresAuth(options as RequiresAuthOptions);
  } catch (err) {
    expect(err).toBeInstanceOf(RelyingPartyError);
    expect((err as RelyingPartyError).code).toBe('invalid_options');
    return (err as RelyingPartyError).message;
  }
  throw new Error('requiresAuth() accepted the options');
}

describe('requiresAuth() options', () => {
  it.each<[string, unknown, RegExp]>([
    ['a misspelt option', { maxage: 300 }, /unknown option `maxage`\. Did you mean `maxAge`\?/],
    ['scope for scopes', { scope: ['a'] }, /Did you mean `scopes`\?/],
    ['an unknown option far from any', { level: 2 }, /Known options: acr, maxAge, scopes, claims, loginUrl\./],
    ['an empty acr', { acr: '' }, /`acr` must be a non-empty string or array/],
    ['an empty acr list', { acr: [] }, /`acr` must be/],
    ['an acr with a quote', { acr: ['urn:"x'] }, /`acr` must be/],
    ['a fractional maxAge', { maxAge: 1.5 }, /`maxAge` must be a whole number of seconds >= 0/],
    ['a negative maxAge', { maxAge: -1 }, /`maxAge` must be/],
    ['maxAge as a string', { maxAge: '300' }, /`maxAge` must be/],
    ['a scope with a space inside the array', { scopes: ['a b'] }, /`scopes` must be/],
    ['an empty claims object', { claims: {} }, /`claims` must be a function, or an object/],
    ['claims as a string', { claims: 'admin' }, /`claims` must be/],
    ['an undefined claim value', { claims: { email_verified: undefined } }, /`claims` must be/],
    ['options that are not an object', 'payments:write', /expected an options object/],
    ['null', null, /expected an options object/],
  ])('rejects %s at once with invalid_options', (_what, options, message) => {
    expect(invalidOptions(options)).toMatch(message);
  });

  it('accepts every option, and no options at all', () => {
    expect(typeof requiresAuth({ acr: 'urn:a', maxAge: 0, scopes: ['a', 'b'], claims: { email_verified: true } })).toBe('function');
    expect(typeof requiresAuth({ acr: ['urn:a', 'urn:b'], scopes: () => [], claims: () => true })).toBe('function');
    expect(typeof requiresAuth({})).toBe('function');
    expect(typeof requiresAuth(undefined)).toBe('function');
  });
});

describe('WWW-Authenticate challenges', () => {
  it('writes the RFC 9470 and RFC 6750 challenges', () => {
    expect(authenticationChallenge(['urn:a', 'urn:b'], 300)).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:a urn:b", max_age="300"',
    );
    expect(authenticationChallenge(undefined, 0)).toBe('Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="0"');
    expect(scopeChallenge(['a', 'b'])).toBe('Bearer error="insufficient_scope", error_description="The access token lacks a scope this resource requires", scope="a b"');
  });

  it('reads back what it writes', () => {
    expect(stepUpChallengeOf(authenticationChallenge(['urn:a', 'urn:b'], 300))).toEqual({ acrValues: ['urn:a', 'urn:b'], maxAge: 300 });
  });

  it('parses the RFC 9110 example, quoted escapes and token68 credentials included', () => {
    const header = 'Basic dXNlcjpwYXNz, Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"';
    expect(parseChallenges(header).map((c) => [c.scheme, Object.fromEntries(c.parameters)])).toEqual([
      ['basic', {}],
      ['newauth', { realm: 'apps', type: '1', title: 'Login to "apps"' }],
      ['basic', { realm: 'simple' }],
    ]);
  });

  it.each<[string, string | null, unknown]>([
    ['a Bearer challenge among others', 'DPoP algs="ES256", Bearer error="insufficient_user_authentication", acr_values="urn:a"', { acrValues: ['urn:a'] }],
    ['upper-case names and an unquoted max_age', 'BEARER ERROR="insufficient_user_authentication", MAX_AGE=5', { maxAge: 5 }],
    ['a max_age that is no number', 'Bearer error="insufficient_user_authentication", max_age="soon", acr_values="urn:a"', { acrValues: ['urn:a'] }],
    ['acr values with a control character', 'Bearer error="insufficient_user_authentication", acr_values="urn:a\x01"', {}],
    ['a repeated parameter (the first counts)', 'Bearer error="insufficient_user_authentication", max_age=5, max_age=600', { maxAge: 5 }],
    ['another error', 'Bearer error="invalid_token", acr_values="urn:a"', undefined],
    ['another scheme', 'Basic error="insufficient_user_authentication"', undefined],
    ['no header', null, undefined],
    ['garbage', '=== insufficient_user_authentication', undefined],
    ['an oversized header', `Bearer error="insufficient_user_authentication", x="${'a'.repeat(9000)}"`, undefined],
  ])('reads the step-up of %s', (_what, header, expected) => {
    expect(stepUpChallengeOf(header)).toEqual(expected);
  });
});
