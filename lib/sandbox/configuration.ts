import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import type { Configuration, KoaContextWithOIDC, TokenContext } from 'oidc-provider';
import type { OidcProviderModule } from './load-provider.js';
import type { SandboxConfig } from './options.js';
import { parsePaymentScope } from './payment-scopes.js';
import { SANDBOX_ACR_VALUES } from './sca.js';
import { scaPolicy } from './sca-policy.js';
import type { SandboxUsers } from './users.js';
import type { SandboxViews } from './views.js';

/**
 * The oidc-provider configuration of the sandbox: one confidential client
 * (the app), the standard scopes and claims, PKCE for everyone, refresh
 * tokens, RP-initiated logout, and JWT access tokens for the optional API
 * (which also takes payment consents, `payments:…` dynamic scopes).
 * With `profile: 'fapi2'`, oidc-provider's FAPI 2.0 profile: pushed
 * authorization requests required, a `private_key_jwt` client whose
 * tokens are DPoP-bound, PS256/ES256/EdDSA only. Everything the sandbox
 * decides about the protocol is here; the pages are in `interactions.ts`
 * and `views.ts`.
 */
export function providerConfiguration(args: {
  config: SandboxConfig;
  users: SandboxUsers;
  signingKeys: readonly JWK[];
  oidcProvider: OidcProviderModule;
  views: SandboxViews;
  /** Where the interaction pages are, e.g. `/oidc/interaction`. */
  interactionPath: string;
}): Configuration {
  const { config, users, signingKeys, oidcProvider, views, interactionPath } = args;
  const { api, accessTokenTtl } = config;
  const fapi2 = config.profile === 'fapi2';
  const fapiAlgs = ['PS256', 'ES256', 'EdDSA'];
  // ID tokens and JWT access tokens are signed with the first key's algorithm
  const tokenAlg = typeof signingKeys[0]?.alg === 'string' ? signingKeys[0].alg : 'RS256';
  return {
    adapter: oidcProvider.createMemoryAdapter(),
    clients: [
      {
        client_id: config.clientId,
        client_secret: config.clientSecret,
        client_name: config.clientName,
        redirect_uris: [...config.redirectUris],
        post_logout_redirect_uris: [...config.postLogoutRedirectUris],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        id_token_signed_response_alg: tokenAlg,
        ...(config.clientJwksUri === undefined
          ? { token_endpoint_auth_method: 'client_secret_basic' }
          : { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: config.clientJwksUri }),
        // FAPI 2.0: sender-constrained tokens
        ...(fapi2 ? { dpop_bound_access_tokens: true } : {}),
      },
    ],
    ...(fapi2
      ? {
          enabledJWA: {
            clientAuthSigningAlgValues: fapiAlgs,
            idTokenSigningAlgValues: fapiAlgs,
            requestObjectSigningAlgValues: fapiAlgs,
            dPoPSigningAlgValues: fapiAlgs,
          },
        }
      : {}),
    // the app's JWK Set is on this machine: oidc-provider refuses loopback
    // addresses to protect real deployments from SSRF; the sandbox only
    // ever fetches the one jwks_uri its options name
    fetch: (url, options) => fetch(url, { ...options, dispatcher: undefined } as RequestInit),
    jwks: { keys: signingKeys.map((key) => ({ ...key })) },
    findAccount: users.findAccount,
    scopes: Object.keys(config.claims),
    // `sid` is not released by a scope; it goes into ID tokens by itself
    claims: { ...Object.fromEntries(Object.entries(config.claims).map(([scope, claims]) => [scope, [...claims]])), sid: null },
    // the claims of the granted scopes go into the ID token, as most
    // providers do, so `req.auth.user` has them without a userinfo call
    conformIdTokenClaims: false,
    acrValues: [...SANDBOX_ACR_VALUES],
    // PKCE for every client, confidential ones included, as OAuth 2.1 and the
    // OAuth security BCP (RFC 9700) recommend: a stolen code is useless
    // without the verifier that only the app's session holds
    pkce: { required: () => true },
    // a refresh token with every login, so the app renews the short-lived
    // access token without sending the user back to the provider
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    features: {
      devInteractions: { enabled: false },
      fapi: fapi2 ? { enabled: true, profile: '2.0' } : { enabled: false },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: fapi2 },
      requestObjects: { enabled: true },
      dPoP: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: KoaContextWithOIDC, form: string) => {
          ctx.type = 'html';
          ctx.body = views.logoutPage(form);
        },
        postLogoutSuccessSource: (ctx: KoaContextWithOIDC) => {
          ctx.type = 'html';
          ctx.body = views.loggedOutPage();
        },
      },
      // RFC 8707: the app's authorization request names the API it wants a
      // token for (`resource`); the access token is then a JWT (RFC 9068)
      // with that API as `aud`, so the API can verify it on its own and no
      // other service accepts it. Without `resource`, the API is the default.
      resourceIndicators: api
        ? {
            enabled: true,
            defaultResource: () => api.audience,
            // the token request does not repeat `resource`: use the one granted at consent
            useGrantedResource: () => true,
            getResourceServerInfo: (ctx, resourceIndicator) => {
              if (resourceIndicator !== api.audience) throw new oidcProvider.InvalidTarget(`unknown resource ${resourceIndicator}`);
              return {
                scope: [...api.scopes, ...paymentScopesOf(ctx)].join(' '),
                audience: api.audience,
                accessTokenFormat: 'jwt',
                accessTokenTTL: accessTokenTtl,
                jwt: { sign: { alg: tokenAlg } },
              };
            },
          }
        : { enabled: false },
    },
    interactions: { url: (_ctx, interaction) => `${interactionPath}/${interaction.uid}`, policy: scaPolicy(oidcProvider.interactionPolicy) },
    // RFC 9068 §2.2.1: the API's JWT access tokens say how and when the user
    // authenticated, so the API can ask for a step-up itself (RFC 9470)
    extraTokenClaims: (ctx) => {
      const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken;
      return source === undefined ? undefined : { acr: source.acr, auth_time: source.authTime };
    },
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
      ctx.body = views.providerErrorPage({ status: ctx.status, error: out.error, description: out.error_description });
    },
  };
}

/**
 * The payment scopes of the request at hand: a resource server's scopes are
 * a fixed list in oidc-provider, so the well-formed `payments:…` scopes of
 * the authorization request (or of the code or refresh token being
 * exchanged) are added to it, and each payment can be consented to.
 */
function paymentScopesOf(ctx: TokenContext): string[] {
  const { params, entities } = ctx.oidc;
  const sources = [params?.scope, entities.AuthorizationCode?.scope, entities.RefreshToken?.scope];
  const scopes = sources.flatMap((scope) => (typeof scope === 'string' ? scope.split(' ') : []));
  return [...new Set(scopes.filter((scope) => parsePaymentScope(scope) !== undefined))];
}
