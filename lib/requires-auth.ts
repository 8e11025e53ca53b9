import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthContext } from './context.js';
import { RelyingPartyError } from './errors.js';
import { isBrowserNavigation } from './http.js';
import { calledAsMiddleware } from './middleware.js';
import { safeReturnTo } from './return-to.js';
import { authOf } from './session.js';
import type { RequestSession } from './session.js';
import { requestFor } from './step-up.js';
import { enforceRequirement } from './step-up-guard.js';
import { parseRequiresAuthOptions, scopesFor } from './step-up-options.js';
import type { RequiresAuthOptions } from './step-up-options.js';
import { needsRefresh } from './tokens.js';

/**
 * Guards a route. Signed in: `next()`, after refreshing an access token that
 * is expired or about to expire (`autoRefresh`). Signed out — or signed out
 * because the provider refused the refresh — a browser page load (GET/HEAD
 * accepting `text/html`) is sent into the login flow and comes back to the
 * same URL; anything else gets `401 {"error":"unauthenticated"}`. Needs
 * `relyingParty()` mounted before it. No I/O unless a refresh is due.
 *
 * With `options`, the sign-in must also meet what they require (`acr`,
 * `maxAge`, `scopes`, `claims`): a browser page load steps up, an API
 * request gets an RFC 9470 or `insufficient_scope` challenge; see
 * {@link RequiresAuthOptions}. Options are validated now
 * (`invalid_options`).
 */
export function requiresAuth(options?: RequiresAuthOptions): RequestHandler {
  // eslint-disable-next-line prefer-rest-params
  if (calledAsMiddleware(arguments)) {
    throw new RelyingPartyError('invalid_options', 'requiresAuth must be called: app.get(path, requiresAuth(), handler), not requiresAuth.');
  }
  const requirement = parseRequiresAuthOptions(options);
  return function requiresAuthHandler(req: Request, res: Response, next: NextFunction): void {
    const internals = AuthContext.internals(req.auth);
    if (!internals) {
      return next(new RelyingPartyError('not_mounted', 'requiresAuth() needs relyingParty() mounted before it: app.use(relyingParty({ ... })).'));
    }
    const record = authOf(req.session as RequestSession, internals.config);
    if (record && !(internals.config.autoRefresh && needsRefresh(record, internals.config))) {
      return requirement === undefined ? next() : enforceRequirement(requirement, req, res, next, internals, record);
    }

    const guard = async () => {
      if (record) {
        await internals.refresher.refresh(req);
        const refreshed = authOf(req.session as RequestSession, internals.config);
        if (refreshed) return requirement === undefined ? next() : enforceRequirement(requirement, req, res, next, internals, refreshed);
      }
      // a HEAD request never starts a login: it would store state no browser comes back for
      if (isBrowserNavigation(req) && req.method !== 'HEAD') {
        // a route's requirement is asked for at once, not in a second round trip
        const request = requirement && requestFor(requirement, scopesFor(requirement.scopes, req), undefined);
        return internals.startLogin(req, res, next, safeReturnTo(req.originalUrl), request);
      }
      res.status(401).json({ error: 'unauthenticated' });
    };
    guard().catch(next);
  };
}
