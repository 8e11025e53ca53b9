import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { closeServer, listen } from '../http-server.js';
import { SandboxAccounts } from './accounts.js';
import { interactionRoutes } from './interactions.js';
import { ACR_CUSTOMER_AUTHENTICATION, ACR_STRONG_CUSTOMER_AUTHENTICATION } from './sca.js';
import { loggedOutPage, logoutPage, providerErrorPage } from './views.js';

/**
 * Sandbox Bank: an OpenID provider (oidc-provider v9) for the demo, so that
 * `npm start` works with nothing to set up. It registers the demo app as a
 * client, signs tokens with a key generated at start, renders its own
 * login, consent and Strong Customer Authentication pages, and issues JWT
 * access tokens for the demo accounts API. Everything is in memory: restart
 * it and every session and token is gone.
 */

/** The demo app, as registered at the sandbox. */
export interface SandboxClient {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Shown on the login and consent pages. */
  readonly clientName: string;
  /** Exact redirect URIs the client may use: `<BASE_URL>/callback`. */
  readonly redirectUris: readonly string[];
  /** Where the client may send the browser after logout: `<BASE_URL>/`. */
  readonly postLogoutRedirectUris: readonly string[];
}

export interface SandboxOptions {
  /** Interface to listen on. Default is `'127.0.0.1'`. */
  readonly host?: string;
  /** Port to listen on; `0` picks a free one. Default is `3001`. */
  readonly port?: number;
  readonly client: SandboxClient;
  /** The demo API: access tokens are JWTs with this `aud` and these scopes. Default scopes: `['accounts:read']`. */
  readonly api: { readonly audience: string; readonly scopes?: readonly string[] };
  /** Private signing keys (JWK with `kid`). Default is one RS256 key generated at start. */
  readonly signingKeys?: readonly JWK[];
  /** Lifetime of access tokens in seconds. Default is `600`. */
  readonly accessTokenTtl?: number;
}

/** A running sandbox. */
export interface Sandbox {
  /** Issuer identifier; discovery is at `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/** Generates an RS256 signing key as a private JWK whose `kid` is its RFC 7638 thumbprint. */
export async function generateSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
}

const OIDC_SCOPES = ['openid', 'profile', 'email'] as const;

/** The parts of oidc-provider's configuration the sandbox sets beyond what `Configuration` types. */
type SandboxConfiguration = Configuration & {
  acrValues: string[];
  scopes: string[];
  features: NonNullable<Configuration['features']> & {
    resourceIndicators: {
      enabled: boolean;
      defaultResource: () => string;
      useGrantedResource: () => boolean;
      getResourceServerInfo: (ctx: unknown, resourceIndicator: string) => {
        scope: string;
        audience: string;
        accessTokenFormat: 'jwt';
        accessTokenTTL: number;
        jwt: { sign: { alg: string } };
      };
    };
  };
};

function originOf(url: string): string {
  return new URL(url).origin;
}

