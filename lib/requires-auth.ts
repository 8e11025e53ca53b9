import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthContext } from './context.js';
import { RelyingPartyError } from './errors.js';
import { isBrowserNavigation } from './http.js';
import { calledAsMiddleware } from './middleware.js';
import { safeReturnTo } from './return-to.js';

/**
 * Guards a route. Signed in: `next()`. Signed out: a browser page load
 * (GET/HEAD accepting `text/html`) is sent into the login flow and comes
 * back to the same URL; anything else gets `401 {"error":"unauthenticated"}`.
 * Needs `relyingParty()` mounted before it. Does no I/O for signed-in users.
 */
export function requiresAuth(): RequestHandler {
  // `arguments`, not a rest parameter: the public signature stays as documented
  // eslint-disable-next-line prefer-rest-params
  if (calledAsMiddleware(arguments)) {
    throw new RelyingPartyError('invalid_options', 'requiresAuth must be called: app.get(path, requiresAuth(), handler), not requiresAuth.');
  }
  return function requiresAuthHandler(req: Request, res: Response, next: NextFunction): void {
    const auth = req.auth;
    if (auth?.isAuthenticated()) return next();
    const relyingParty = AuthContext.loginStarter(auth);
    if (!relyingParty) {
      return next(new RelyingPartyError('not_mounted', 'requiresAuth() needs relyingParty() mounted before it: app.use(relyingParty({ ... })).'));
    }
    if (isBrowserNavigation(req)) {
      void relyingParty.startLogin(req, res, next, safeReturnTo(req.originalUrl));
      return;
    }
    res.status(401).json({ error: 'unauthenticated' });
  };
}
