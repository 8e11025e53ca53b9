import type { NextFunction, Request, RequestHandler, Response } from 'express';
import * as client from 'openid-client';
import createDebug from 'debug';
import { buildAuthorizationRequest } from '../authorization-request.js';
import { authRouteHeaders, searchOf } from '../http.js';
import type { Config } from '../options.js';
import type { Provider } from '../provider.js';
import { safeReturnTo } from '../return-to.js';
import { addPendingLogin, requireSession, saveSession } from '../session.js';
import type { PendingLogin, RequestSession } from '../session.js';
import { RelyingPartyError } from '../errors.js';
import { authorizationRequest } from '../step-up.js';
import type { LoginRequest } from '../step-up.js';

const debug = createDebug('express-relying-party:login');

/**
 * Starts a login: records a pending login and redirects to the authorize
 * endpoint; `request` adds a step-up's parameters, or a silent login's
 * `prompt=none`.
 */
export type StartLogin = (req: Request, res: Response, next: NextFunction, returnTo: string, request?: LoginRequest) => Promise<void>;

/**
 * express-session sets no cookie with `cookie.secure` on a request it does
 * not see as https: the login would start, and only its callback would say
 * `state_unknown`. Caught here, at the start, with the fix.
 */
function checkCookieCanBeSet(req: Request, session: RequestSession): void {
  if (session.cookie.secure !== true || req.secure) return;
  throw new RelyingPartyError(
    'invalid_options',
    "express-session's cookie.secure is true, but this request reached the app over plain http (req.secure is false): the session cookie would not be set and the login could never finish. " +
      "Behind a TLS-terminating proxy, tell Express to trust it: app.set('trust proxy', 1). In local development over http, use cookie: { secure: 'auto' } or false.",
  );
}

/**
 * The login route and the login start it shares with `requiresAuth()`.
 * Only configured parameters reach the provider: nothing from the request
 * except `returnTo`, which stays in the session.
 */
export function createLogin(config: Config, provider: Provider): { startLogin: StartLogin; loginHandler: RequestHandler } {
  async function startLogin(req: Request, res: Response, next: NextFunction, returnTo: string, request?: LoginRequest): Promise<void> {
    authRouteHeaders(res);
    try {
      const session = requireSession(req);
      checkCookieCanBeSet(req, session);
      const configuration = await provider.get();

      // PKCE always (S256), even for confidential clients: it binds the code to this browser's session
      const state = client.randomState();
      const codeVerifier = client.randomPKCECodeVerifier();
      const { parameters: requested, asked } = authorizationRequest(config, request);
      const parameters: Record<string, string> = {
        ...requested,
        redirect_uri: config.redirectUri,
        response_type: 'code',
        state,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
      };
      const login: PendingLogin = { provider: config.name, codeVerifier, returnTo, createdAt: Date.now() };
      if (request?.silent) login.silent = true;
      if (asked) login.asked = asked;
      if (config.openid) login.nonce = parameters.nonce = client.randomNonce();
      // PAR, JAR and dpop_jkt as the options say
      const built = await buildAuthorizationRequest(config, provider, configuration, parameters);
      // recorded when it was not a plain one: sessions stay small
      if (built.pushed || built.signed) login.authorizationRequest = { pushed: built.pushed, signed: built.signed };
      const authorizationUrl = built.url;

      addPendingLogin(session, state, login, config);
      // stored before the redirect, or a fast provider could send the browser back first
      await saveSession(session);
      // the path only: a query string may carry a one-time value of the app (a reset token)
      debug('login started, back to %s afterwards', new URL(returnTo, 'http://return-to.invalid').pathname);
      res.redirect(authorizationUrl.href);
    } catch (err) {
      next(err);
    }
  }

  function loginHandler(req: Request, res: Response, next: NextFunction): void {
    if (req.method === 'HEAD') {
      // link checkers and previews: a login needs state in the session, and they would only leave it behind
      authRouteHeaders(res);
      res.status(204).end();
      return;
    }
    const returnTo = safeReturnTo(new URLSearchParams(searchOf(req)).get('returnTo'));
    void startLogin(req, res, next, returnTo);
  }

  return { startLogin, loginHandler };
}
