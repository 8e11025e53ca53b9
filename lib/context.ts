import type { NextFunction, Request, Response } from 'express';
import type { AuthRecord } from './session.js';

/** The access token of the signed-in user, as `req.auth.accessToken` shows it. */
export interface AccessToken {
  /** The token itself, for an `Authorization: <type> <value>` header. */
  readonly value: string;
  /** The token type, usually `Bearer`. */
  readonly type: string;
  /** Epoch seconds when it expires, when the provider said. */
  readonly expiresAt?: number;
  /** The scopes granted, space-separated, when the provider said. */
  readonly scope?: string;
  /** True once `expiresAt` has passed. */
  isExpired(): boolean;
}

/** What `relyingParty()` attaches to every request as `req.auth`. */
export interface RequestAuth {
  /** True when the session holds a completed login. */
  isAuthenticated(): boolean;
  /** The ID token claims of the signed-in user. */
  readonly user?: Record<string, unknown>;
  /** The raw ID token. */
  readonly idToken?: string;
  /** The access token and its metadata. */
  readonly accessToken?: AccessToken;
  /** The refresh token, when the provider issued one. */
  readonly refreshToken?: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `relyingParty()` on every request that passes it. */
      auth?: RequestAuth;
    }
  }
}

/** What `requiresAuth()` needs of the `relyingParty()` instance that built `req.auth`. */
export interface LoginStarter {
  startLogin(req: Request, res: Response, next: NextFunction, returnTo: string): Promise<void>;
}

class AccessTokenView implements AccessToken {
  readonly #record: AuthRecord;
  constructor(record: AuthRecord) {
    this.#record = record;
  }
  get value() {
    return this.#record.accessToken;
  }
  get type() {
    return this.#record.tokenType;
  }
  get expiresAt() {
    return this.#record.expiresAt;
  }
  get scope() {
    return this.#record.scope;
  }
  isExpired() {
    const expiresAt = this.#record.expiresAt;
    return expiresAt !== undefined && expiresAt * 1000 <= Date.now();
  }
  toJSON() {
    return { type: this.type, expiresAt: this.expiresAt, scope: this.scope };
  }
}

/**
 * `req.auth`: a thin read-only view of the session's auth record. Building it
 * costs one small object; nothing is decoded, fetched or written, so reading
 * it never marks the session as modified.
 */
export class AuthContext implements RequestAuth {
  readonly #record: AuthRecord | undefined;
  // private, so that logging req.auth never prints the instance (and its client secret)
  readonly #relyingParty: LoginStarter;

  constructor(record: AuthRecord | undefined, relyingParty: LoginStarter) {
    this.#record = record;
    this.#relyingParty = relyingParty;
  }

  /** The `relyingParty()` instance behind `auth`, if `auth` is one of ours. */
  static loginStarter(auth: unknown): LoginStarter | undefined {
    return typeof auth === 'object' && auth !== null && #relyingParty in auth ? auth.#relyingParty : undefined;
  }

  isAuthenticated(): boolean {
    return this.#record !== undefined;
  }
  get user() {
    return this.#record?.claims;
  }
  get idToken() {
    return this.#record?.idToken;
  }
  get accessToken(): AccessToken | undefined {
    return this.#record && new AccessTokenView(this.#record);
  }
  get refreshToken() {
    return this.#record?.refreshToken;
  }
  /** Keeps tokens out of `JSON.stringify(req.auth)` and logs. */
  toJSON() {
    return { isAuthenticated: this.isAuthenticated(), user: this.user };
  }
}
