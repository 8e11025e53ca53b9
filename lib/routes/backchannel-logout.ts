import type { Request, Response } from 'express';
import type { Store } from 'express-session';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import createDebug from 'debug';
import { RelyingPartyError } from '../errors.js';
import { authRouteHeaders } from '../http.js';
import { forget, sessionsFor } from '../logout-index.js';
import type { Config } from '../options.js';
import type { Provider } from '../provider.js';
import { destroyStored, readSideRecord, recordKey, writeSideRecord } from '../store.js';
import { markSignedOut } from '../sign-out.js';

const debug = createDebug('express-relying-party:backchannel-logout');

const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const MAX_BODY_BYTES = 64 * 1024;
/** Logout tokens older than this are refused; `jti`s are remembered as long, to refuse replays. */
const MAX_TOKEN_AGE_S = 5 * 60;
/** A `jti` is remembered as long as a token carrying it could still be accepted. */
const JTI_MEMORY_MS = (MAX_TOKEN_AGE_S + 2 * 60) * 1000;

class InvalidLogoutToken extends RelyingPartyError {
  constructor(message: string, cause?: unknown) {
    super('logout_token_invalid', `Invalid logout token: ${message}.`, { cause });
  }
}

/** The `logout_token` of an `application/x-www-form-urlencoded` body, parsed here or by the app's body parser. */
async function logoutTokenOf(req: Request): Promise<string> {
  const parsed: unknown = req.body;
  if (typeof parsed === 'object' && parsed !== null && 'logout_token' in parsed) {
    const token = parsed.logout_token;
    if (typeof token === 'string') return token;
    throw new InvalidLogoutToken('logout_token must be a single value');
  }
  if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    throw new InvalidLogoutToken('expected an application/x-www-form-urlencoded body');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new InvalidLogoutToken('body too large');
    chunks.push(chunk);
  }
  const tokens = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).getAll('logout_token');
  if (tokens.length !== 1 || !tokens[0]) throw new InvalidLogoutToken('expected exactly one logout_token');
  return tokens[0];
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The checks of OpenID Connect Back-Channel Logout 1.0, section 2.6, beyond the signature, iss, aud and iat. */
function checkLogoutClaims(claims: JWTPayload): { sid?: string; sub?: string } {
  const events = claims.events;
  const event: unknown = isJsonObject(events) ? events[LOGOUT_EVENT] : undefined;
  // the member's value must be a JSON object ({} at least), not an array, string or null
  if (!isJsonObject(event)) throw new InvalidLogoutToken('the events claim has no back-channel logout event with a JSON object value');
  if ('nonce' in claims) throw new InvalidLogoutToken('a logout token must not carry a nonce');
  if (typeof claims.jti !== 'string') throw new InvalidLogoutToken('no jti');
  const sid = typeof claims.sid === 'string' ? claims.sid : undefined;
  const sub = typeof claims.sub === 'string' ? claims.sub : undefined;
  if (sid === undefined && sub === undefined) throw new InvalidLogoutToken('neither sid nor sub');
  return { sid, sub };
}

/**
 * The back-channel logout endpoint: the provider POSTs a signed logout
 * token; the app sessions of that provider session (`sid`) or user (`sub`)
 * are deleted from the session store, so their next request is signed out,
 * whichever app instance serves it. Answers the provider itself: 200, or
 * 400 with an OAuth error body.
 */
export function createBackchannelLogout(config: Config, provider: Provider) {
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  const seen = new Map<string, number>();

  /**
   * Whether this `jti` was used before, in this process or (through the
   * session store) in another instance; records it as used either way.
   */
  async function replayed(store: Store, issuer: string, jti: string): Promise<boolean> {
    const key = recordKey('erp:bcl:jti:', `${issuer} ${jti}`);
    const now = Date.now();
    for (const [id, expires] of seen) if (expires <= now) seen.delete(id);
    if (seen.has(key)) return true;
    seen.set(key, now + JTI_MEMORY_MS);
    if ((await readSideRecord<number>(store, key)) !== undefined) return true;
    await writeSideRecord(store, key, now, JTI_MEMORY_MS);
    return false;
  }

  return async function backchannelLogoutHandler(req: Request, res: Response): Promise<void> {
    authRouteHeaders(res);
    try {
      const configuration = await provider.get();
      const metadata = configuration.serverMetadata();
      if (!metadata.jwks_uri) throw new RelyingPartyError('provider_error', 'The provider has no jwks_uri to verify logout tokens with.');
      jwks ??= createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: config.httpTimeout });

      const token = await logoutTokenOf(req);
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(token, jwks, {
          issuer: metadata.issuer,
          audience: config.clientId,
          algorithms: [config.idTokenSigningAlg],
          requiredClaims: ['iat', 'jti', 'events'],
          maxTokenAge: MAX_TOKEN_AGE_S,
          clockTolerance: config.clockTolerance,
        }));
      } catch (err) {
        throw new InvalidLogoutToken(err instanceof Error ? err.message : 'verification failed', err);
      }
      const { sid, sub } = checkLogoutClaims(claims);
      const store = req.sessionStore;
      if (await replayed(store, metadata.issuer, String(claims.jti))) throw new InvalidLogoutToken('this token was already used');

      const kind = sid !== undefined ? 'sid' : 'sub';
      const value = sid ?? sub ?? '';
      const sessionIds = await sessionsFor(store, kind, metadata.issuer, value);
      // marked first: a request of that session in flight must not save it signed in again
      await Promise.all(sessionIds.map(async (id) => {
        await markSignedOut(store, id);
        await destroyStored(store, id);
      }));
      await forget(store, kind, metadata.issuer, value);
      debug('back-channel logout ended %d session(s)', sessionIds.length);
      res.status(200).end();
    } catch (err) {
      const error = err instanceof RelyingPartyError ? err : new RelyingPartyError('logout_token_invalid', 'Invalid logout token.', { cause: err });
      debug('back-channel logout refused: %s', error.message);
      res.status(error.status).json({ error: error.status === 400 ? 'invalid_request' : 'temporarily_unavailable', error_description: error.message });
    }
  };
}
