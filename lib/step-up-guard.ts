import type { NextFunction, Request, Response } from 'express';
import { authenticationChallenge, scopeChallenge } from './challenges.js';
import { AuthContext } from './context.js';
import type { Internals } from './context.js';
import { RelyingPartyError } from './errors.js';
import { isBrowserNavigation } from './http.js';
import { safeReturnTo } from './return-to.js';
import type { AuthRecord } from './session.js';
import { repeatsStepUp, requestFor, shortfallOf, stepUpFailed, stepUpUser } from './step-up.js';
import type { Requirement } from './step-up-options.js';

/**
 * What `requiresAuth(options)` does with a signed-in request: `next()` when
 * the sign-in meets the route's requirement; else a browser page load steps
 * up, an API request gets the challenge, and unmatched claims get `403`.
 */
export function enforceRequirement(requirement: Requirement, req: Request, res: Response, next: NextFunction, internals: Internals, record: AuthRecord): void {
  let shortfall: ReturnType<typeof shortfallOf>;
  try {
    shortfall = shortfallOf(requirement, req, record, internals.config, () => AuthContext.idTokenClaims(req.auth), () => req.auth.user);
  } catch (err) {
    // a scopes or claims function that threw, or built an invalid scope from the request
    return next(err);
  }
  if (shortfall === undefined) return next();

  // a HEAD request never starts a login: it would store state no browser comes back for
  const navigation = isBrowserNavigation(req) && req.method !== 'HEAD';
  if (shortfall.claims) {
    // claims are who the user is: a new login would not change them
    if (navigation) return next(new RelyingPartyError('forbidden', 'Your account does not have access to this page.'));
    res.status(403).json({ error: 'forbidden' });
    return;
  }
  if (!navigation) {
    if (shortfall.acr || shortfall.maxAge) {
      res.setHeader('WWW-Authenticate', authenticationChallenge(requirement.acr, requirement.maxAge));
      res.status(401).json({ error: 'insufficient_user_authentication' });
    } else {
      res.setHeader('WWW-Authenticate', scopeChallenge(shortfall.scopes));
      res.status(403).json({ error: 'insufficient_scope' });
    }
    return;
  }

  const returnTo = safeReturnTo(req.originalUrl);
  // an old auth_time only says that time has passed; a wrong acr or missing scope right after a step-up is a loop
  if ((shortfall.acr || shortfall.scopes.length > 0) && repeatsStepUp(record, returnTo)) {
    return next(stepUpFailed(`it still lacks ${shortfall.acr ? 'the authentication level' : 'a scope'} it requires`));
  }
  // everything the route requires, scopes as checked above (a function is not called twice)
  const request = requestFor(requirement, shortfall.required, stepUpUser(AuthContext.idTokenClaims(req.auth)));
  void internals.startLogin(req, res, next, returnTo, request);
}
