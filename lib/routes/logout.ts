import type { NextFunction, Request, Response } from 'express';
import * as client from 'openid-client';
import createDebug from 'debug';
import { noStore } from '../http.js';
import type { Config } from '../options.js';
import type { Provider } from '../provider.js';
import { clearAuth, requireSession, saveSession } from '../session.js';
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
 * Signs out locally first (so a provider that is down cannot keep anyone
 * signed in), revokes the tokens when configured, then sends a signed-in
 * user on to the provider's end_session_endpoint when it has one.
 */
export function createLogout(config: Config, provider: Provider) {
  return async function logoutHandler(req: Request, res: Response, next: NextFunction): Promise<void> {
    noStore(res);
    try {
      const session = requireSession(req);
      const auth = session.relyingParty?.auth;
      // a signed-out visitor's session is left alone: saving it would store an empty session
      if (auth) {
        clearAuth(session);
        await saveSession(session);
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
      debug('signed out%s', auth ? '' : ' (was not signed in)');
      res.redirect(target);
    } catch (err) {
      next(err);
    }
  };
}
