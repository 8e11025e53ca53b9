/**
 * Strong Customer Authentication (SCA) in the sandbox, and how the ID token
 * reports it.
 *
 * PSD2 requires two independent factors (here: the password, something you
 * know, plus a one-time code from an authenticator app, something you have)
 * before a bank shares account data. Relying parties learn what happened
 * from two ID token claims:
 *
 * - `acr` (authentication context class): the level reached. The sandbox
 *   uses the UK Open Banking values: `urn:openbanking:psd2:sca` after SCA,
 *   `urn:openbanking:psd2:ca` after the password alone.
 * - `amr` (authentication methods, RFC 8176): `['pwd']` or `['pwd', 'otp']`.
 *
 * There is no authenticator app for the sandbox, so an empty code is
 * accepted and simply yields the lower level; a filled-in code must be
 * exactly six digits (any six digits: the sandbox does not check them
 * against a secret). An app that asks for `acr_values=urn:openbanking:psd2:sca`
 * (a step-up) gets SCA or nothing: the code is required then, and a user
 * already signed in without it is asked for it before the sandbox answers
 * (the `sca` prompt of `sca-policy.ts`).
 */

/** `acr` after the password only (customer authentication, one factor). */
export const ACR_CUSTOMER_AUTHENTICATION = 'urn:openbanking:psd2:ca';
/** `acr` after the password plus a one-time code (strong customer authentication). */
export const ACR_STRONG_CUSTOMER_AUTHENTICATION = 'urn:openbanking:psd2:sca';

/** The `acr` values the sandbox can issue, weakest first. */
export const SANDBOX_ACR_VALUES: readonly string[] = Object.freeze([ACR_CUSTOMER_AUTHENTICATION, ACR_STRONG_CUSTOMER_AUTHENTICATION]);

/** The outcome of the SCA step. */
export type ScaResult =
  | { readonly ok: true; readonly acr: string; readonly amr: readonly string[] }
  | { readonly ok: false; readonly message: string };

/**
 * Checks the one-time code typed at the SCA page; spaces (`123 456`) are
 * ignored. With `required` (the app asked for SCA), an empty code is refused.
 */
export function checkOneTimeCode(input: string, required = false): ScaResult {
  const code = input.replace(/\s+/g, '');
  if (code === '' && required) {
    return { ok: false, message: 'This request needs Strong Customer Authentication: enter the 6-digit code from your authenticator app (any 6 digits in the sandbox).' };
  }
  if (code === '') {
    return { ok: true, acr: ACR_CUSTOMER_AUTHENTICATION, amr: ['pwd'] };
  }
  if (/^\d{6}$/.test(code)) {
    return { ok: true, acr: ACR_STRONG_CUSTOMER_AUTHENTICATION, amr: ['pwd', 'otp'] };
  }
  const problem = /\D/.test(code)
    ? 'The one-time code can only contain digits, like 123456.'
    : `The one-time code must be exactly 6 digits; you entered ${code.length}.`;
  return { ok: false, message: required ? problem : `${problem} Leave the field empty if you have no authenticator app.` };
}

/**
 * What to type at the SCA page to reach `acr`: an empty code for
 * customer authentication, six digits for strong customer authentication;
 * `undefined` for an `acr` the sandbox never issues.
 */
export function oneTimeCodeFor(acr: string): string | undefined {
  if (acr === ACR_CUSTOMER_AUTHENTICATION) return '';
  if (acr === ACR_STRONG_CUSTOMER_AUTHENTICATION) return '123456';
  return undefined;
}

/** Of the `acr_values` of an authorization request, those the sandbox can issue, in the order asked. */
export function issuableAcrValues(acrValues: unknown): string[] {
  return typeof acrValues === 'string' ? acrValues.split(' ').filter((value) => SANDBOX_ACR_VALUES.includes(value)) : [];
}

/** True when the request's `acr_values` take strong customer authentication only: the one-time code is required. */
export function strongAuthenticationRequired(acrValues: unknown): boolean {
  const wanted = issuableAcrValues(acrValues);
  return wanted.includes(ACR_STRONG_CUSTOMER_AUTHENTICATION) && !wanted.includes(ACR_CUSTOMER_AUTHENTICATION);
}
