import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthContext } from './context.js';
import type { Internals } from './context.js';
import { RelyingPartyError } from './errors.js';
import { parseOptions } from './options.js';
import type { RelyingPartyOptions } from './options.js';
import { createProvider } from './provider.js';
import { createBackchannelLogout } from './routes/backchannel-logout.js';
import { createCallback } from './routes/callback.js';
import { createJwks } from './routes/jwks.js';
import { createLogin } from './routes/login.js';
import { createLogout } from './routes/logout.js';
import { clearAuth, requireSession, restoreAppCookie } from './session.js';
import type { RequestSession } from './session.js';
import { guardSave } from './sign-out.js';
import { instanceNamed, register } from './instances.js';
import { isBrowserNavigation } from './http.js';
import { safeReturnTo } from './return-to.js';
import { TokenRefresher } from './tokens.js';

type Route = { readonly methods: readonly string[]; readonly handler: (req: Request, res: Response, next: NextFunction) => unknown };

/** True when Express called the factory itself: `app.use(relyingParty)` instead of `app.use(relyingParty({...}))`. */
export function calledAsMiddleware(args: IArguments): boolean {
  const first: unknown = args[0];
  return args.length >= 3 || (typeof first === 'object' && first !== null && 'method' in first && 'headers' in first);
}

/**
 * Makes the app an OpenID Connect relying party: answers the login,
 * callback and logout routes and attaches `req.auth` to every request.
 * Options are validated now; the provider is discovered on first need.
 *
 * @example
 * app.use(session({ secret, resave: false, saveUninitialized: false }));
 * app.use(relyingParty({ issuer, clientId, clientSecret, baseUrl }));
 * app.get('/profile', requiresAuth(), (req, res) => res.json(req.auth?.user));
 */
export function relyingParty(options: RelyingPartyOptions): RequestHandler {
  // `arguments`, not a rest parameter: the public signature stays as documented
  // eslint-disable-next-line prefer-rest-params
  if (calledAsMiddleware(arguments)) {
    throw new RelyingPartyError(
      'invalid_options',
      'relyingParty must be called with its options: app.use(relyingParty({ issuer, clientId, clientSecret, baseUrl })), not app.use(relyingParty).',
    );
  }
  const config = parseOptions(options);
  const provider = createProvider(config);
  const { startLogin, loginHandler } = createLogin(config, provider);
  const internals: Internals = { config, provider, refresher: new TokenRefresher(config, provider), startLogin };

  // a plain Map lookup instead of an express.Router(): every request of the app passes here
  const routes = new Map<string, Route>();
  if (config.routes.login) routes.set(config.routes.login, { methods: ['GET', 'HEAD'], handler: loginHandler });
  routes.set(config.routes.callback, { methods: ['GET'], handler: createCallback(config, provider) });
  const logoutHandler = createLogout(config, provider);
  if (config.routes.logout) routes.set(config.routes.logout, { methods: ['GET', 'POST'], handler: logoutHandler });
  if (config.routes.backchannelLogout) {
    routes.set(config.routes.backchannelLogout, { methods: ['POST'], handler: createBackchannelLogout(config, provider) });
  }
  // the client's public keys need no session: served even while the session store is down
  const jwksHandler = config.routes.jwks ? createJwks(config) : undefined;

  return function relyingPartyMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (jwksHandler !== undefined && req.path === config.routes.jwks && (req.method === 'GET' || req.method === 'HEAD')) {
      void jwksHandler(req, res, next);
      return;
    }
    let session: RequestSession;
    try {
      session = requireSession(req);
      register(req, internals);
    } catch (err) {
      return next(err);
    }
    const data = session.relyingParty;
    // with several providers side by side, the first instance prepares the session and builds req.auth
    if (AuthContext.internals(req.auth as unknown) === undefined) {
      if (data !== undefined) {
        const auth = data.auth;
        if (auth !== undefined) {
          guardSave(session, req.sessionStore);
          // a sign-in past absoluteLifetime is over: its tokens leave the session
          const lifetime = (instanceNamed(req, auth.provider) ?? internals).config.absoluteLifetime;
          if (lifetime !== false && Date.now() - auth.signedInAt >= lifetime) clearAuth(session);
        }
        if (data.appCookieMaxAge !== undefined) restoreAppCookie(session);
      }
      req.auth = new AuthContext(req, internals);
    }
    const route = routes.get(req.path);
    if (route !== undefined && route.methods.includes(req.method)) {
      // a shared logout path is answered by the instance the user signed in with
      const owner = route.handler === logoutHandler ? data?.auth?.provider : undefined;
      if (owner === undefined || owner === config.name || instanceNamed(req, owner) === undefined) {
        void route.handler(req, res, next);
        return;
      }
    }
    if (config.silentLogin && wantsSilentLogin(req, session)) {
      (session.relyingParty ??= {}).silentLoginTried = true;
      void startLogin(req, res, next, safeReturnTo(req.originalUrl), { prompt: 'none', silent: true });
      return;
    }
    next();
  };
}

/**
 * A first page load of a signed-out session in a browser: a GET that
 * accepts HTML and, where the browser says so, is a top-level navigation
 * (not an iframe, image or fetch).
 */
function wantsSilentLogin(req: Request, session: RequestSession): boolean {
  if (req.method !== 'GET' || !isBrowserNavigation(req)) return false;
  const data = session.relyingParty;
  if (data?.auth !== undefined || data?.silentLoginTried) return false;
  const mode = req.headers['sec-fetch-mode'];
  const dest = req.headers['sec-fetch-dest'];
  return (mode === undefined || mode === 'navigate') && (dest === undefined || dest === 'document');
}
