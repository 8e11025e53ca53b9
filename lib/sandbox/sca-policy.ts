import type { Policy, interactionPolicy } from 'oidc-provider';
import { issuableAcrValues } from './sca.js';

// kept apart from sca.ts, whose constants the package exports: these types come from oidc-provider, an optional peer

/**
 * oidc-provider's interaction policy (login, then consent) plus an `sca`
 * prompt: oidc-provider takes `acr_values` as a wish and would answer a
 * signed-in user at once with the `acr` of their session; the sandbox, as
 * banks that support step-up, asks for the code first when that `acr` is
 * not among the requested ones it can issue. Values it cannot issue are
 * ignored, as OpenID Connect allows.
 */
export function scaPolicy(policies: typeof interactionPolicy): Policy {
  const { Check, Prompt, base } = policies;
  const policy = base();
  policy.add(
    new Prompt(
      { name: 'sca' },
      new Check('acr_values', 'the requested authentication level is not met', (ctx) => {
        const wanted = issuableAcrValues(ctx.oidc.params.acr_values);
        // a login just submitted in this interaction is what the user could do: oidc-provider re-checks after it
        if (wanted.length === 0 || ctx.oidc.result?.login !== undefined) return Check.NO_NEED_TO_PROMPT;
        return wanted.includes(ctx.oidc.session.acr ?? '') ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
      }),
    ),
  );
  return policy;
}
