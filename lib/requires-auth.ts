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

function parseLoginUrl(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || safeReturnTo(value, '') !== value) {
    throw new RelyingPartyError('invalid_options', `requiresAuth(): \`loginUrl\` must be a same-origin path such as '/sign-in' (got ${typeof value === 'string' ? `"${value}"` : typeof value}).`);
  }
  return value;
}

/**
 * Guards a route. Signed in: `next()`, after refreshing an access token that
 * is expired or about to expire (`autoRefresh`). Signed out — or signed out
 * because the provider refused the refresh — a browser page load (GET
 * accepting `text/html`) is sent into the login flow of the first
 * `relyingParty()` mounted (or to `loginUrl`) and comes back to the same
 * URL; anything else gets `401 {"error":"unauthenticated"}`. Needs
 * `relyingParty()` mounted before it. No I/O unless a refresh is due.
 *
 * With `acr`, `maxAge`, `scopes` or `claims`, the sign-in must also meet
 * what they require: a browser page load steps up (at the provider the
 * user signed in with), an API request gets an RFC 9470 or
 * `insufficient_scope` challenge; see {@link RequiresAuthOptions}. Options
 * are validated now (`invalid_options`).
 */
export function requiresAuth(options?: RequiresAuthOptions): RequestHandler {
  // eslint-disable-next-line prefer-rest-params
  if (calledAsMiddleware(arguments)) {
    throw new RelyingPartyError('invalid_options', 'requiresAuth must be called: app.get(path, requiresAuth(), handler), not requiresAuth.');
  }
  const requirement = parseRequiresAuthOptions(options);
  const loginUrl = parseLoginUrl(options?.loginUrl);
  return function requiresAuthHandler(req: Request, res: Response, next: NextFunction): void {
    const first = AuthContext.internals(req.auth);
    const owner = AuthContext.owner(req.auth);
    if (!first || !owner) {
      return next(new RelyingPartyError('not_mounted', 'requiresAuth() needs relyingParty() mounted before it: app.use(relyingParty({ ... })).'));
    }
    const record = authOf(req.session as RequestSession, owner.config);
    if (record && !(owner.config.autoRefresh && needsRefresh(record, owner.config))) {
      return requirement === undefined ? next() : enforceRequirement(requirement, req, res, next, owner, record);
    }

    const guard = async () => {
      if (record) {
        await owner.refresher.refresh(req);
        const refreshed = authOf(req.session as RequestSession, owner.config);
        if (refreshed) return requirement === undefined ? next() : enforceRequirement(requirement, req, res, next, owner, refreshed);
      }
      // a HEAD request never starts a login: it would store state no browser comes back for
      if (isBrowserNavigation(req) && req.method !== 'HEAD') {
        const returnTo = safeReturnTo(req.originalUrl);
        if (loginUrl !== undefined) {
          const separator = loginUrl.includes('?') ? '&' : '?';
          return res.redirect(`${loginUrl}${separator}${new URLSearchParams({ returnTo }).toString()}`);
        }
        // a route's requirement is asked for at once, not in a second round trip
        const request = requirement && requestFor(requirement, scopesFor(requirement.scopes, req), undefined);
        return first.startLogin(req, res, next, returnTo, request);
      }
      res.status(401).json({ error: 'unauthenticated' });
    };
    guard().catch(next);
  };
}
