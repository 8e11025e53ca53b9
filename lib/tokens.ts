import type { Request } from 'express';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import createDebug from 'debug';
import { boundKeyOf } from './dpop.js';
import { RelyingPartyError } from './errors.js';
import type { Config } from './options.js';
import { providerError } from './provider.js';
import type { Provider } from './provider.js';
import { authOf, clearAuth, requireSession, saveSession } from './session.js';
import type { AuthRecord } from './session.js';
import { readSideRecord, recordKey, writeSideRecord } from './store.js';

const debug = createDebug('express-relying-party:tokens');

/** How long a rotated refresh token still leads to its successor (see {@link TokenRefresher}). */
const ROTATION_MEMORY_MS = 60 * 60 * 1000;
/** Successive rotations followed at most when catching up a stale session copy. */
const MAX_ROTATION_HOPS = 5;

type TokenResponse = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

/**
 * The session's auth record from a token response, tagged with the issuer
 * and client it belongs to. On refresh, what the provider did not send
 * again (refresh token, ID token, userinfo) and the sign-in time are kept
 * from `previous`.
 */
export function toAuthRecord(tokens: TokenResponse, config: Config, previous?: AuthRecord): AuthRecord {
  const now = Date.now();
  const record: AuthRecord = {
    provider: config.name,
    issuer: config.issuer.href,
    clientId: config.clientId,
    signedInAt: previous?.signedInAt ?? now,
    accessToken: tokens.access_token,
    tokenType: tokens.token_type,
  };
  const jkt = boundKeyOf(tokens.token_type, config.dpopKey);
  if (jkt !== undefined) record.jkt = jkt;
  if (previous?.authorizationRequest !== undefined) record.authorizationRequest = previous.authorizationRequest;
  const expiresIn = tokens.expiresIn();
  if (expiresIn !== undefined) {
    record.expiresAt = Math.floor(now / 1000) + expiresIn;
    // never more than half the token's lifetime: a short-lived token is not refreshed on every request
    // (counted from now exactly: expiresAt's rounding down would take up to a second off it)
    record.refreshAt = now / 1000 + expiresIn - Math.min(config.refreshLeeway / 1000, expiresIn / 2);
  }
  const scope = tokens.scope ?? previous?.scope;
  if (scope !== undefined) record.scope = scope;
  const idToken = tokens.id_token ?? previous?.idToken;
  if (idToken !== undefined) record.idToken = idToken;
  const refreshToken = tokens.refresh_token ?? previous?.refreshToken;
  if (refreshToken !== undefined) record.refreshToken = refreshToken;
  if (previous?.userinfo !== undefined) record.userinfo = previous.userinfo;
  return record;
}

/** The claims of the record's ID token, which openid-client validated before it was stored. */
export function idTokenClaims(record: AuthRecord): Record<string, unknown> | undefined {
  return record.idToken === undefined ? undefined : decodeJwt(record.idToken);
}

/**
 * True when the access token is expired or about to expire (`refreshLeeway`,
 * at most half its lifetime), and can be refreshed.
 */
export function needsRefresh(record: AuthRecord, config: Config): boolean {
  if (record.refreshToken === undefined || record.expiresAt === undefined) return false;
  const refreshAt = record.refreshAt ?? record.expiresAt - config.refreshLeeway / 1000;
  return refreshAt * 1000 <= Date.now();
}

function rotationKey(refreshToken: string): string {
  return recordKey('erp:rotated:', refreshToken);
}

/** What a refresh did to the session. */
export type RefreshOutcome = 'refreshed' | 'signed_out' | 'not_signed_in';

/** How long this process remembers what a grant returned, for requests that held the same refresh token. */
const RECENT_GRANT_MS = 60 * 1000;

/**
 * Refreshes access tokens.
 *
 * Single flight: concurrent requests holding the same refresh token share
 * one catch-up and grant in this process; and since a stale session copy
 * is first caught up through rotation records (below), grants are also
 * shared by the refresh token actually presented to the provider, so two
 * requests that started from different copies never present the same token
 * twice. What a grant returned is remembered for a minute, so a request
 * that loaded the session just before the grant ended needs neither the
 * store nor the provider.
 *
 * Lost updates: a request that loaded the session before a refresh and
 * saves it afterwards writes the old tokens back. So every refresh also
 * leaves a rotation record (old refresh token's hash → new tokens) in the
 * session store, for an hour; a later request holding the old refresh token
 * takes the new tokens from there instead of presenting a rotated-away
 * token to the provider (which would be refused, and with reuse detection
 * would revoke the whole grant). The store is the app's, so this holds
 * across app instances sharing it.
 */
export class TokenRefresher {
  readonly #config: Config;
  readonly #provider: Provider;
  /** refresh token in the session → the catch-up and grant of the requests holding it */
  readonly #inFlight = new Map<string, Promise<AuthRecord | undefined>>();
  /** refresh token presented to the provider → its grant */
  readonly #grants = new Map<string, Promise<AuthRecord | undefined>>();
  /** refresh token consumed → what its grant returned (`undefined`: refused) */
  readonly #recent = new Map<string, { record: AuthRecord | undefined; expires: number }>();