/** Starts Sandbox Bank and resolves once it is listening. */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const { client, api, host = '127.0.0.1', port = 3001, accessTokenTtl = 600 } = options;
  const apiScopes = api.scopes ?? ['accounts:read'];
  const signingKeys = options.signingKeys ?? [await generateSigningKey()];

  // listen first: with port 0 the issuer URL is only known once the OS picked a port
  const server = createServer();
  const address = await listen(server, port, host);
  const issuer = `http://${host}:${address.port}`;

  const accounts = new SandboxAccounts();
  const configuration: SandboxConfiguration = {
    // oidc-provider's own in-memory store, chosen explicitly (which also
    // silences its "you MUST change the adapter" warning): a sandbox is meant
    // to forget every session and token when it stops. A real provider plugs
    // a database in here.
    adapter: createMemoryAdapter(),
    clients: [
      {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        client_name: client.clientName,
        redirect_uris: [...client.redirectUris],
        post_logout_redirect_uris: [...client.postLogoutRedirectUris],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: signingKeys.map((key) => ({ ...key })) },
    findAccount: accounts.findAccount,
    scopes: [...OIDC_SCOPES],
    // which claims each scope releases; `openid` always brings acr, amr and
    // auth_time, so the app learns how (and when) the user authenticated
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      sid: null,
    },
    acrValues: [ACR_CUSTOMER_AUTHENTICATION, ACR_STRONG_CUSTOMER_AUTHENTICATION],
    // PKCE for every client, confidential ones included, as OAuth 2.1 and the
    // OAuth security BCP (RFC 9700) recommend: a stolen code is useless
    // without the verifier that only the app's session holds
    pkce: { required: () => true },
    // a refresh token with every login, so the app renews the 10-minute
    // access token without sending the user back to the bank
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: KoaContextWithOIDC, form: string) => {
          ctx.type = 'html';
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource: (ctx: KoaContextWithOIDC) => {
          ctx.type = 'html';
          ctx.body = loggedOutPage();
        },
      },
      // RFC 8707: the app's authorization request names the API it wants a
      // token for (`resource`); the access token is then a JWT (RFC 9068)
      // with that API as `aud`, so the API can verify it on its own and no
      // other service accepts it. Without `resource`, the demo API is the default.
      resourceIndicators: {
        enabled: true,
        defaultResource: () => api.audience,
        // the token request does not repeat `resource`: use the one granted at consent
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          if (resourceIndicator !== api.audience) throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
          return {
            scope: apiScopes.join(' '),
            audience: api.audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: accessTokenTtl,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    ttl: {
      AccessToken: accessTokenTtl,
      RefreshToken: 8 * 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = providerErrorPage({ status: ctx.status, error: out.error, description: out.error_description });
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (_ctx, err) => console.error('[sandbox] server error:', err));

  const app = express();
  app.disable('x-powered-by');
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          // no scripts of ours; oidc-provider adds the hash of its own
          // auto-submitting form_post script to this directive when it needs one
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          // after the last form the browser is redirected to the app's
          // callback: form-action must allow the clients' origins too
          formAction: ["'self'", ...new Set([...client.redirectUris, ...client.postLogoutRedirectUris].map(originOf))],
          // plain http on loopback: do not upgrade requests to https
          upgradeInsecureRequests: null,
        },
      },
      strictTransportSecurity: false,
    }),
  );
  app.use('/sandbox-assets', express.static(fileURLToPath(new URL('./public/', import.meta.url))));
  app.use(
    interactionRoutes({
      provider,
      accounts,
      clientNames: new Map([[client.clientId, client.clientName]]),
      oidcScopes: new Set(OIDC_SCOPES),
      api: { indicator: api.audience, scopes: apiScopes },
    }),
  );
  // everything else is the provider: discovery, authorize, token, jwks, logout
  app.use(provider.callback());
  app.use(function sandboxErrorHandler(err: unknown, _req: Request, res: Response, next: NextFunction) {
    if (res.headersSent) return next(err);
    const { status, error, description } = describeProviderError(err);
    if (status >= 500) console.error('[sandbox]', err);
    res.status(status).type('html').send(providerErrorPage({ status, error, description }));
  });

  server.on('request', app);
  return {
    issuer,
    close: () => closeServer(server),
  };
}

/** oidc-provider errors (e.g. an expired interaction) carry an OAuth `error` and a status. */
function describeProviderError(err: unknown): { status: number; error: string; description?: string } {
  if (typeof err === 'object' && err !== null) {
    const { status, error, error_description: description } = err as Record<string, unknown>;
    if (typeof status === 'number' && status >= 400 && status < 500 && typeof error === 'string') {
      return { status, error, description: typeof description === 'string' ? description : undefined };
    }
  }
  return { status: 500, error: 'server_error', description: 'The sandbox failed unexpectedly; see the terminal.' };
}

export { BANK_NAME } from './views.js';
