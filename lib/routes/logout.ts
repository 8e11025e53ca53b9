import type { NextFunction, Request, Response } from 'express';
import * as client from 'openid-client';
import createDebug from 'debug';
import { authRouteHeaders } from '../http.js';
import type { Config } from '../options.js';
import type { Provider } from '../provider.js';
import { RelyingPartyError } from '../errors.js';
import { authOf, endSession, requireSession } from '../session.js';
import { markSignedOut } from '../sign-out.js';
import type { AuthRecord } from '../session.js';

const debug = createDebug('express-relying-party:logout');

/** Revokes the refresh token, then the access token; a failure is logged and never blocks the logout. */
async function revokeTokens(configuration: client.Configuration, auth: AuthRecord): Promise<void> {
  const tokens: [string, string | undefined][] = [
    ['refresh_token', auth.refreshToken],
    ['access_token', auth.accessToken],
  ];
  for (const [hint, token] of tokens) {
    if (token === undefined) continue;
    try {
      await client.tokenRevocation(configuration, token, { token_type_hint: hint });
      debug('revoked the %s', hint);
    } catch (err) {
      debug('revoking the %s failed: %s', hint, err instanceof Error ? err.message : String(err));
    }
  }
}

/**
 * True when the browser says the request comes from another site: an
 * `<img src="/logout">` or a form on a foreign page. Current browsers send
 * `Sec-Fetch-Site`, which decides alone (a page with `Referrer-Policy:
 * no-referrer`, helmet's default, posts its own forms with `Origin: null`).
 * Older browsers send only `Origin` on POST: another origin is refused,
 * `null` proves nothing. Requests with neither (curl, old browsers) are let
 * through: such a client is not a browser tricked by a page.
 */
function isCrossSite(req: Request, baseOrigin: string): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = req.headers.origin;
  return origin !== undefined && origin !== 'null' && origin !== baseOrigin;
}

/**
 * Signs out locally first (so a provider that is down cannot keep anyone
 * signed in), revokes the tokens when configured, then sends a signed-in
 * user on to the provider's end_session_endpoint when it has one.
 *
 * The sign-out is final: the session id is marked signed out before the
 * session is replaced by a new one (only `keepSessionData` is carried), so
 * a request in flight with the old session cannot save it signed in again.
 */
export function createLogout(config: Config, provider: Provider) {
  const baseOrigin = new URL(config.baseUrl).origin;
  return async function logoutHandler(req: Request, res: Response, next: NextFunction): Promise<void> {
    authRouteHeaders(res);
    try {
      if (isCrossSite(req, baseOrigin)) {
        throw new RelyingPartyError('logout_forbidden', `A logout from another site was refused: sign out from a page of ${baseOrigin}.`);
      }
      const session = requireSession(req);
      const signedIn = session.relyingParty?.auth !== undefined;
      // tokens are only ever sent to the provider that issued them
      const auth = authOf(session, config);
      // a signed-out visitor's session is left alone: saving it would store an empty session
      if (signedIn) {
        await markSignedOut(req.sessionStore, req.sessionID);
        // after a sign-out, silentLogin must not sign the user straight back in
        await endSession(req, config.keepSessionData, config.silentLogin ? { silentLoginTried: true } : {});
      }

      let target = config.postLogoutRedirect;
      if (auth) {
        const configuration = await provider.get().catch(() => undefined);
        const metadata = configuration?.serverMetadata();
        if (configuration && (config.revokeOnLogout ?? metadata?.revocation_endpoint !== undefined)) {
          await revokeTokens(configuration, auth);
        }
        if (configuration && metadata?.end_session_endpoint) {
          const parameters: Record<string, string> = {
            client_id: config.clientId,
            post_logout_redirect_uri: config.postLogoutRedirect,
          };
          if (auth.idToken) parameters.id_token_hint = auth.idToken;
          target = client.buildEndSessionUrl(configuration, parameters).href;
        }
      }
      debug('signed out%s', signedIn ? '' : ' (was not signed in)');
      res.redirect(target);
    } catch (err) {
      next(err);
    }
  };
}
