import { createHash } from 'node:crypto';
import type { Account } from 'oidc-provider';

/**
 * The sandbox's "user database": whoever signs in exists. Like the test
 * providers of open-banking sandboxes, any username and password work; the
 * username becomes the display name and a stable, opaque `sub` is derived
 * from it (a real provider never uses the login name as `sub`: it may
 * change, `sub` must not).
 */
export class SandboxAccounts {
  readonly #usernames = new Map<string, string>();

  /** Registers `username` (if new) and returns its account id, the future `sub`. */
  signIn(username: string): string {
    const accountId = `sbx-${createHash('sha256').update(username.toLowerCase()).digest('base64url').slice(0, 20)}`;
    this.#usernames.set(accountId, username);
    return accountId;
  }

  /** The username an account id belongs to, when it signed in since the sandbox started. */
  usernameOf(accountId: string): string | undefined {
    return this.#usernames.get(accountId);
  }

  /** oidc-provider's `findAccount`: the claims each scope releases. */
  readonly findAccount = (_ctx: unknown, accountId: string): Account | undefined => {
    const username = this.#usernames.get(accountId);
    if (username === undefined) return undefined;
    const mailbox = username.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'user';
    return {
      accountId,
      // oidc-provider filters these by the granted scopes (see `claims` in provider.ts)
      claims: () => ({
        sub: accountId,
        name: username,
        preferred_username: username,
        email: `${mailbox}@sandbox.example`,
        email_verified: false,
      }),
    };
  };
}
