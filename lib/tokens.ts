import { createHash } from 'node:crypto';
import type { Request } from 'express';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import createDebug from 'debug';
import { RelyingPartyError } from './errors.js';
import type { Config } from './options.js';
import { providerError } from './provider.js';
import type { Provider } from './provider.js';
import { clearAuth, requireSession, saveSession } from './session.js';
import type { AuthRecord } from './session.js';
import { readSideRecord, writeSideRecord } from './store.js';

const debug = createDebug('express-relying-party:tokens');

/** How long a rotated refresh token still leads to its successor (see {@link TokenRefresher}). */
const ROTATION_MEMORY_MS = 60 * 60 * 1000;
/** Successive rotations followed at most when catching up a stale session copy. */
const MAX_ROTATION_HOPS = 5;

type TokenResponse = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

/**
 * The session's auth record from a token response. On refresh, what the
 * provider did not send again (refresh token, ID token, userinfo) is kept
 * from `previous`.
 */
export function toAuthRecord(tokens: TokenResponse, previous?: AuthRecord): AuthRecord {
  const record: AuthRecord = { accessToken: tokens.access_token, tokenType: tokens.token_type };
  const expiresIn = tokens.expiresIn();
  if (expiresIn !== undefined) record.expiresAt = Math.floor(Date.now() / 1000) + expiresIn;
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

/** True when the access token is expired or expires within the configured leeway, and can be refreshed. */
export function needsRefresh(record: AuthRecord, config: Config): boolean {
  return record.refreshToken !== undefined && record.expiresAt !== undefined && record.expiresAt * 1000 - config.refreshLeeway <= Date.now();
}

function rotationKey(refreshToken: string): string {
  return `erp:rotated:${createHash('sha256').update(refreshToken).digest('base64url')}`;
}

/** What a refresh did to the session. */
export type RefreshOutcome = 'refreshed' | 'signed_out' | 'not_signed_in';

/**
 * Refreshes access tokens.
 *
 * Single flight: concurrent requests holding the same refresh token share
 * one refresh-token grant in this process (keyed by the token itself) and
 * all store its result.
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
  readonly #inFlight = new Map<string, Promise<AuthRecord | undefined>>();

  constructor(config: Config, provider: Provider) {
    this.#config = config;
    this.#provider = provider;
  }

  /** Refreshes the session's tokens now; `invalid_grant` ends the authenticated state instead of failing. */
  async refresh(req: Request): Promise<RefreshOutcome> {
    const session = requireSession(req);
    const current = session.relyingParty?.auth;
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
    return 'refreshed';
  }

  async #refreshOnce(req: Request, current: AuthRecord): Promise<AuthRecord | undefined> {
    const store = req.sessionStore as Request['sessionStore'] | undefined;
    // caught up through rotation records: another request or instance already refreshed
    let record = current;
    for (let hop = 0; store && hop < MAX_ROTATION_HOPS && record.refreshToken; hop++) {
      const successor = await readSideRecord<AuthRecord>(store, rotationKey(record.refreshToken));
      if (!successor) break;
      record = successor;
    }
    if (record !== current && !needsRefresh(record, this.#config)) {
      debug('took the tokens of an earlier refresh');
      return record;
    }
    return this.#grant(record, store);
  }

  async #grant(record: AuthRecord, store: Request['sessionStore'] | undefined): Promise<AuthRecord | undefined> {
    const refreshToken = record.refreshToken;
    if (refreshToken === undefined) return undefined;
    const configuration = await this.#provider.get();
    let next: AuthRecord;
    try {
      const tokens = await client.refreshTokenGrant(configuration, refreshToken);
      next = toAuthRecord(tokens, record);
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
