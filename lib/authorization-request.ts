/**
 * How the authorization request reaches the provider: in the browser URL,
 * as a signed request object (JAR, RFC 9101), pushed from the server first
 * (PAR, RFC 9126), or both; with the DPoP key's thumbprint (`dpop_jkt`)
 * when tokens are to be DPoP-bound, so the code is bound to the key too.
 */
import * as client from 'openid-client';
import { RelyingPartyError } from './errors.js';
import type { Config } from './options.js';
import { providerError } from './provider.js';
import type { Provider } from './provider.js';

/** The URL to send the browser to, and how the request was made. */
export interface AuthorizationRequest {
  readonly url: URL;
  /** sent to the PAR endpoint; the URL carries only `client_id` and `request_uri` */
  readonly pushed: boolean;
  /** sent as a signed request object */
  readonly signed: boolean;
}

/** Whether this login pushes its request: always, never, or when the provider says it requires it (`'auto'`). */
export function usesPushedRequests(config: Config, metadata: client.ServerMetadata): boolean {
  if (config.pushedAuthorizationRequests !== 'auto') return config.pushedAuthorizationRequests;
  return metadata.require_pushed_authorization_requests === true;
}

/** A refused PAR is the configuration's fault (the client's registration and the options disagree), not the user's. */
function pushFailed(err: unknown): RelyingPartyError {
  const mapped = providerError(err, 'The pushed authorization request failed');
  if (mapped.code !== 'token_request_rejected') return mapped;
  return new RelyingPartyError(
    'authorization_request_rejected',
    `The provider refused the pushed authorization request (${mapped.providerError ?? 'HTTP 400'}): the client's registration at the provider and the options disagree.`,
    { cause: err, providerError: mapped.providerError },
  );
}

/** Builds the authorization request for `parameters` as the options say, pushing it to the provider when PAR is on. */
export async function buildAuthorizationRequest(
  config: Config,
  provider: Provider,
  configuration: client.Configuration,
  parameters: Record<string, string>,
): Promise<AuthorizationRequest> {
  const pushed = usesPushedRequests(config, configuration.serverMetadata());
  const dpop = await provider.dpop();
  let request: Record<string, string> | URLSearchParams = parameters;
  if (config.dpopKey !== undefined) request = { ...parameters, dpop_jkt: await config.dpopKey.thumbprint() };

  const signingKey = config.requestObjects ? config.clientKey : undefined;
  if (signingKey !== undefined) {
    const [key, kid] = await Promise.all([signingKey.privateKey(), signingKey.kid()]);
    const signed = await client.buildAuthorizationUrlWithJAR(configuration, request, { key, kid }, {
      [client.modifyAssertion]: (header) => {
        header.alg = signingKey.alg;
      },
    });
    if (!pushed) return { url: signed, pushed, signed: true };
    request = signed.searchParams;
  }
  if (!pushed) return { url: client.buildAuthorizationUrl(configuration, request), pushed, signed: false };
  try {
    return { url: await client.buildAuthorizationUrlWithPAR(configuration, request, dpop), pushed, signed: signingKey !== undefined };
  } catch (err) {
    throw pushFailed(err);
  }
}
