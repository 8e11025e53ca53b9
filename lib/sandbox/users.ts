import { createHash } from 'node:crypto';
import type { Account } from 'oidc-provider';
import type { SandboxUser } from './options.js';

/**
 * The sandbox's user database. Users given in advance sign in by their
 * `sub` (or `preferred_username`) with exactly their claims. Like the test
 * providers of open-banking sandboxes, any other username works too: it
 * becomes the display name, and a stable, opaque `sub` is derived from it
 * (a real provider never uses the login name as `sub`: it may change, `sub`
 * must not). Passwords are never checked.
 */
export class SandboxUsers {
  /** Claims by account id (the `sub`). */
  readonly #claims = new Map<string, Readonly<Record<string, unknown>>>();
  /** Account ids of the known users, by `sub` and `preferred_username`. */
  readonly #logins = new Map<string, string>();

  constructor(users: readonly SandboxUser[]) {
    for (const user of users) this.add(user);
  }

  /** Adds a user, or replaces the one with the same `sub`. The claims must have been validated. */
  add(user: SandboxUser): void {
    this.#claims.set(user.sub, user);
    this.#logins.set(user.sub, user.sub);
    if (typeof user.preferred_username === 'string') this.#logins.set(user.preferred_username, user.sub);
  }

  /** Login names of the users given in advance, for the login page's hint. */
  knownLogins(): string[] {
    return [...this.#claims.values()].map((claims) => (typeof claims.preferred_username === 'string' ? claims.preferred_username : String(claims.sub)));
  }

  /** The account id `username` signs in as; an unknown username gets an account made up from it. */
  signIn(username: string): string {
    const known = this.#logins.get(username);
    if (known !== undefined) return known;
    const accountId = `sbx-${createHash('sha256').update(username.toLowerCase()).digest('base64url').slice(0, 20)}`;
    if (!this.#claims.has(accountId)) this.#claims.set(accountId, madeUpClaims(accountId, username));
    return accountId;
  }

  /** What the pages call the user. */
  displayNameOf(accountId: string): string | undefined {
    const claims = this.#claims.get(accountId);
    if (claims === undefined) return undefined;
    const name = [claims.name, claims.preferred_username, claims.sub].find((value) => typeof value === 'string');
    return typeof name === 'string' ? name : accountId;
  }

  /** oidc-provider's `findAccount`: all the user's claims; oidc-provider keeps those the granted scopes release. */
  readonly findAccount = (_ctx: unknown, accountId: string): Account | undefined => {
    const claims = this.#claims.get(accountId);
    if (claims === undefined) return undefined;
    return { accountId, claims: () => ({ ...claims, sub: accountId }) };
  };
}

function madeUpClaims(accountId: string, username: string): Readonly<Record<string, unknown>> {
  const mailbox = username.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'user';
  return Object.freeze({
    sub: accountId,
    name: username,
    preferred_username: username,
    email: `${mailbox}@sandbox.example`,
    email_verified: false,
  });
}
