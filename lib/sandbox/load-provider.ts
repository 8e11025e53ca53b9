import type { AdapterFactory, Provider, interactionPolicy } from 'oidc-provider';

/** What the sandbox takes from `oidc-provider`. */
export interface OidcProviderModule {
  readonly Provider: typeof Provider;
  /** oidc-provider's `errors.InvalidTarget` (RFC 8707 `invalid_target`). */
  readonly InvalidTarget: new (description?: string) => Error;
  readonly createMemoryAdapter: () => AdapterFactory;
  /** oidc-provider's `interactionPolicy`: its default prompts and the classes to add one. */
  readonly interactionPolicy: typeof interactionPolicy;
}

export const MISSING_OIDC_PROVIDER =
  'The sandbox needs the oidc-provider package, an optional peer dependency of express-relying-party: ' +
  'install it with `npm install --save-dev oidc-provider`.';

/** Node's "Cannot find package 'oidc-provider'", not a missing module inside an installed oidc-provider. */
function isOidcProviderMissing(err: unknown): boolean {
  return err instanceof Error && 'code' in err && err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes("'oidc-provider'");
}

/**
 * Loads `oidc-provider` when a sandbox starts, not when this module is
 * imported: the library itself never needs it, so it is an optional peer
 * dependency that only sandbox users install.
 */
export async function loadOidcProvider(): Promise<OidcProviderModule> {
  try {
    const { default: ProviderClass, errors, interactionPolicy: policies } = await import('oidc-provider');
    // oidc-provider's own in-memory store, chosen explicitly (which also
    // silences its "you MUST change the adapter" warning): a sandbox is meant
    // to forget every session and token when it stops
    const { createMemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js');
    return { Provider: ProviderClass, InvalidTarget: errors.InvalidTarget, createMemoryAdapter: () => createMemoryAdapter(), interactionPolicy: policies };
  } catch (err) {
    if (isOidcProviderMissing(err)) throw new Error(MISSING_OIDC_PROVIDER, { cause: err });
    throw err;
  }
}