  constructor(config: Config, provider: Provider) {
    this.#config = config;
    this.#provider = provider;
  }

  /** Refreshes the session's tokens now; `invalid_grant` ends the authenticated state instead of failing. */
  async refresh(req: Request): Promise<RefreshOutcome> {
    const session = requireSession(req);
    const current = authOf(session, this.#config);
    if (!current) return 'not_signed_in';
    if (current.refreshToken === undefined) {
      throw new RelyingPartyError('refresh_token_missing', 'The access token cannot be refreshed: the provider issued no refresh token.');
    }
    const refreshToken = current.refreshToken;
    let flight = this.#inFlight.get(refreshToken);
    if (!flight) {
      flight = this.#refreshOnce(req, current).finally(() => this.#inFlight.delete(refreshToken));
      this.#inFlight.set(refreshToken, flight);
    }
    const next = await flight;
    // the session may have changed while waiting: only replace what we refreshed
    const data = session.relyingParty;
    if (data?.auth?.refreshToken !== refreshToken) return data?.auth ? 'refreshed' : 'signed_out';
    if (next === undefined) {
      clearAuth(session);
      await saveSession(session);
      return 'signed_out';
    }
    data.auth = next;
    // saved at once: the window in which another request can save an older copy stays small
    await saveSession(session);
    // a sign-out while the grant was in flight makes the save drop the tokens (see sign-out.ts)
    return session.relyingParty?.auth ? 'refreshed' : 'signed_out';
  }

  async #refreshOnce(req: Request, current: AuthRecord): Promise<AuthRecord | undefined> {
    const store = req.sessionStore as Request['sessionStore'] | undefined;
    // caught up through what this process or another instance already refreshed
    let record = current;
    for (let hop = 0; hop < MAX_ROTATION_HOPS && record.refreshToken !== undefined; hop++) {
      const presented = record.refreshToken;
      const recent = this.#recentGrant(presented);
      let successor: AuthRecord | undefined;
      if (recent) {
        if (recent.record === undefined) return undefined;
        successor = recent.record;
      } else if (store) {
        successor = await readSideRecord<AuthRecord>(store, rotationKey(presented));
      }
      if (!successor) break;
      record = successor;
      if (successor.refreshToken === presented) break;
    }
    if (record !== current && !needsRefresh(record, this.#config)) {
      debug('took the tokens of an earlier refresh');
      return record;
    }
    return this.#grantOnce(record, store);
  }

  #recentGrant(refreshToken: string): { record: AuthRecord | undefined } | undefined {
    const now = Date.now();
    for (const [token, entry] of this.#recent) {
      if (entry.expires > now) break;
      this.#recent.delete(token);
    }
    return this.#recent.get(refreshToken);
  }

  #grantOnce(record: AuthRecord, store: Request['sessionStore'] | undefined): Promise<AuthRecord | undefined> {
    const refreshToken = record.refreshToken;
    if (refreshToken === undefined) return Promise.resolve(undefined);
    let grant = this.#grants.get(refreshToken);
    if (!grant) {
      grant = this.#grant(record, store).then(
        (next) => {
          this.#recent.set(refreshToken, { record: next, expires: Date.now() + RECENT_GRANT_MS });
          return next;
        },
      ).finally(() => this.#grants.delete(refreshToken));
      this.#grants.set(refreshToken, grant);
    }
    return grant;
  }

  async #grant(record: AuthRecord, store: Request['sessionStore'] | undefined): Promise<AuthRecord | undefined> {
    const refreshToken = record.refreshToken;
    if (refreshToken === undefined) return undefined;
    const configuration = await this.#provider.get();
    let next: AuthRecord;
    try {
      const tokens = await client.refreshTokenGrant(configuration, refreshToken, undefined, await this.#provider.dpop());
      next = toAuthRecord(tokens, this.#config, record);
      const claims = tokens.claims();
      if (claims && record.idToken && claims.sub !== idTokenClaims(record)?.sub) {
        debug('refresh returned an ID token for another subject: signing out');
        return undefined;
      }
    } catch (err) {
      const error = providerError(err, 'The token refresh failed');
      if (error.code === 'token_request_rejected' || error.code === 'id_token_invalid') {
        debug('refresh refused (%s): signing out', error.providerError ?? error.code);
        return undefined;
      }
      throw error;
    }
    debug('refreshed; access token expires at %s', next.expiresAt ?? 'unknown');
    if (store && next.refreshToken !== refreshToken) {
      await writeSideRecord(store, rotationKey(refreshToken), next, ROTATION_MEMORY_MS).catch((err: unknown) => {
        debug('could not keep the rotation record: %s', err instanceof Error ? err.message : String(err));
      });
    }
    return next;
  }
}
