import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import { closeServer, listen } from '../http-server.js';
import { providerConfiguration } from './configuration.js';
import { interactionRoutes } from './interactions.js';
import { loadOidcProvider } from './load-provider.js';
import { parseSandboxOptions, validateUser } from './options.js';
import type { SandboxConfig, SandboxOptions, SandboxUser } from './options.js';
import { SandboxUsers } from './users.js';
import { sandboxViews } from './views.js';

/** A running sandbox provider. */
export interface Sandbox {
  /** Issuer identifier; discovery is at `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** The app's client id. */
  readonly clientId: string;
  /** The app's client secret. */
  readonly clientSecret: string;
  /** The redirect URIs registered for the app. */
  readonly redirectUris: readonly string[];
  /** The post-logout redirect URIs registered for the app. */
  readonly postLogoutRedirectUris: readonly string[];
  /** `'fapi2'` when it runs the FAPI 2.0 Security Profile. */
  readonly profile: 'fapi2' | undefined;
  /** The app's registered JWK Set URL when it authenticates with `private_key_jwt`. */
  readonly clientJwksUri: string | undefined;
  /**
   * Adds a user (or replaces the one with the same `sub`): typing its `sub`
   * at the login page signs in with exactly these claims. Throws
   * `invalid_options` for a claim no scope releases.
   */
  addUser(user: SandboxUser): void;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/** Generates an RSA signing key for `alg` (default `RS256`) as a private JWK whose `kid` is its RFC 7638 thumbprint. */
export async function generateSigningKey(alg: 'RS256' | 'PS256' = 'RS256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: 'sig' };
}

/**
 * Starts Sandbox Bank, an OpenID provider for development and tests, and
 * resolves once it is listening. It registers one app as a confidential
 * client, signs tokens with a key generated at start, and renders its own
 * login, consent and Strong Customer Authentication pages; any username
 * and password work. Everything is in memory: once closed, every session
 * and token is gone. Needs the `oidc-provider` package.
 *
 * @example
 * const sandbox = await startSandbox({ redirectUris: ['http://localhost:3000/callback'] });
 * app.use(relyingParty({ issuer: sandbox.issuer, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, baseUrl: 'http://localhost:3000' }));
 */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const config = parseSandboxOptions(options);
  const oidcProvider = await loadOidcProvider();
  const signingKeys = config.signingKeys ?? [await generateSigningKey(config.profile === 'fapi2' ? 'PS256' : 'RS256')];

  // listen first: with port 0 the issuer URL is only known once the OS picked a port
  const server = createServer();
  const address = await listen(server, config.port, config.host);
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const issuer = `http://${host}:${address.port}${config.issuerPath}`;
  const users = new SandboxUsers(config.users);
  try {
    const views = sandboxViews(config.issuerPath);
    const provider = new oidcProvider.Provider(
      issuer,
      providerConfiguration({ config, users, signingKeys, oidcProvider, views, interactionPath: `${config.issuerPath}/interaction` }),
    );
    provider.on('server_error', (_ctx, err) => console.error('[sandbox] server error:', err));

    const app = express();
    app.disable('x-powered-by');
    app.use(securityHeaders(config));
    const routes = express.Router();
    routes.use('/sandbox-assets', express.static(fileURLToPath(new URL('./public/', import.meta.url))));
    routes.use(
      interactionRoutes({
        provider,
        users,
        views,
        basePath: config.issuerPath,
        clientNames: new Map([[config.clientId, config.clientName]]),
        oidcScopes: new Set(Object.keys(config.claims)),
        api: config.api && { indicator: config.api.audience, scopes: config.api.scopes },
      }),
    );
    // everything else is the provider: discovery, authorize, token, jwks, userinfo, logout
    routes.use(provider.callback());
    app.use(config.issuerPath || '/', routes);
    app.use(function sandboxErrorHandler(err: unknown, _req: Request, res: Response, next: NextFunction) {
      if (res.headersSent) return next(err);
      const { status, error, description } = describeProviderError(err);
      if (status >= 500) console.error('[sandbox]', err);
      res.status(status).type('html').send(views.providerErrorPage({ status, error, description }));
    });
    server.on('request', app);
  } catch (err) {
    await closeServer(server);
    throw err;
  }

  return Object.freeze({
    issuer,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    redirectUris: config.redirectUris,
    postLogoutRedirectUris: config.postLogoutRedirectUris,
    profile: config.profile,
    clientJwksUri: config.clientJwksUri,
    addUser(user: SandboxUser) {
      users.add(validateUser(user, config.claims, 'addUser()'));
    },
    close: () => closeServer(server),
  });
}

/**
 * Headers of every sandbox page: a strict CSP (no inline scripts or styles;
 * oidc-provider adds the hash of its own auto-submitting form_post script
 * when it needs one), no framing, no sniffing, no referrer.
 */
function securityHeaders(config: SandboxConfig) {
  // after the last form the browser is redirected to the app's callback:
  // form-action must allow the app's origins too
  const appOrigins = new Set([...config.redirectUris, ...config.postLogoutRedirectUris].map((uri) => new URL(uri).origin));
  const csp = [
    "default-src 'self'",
    "base-uri 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "img-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `form-action 'self' ${[...appOrigins].join(' ')}`,
  ].join('; ');
  return function sandboxSecurityHeaders(_req: Request, res: Response, next: NextFunction): void {
    res.set({
      'Content-Security-Policy': csp,
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
    });
    next();
  };
}

/** oidc-provider errors (e.g. an expired interaction) carry an OAuth `error` and a status. */
function describeProviderError(err: unknown): { status: number; error: string; description: string | undefined } {
  if (typeof err === 'object' && err !== null) {
    const { status, error, error_description: description } = err as Record<string, unknown>;
    if (typeof status === 'number' && status >= 400 && status < 500 && typeof error === 'string') {
      return { status, error, description: typeof description === 'string' ? description : undefined };
    }
  }
  return { status: 500, error: 'server_error', description: 'The sandbox failed unexpectedly; see the terminal.' };
}
