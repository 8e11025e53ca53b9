/**
 * What the options need from the provider, checked against its discovered
 * metadata once, before any login: a pushed authorization request endpoint
 * when PAR is forced, the algorithms and methods the client signs and
 * authenticates with, DPoP, request objects, and the provider's side of
 * the FAPI 2.0 profile.
 */
import type * as client from 'openid-client';
import { RelyingPartyError } from './errors.js';
import type { Config } from './options.js';

function invalid(message: string): RelyingPartyError {
  return new RelyingPartyError('invalid_options', `relyingParty(): ${message}`);
}

/** A list the provider advertises that lacks `value` (a list it does not advertise proves nothing). */
function lacks(list: unknown, value: string): list is string[] {
  return Array.isArray(list) && !list.includes(value);
}

/**
 * Throws when the options ask for what this provider does not offer:
 * `invalid_options` naming the option to change (status 500), or, for
 * `profile: 'fapi2'`, `provider_misconfigured` naming what the provider
 * lacks (status 502).
 */
export function checkProviderRequirements(config: Config, metadata: client.ServerMetadata): void {
  const issuer = metadata.issuer;
  const parEndpoint = metadata.pushed_authorization_request_endpoint;
  if (config.pushedAuthorizationRequests === true && parEndpoint === undefined) {
    const why = config.profile === 'fapi2' ? "profile 'fapi2' requires pushed authorization requests" : '`pushedAuthorizationRequests` is true';
    throw invalid(`${why}, but the provider ${issuer} has no pushed_authorization_request_endpoint.`);
  }
  if (metadata.require_pushed_authorization_requests === true) {
    if (config.pushedAuthorizationRequests === false) {
      throw invalid(`the provider ${issuer} requires pushed authorization requests: remove \`pushedAuthorizationRequests: false\`.`);
    }
    if (parEndpoint === undefined) {
      throw new RelyingPartyError('provider_misconfigured', `The provider ${issuer} requires pushed authorization requests but has no pushed_authorization_request_endpoint.`);
    }
  }

  const method = config.clientAuthMethod;
  if ((method === 'private_key_jwt' || method === 'client_secret_jwt') && lacks(metadata.token_endpoint_auth_methods_supported, method)) {
    throw invalid(`clientAuthMethod '${method}' is not one the provider ${issuer} accepts (${metadata.token_endpoint_auth_methods_supported.join(', ')}).`);
  }
  const assertionAlg = method === 'private_key_jwt' ? config.clientKey?.alg : method === 'client_secret_jwt' ? 'HS256' : undefined;
  if (assertionAlg !== undefined && lacks(metadata.token_endpoint_auth_signing_alg_values_supported, assertionAlg)) {
    throw invalid(
      `the client assertion is signed ${assertionAlg} (\`clientAssertionSigningAlg\`, or the algorithm of \`clientPrivateKey\`), which the provider ${issuer} does not accept (${metadata.token_endpoint_auth_signing_alg_values_supported.join(', ')}).`,
    );
  }

  if (config.requestObjects && config.clientKey) {
    const algs = metadata.request_object_signing_alg_values_supported;
    if (algs === undefined) throw invalid(`\`requestObjects\` is true, but the provider ${issuer} does not advertise request objects (request_object_signing_alg_values_supported).`);
    if (lacks(algs, config.clientKey.alg)) {
      throw invalid(`request objects are signed ${config.clientKey.alg} (the algorithm of \`clientPrivateKey\`), which the provider ${issuer} does not accept (${algs.join(', ')}).`);
    }
  }

  if (config.dpopKey) {
    const algs = metadata.dpop_signing_alg_values_supported;
    if (algs === undefined) throw invalid(`\`dpop\` is true, but the provider ${issuer} does not advertise DPoP (dpop_signing_alg_values_supported).`);
    if (lacks(algs, config.dpopKey.alg)) {
      throw invalid(`\`dpopKey\` signs ${config.dpopKey.alg}, which the provider ${issuer} does not accept for DPoP proofs (${algs.join(', ')}).`);
    }
  }

  if (config.profile === 'fapi2') checkFapi2Provider(config, metadata);
}

/** The provider's side of FAPI 2.0 that the client relies on. */
function checkFapi2Provider(config: Config, metadata: client.ServerMetadata): void {
  const missing = (what: string) =>
    new RelyingPartyError('provider_misconfigured', `profile 'fapi2': the provider ${metadata.issuer} ${what}, which the FAPI 2.0 Security Profile requires.`);
  if (metadata.authorization_response_iss_parameter_supported !== true) {
    throw missing('does not advertise the `iss` authorization response parameter (RFC 9207, authorization_response_iss_parameter_supported)');
  }
  if (lacks(metadata.code_challenge_methods_supported, 'S256')) throw missing('does not list PKCE S256 in code_challenge_methods_supported');
  if (lacks(metadata.id_token_signing_alg_values_supported, config.idTokenSigningAlg)) {
    throw invalid(
      `\`idTokenSigningAlg\` is ${config.idTokenSigningAlg}, which the provider ${metadata.issuer} does not sign ID tokens with (${metadata.id_token_signing_alg_values_supported.join(', ')}).`,
    );
  }
}
