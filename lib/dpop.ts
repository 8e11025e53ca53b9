/**
 * DPoP (RFC 9449): the key tokens are bound to, and the one openid-client
 * handle that signs the proofs of every provider call and of
 * `req.auth.fetch()`, remembering the nonces servers hand out. The key is
 * the app's configuration (`dpopKey`), never session data: a token copied
 * out of the session store cannot be used without it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { generateKeyPairSync } from 'node:crypto';
import * as client from 'openid-client';
import { RelyingPartyError } from './errors.js';
import { SigningKey } from './keys.js';

let processKey: SigningKey | undefined;

/**
 * The DPoP key of this process when `dpopKey` is not set: a P-256 key
 * generated once, shared by every `relyingParty()` of the process, with a
 * warning (once) that instances of the app behind one load balancer, or
 * the same app after a restart, need a shared key.
 */
export function processDpopKey(): SigningKey {
  if (processKey === undefined) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    processKey = new SigningKey(privateKey, 'ES256', undefined);
    console.warn(
      'express-relying-party: `dpop` is on without `dpopKey`, so this process generated a DPoP key. Tokens are bound to it: ' +
        'other instances of the app, and this one after a restart, cannot use them. Set `dpopKey` to one key shared by every instance.',
    );
  }
  return processKey;
}

const handles = new WeakMap<SigningKey, Promise<client.DPoPHandle>>();

/**
 * The DPoP handle of `key`: one per key, so the nonces a server sends are
 * used by every later request to it. The `alg` header is the key's
 * (openid-client would call an Ed25519 key `Ed25519`; providers know `EdDSA`).
 */
export function dpopHandle(key: SigningKey, configuration: client.Configuration): Promise<client.DPoPHandle> {
  let handle = handles.get(key);
  if (handle === undefined) {
    handle = Promise.all([key.privateKey(), key.publicKey(), key.thumbprint()]).then(([privateKey, publicKey]) =>
      client.getDPoPHandle(
        configuration,
        { privateKey, publicKey },
        {
          [client.modifyAssertion]: (header) => {
            header.alg = key.alg;
          },
        },
      ),
    );
    handles.set(key, handle);
  }
  return handle;
}

/** The caller's `AbortSignal` of a `req.auth.fetch()`, for the fetch openid-client calls underneath. */
const callerSignal = new AsyncLocalStorage<AbortSignal | undefined>();

/**
 * `fetch` for resource requests: the caller's signal only (as a plain
 * `fetch()` would), and none of the provider calls' limits (`httpTimeout`,
 * the response size cap), which are about the provider, not the app's APIs.
 */
const resourceFetch: client.CustomFetch = (url, options) =>
  fetch(url, { ...options, body: options.body as BodyInit | null | undefined, signal: callerSignal.getStore() ?? null });

const resourceConfigurations = new WeakMap<client.Configuration, client.Configuration>();

/** A configuration for resource requests: the provider's metadata, `resourceFetch`, and `http:` allowed as with a plain `fetch()`. */
function resourceConfiguration(configuration: client.Configuration): client.Configuration {
  let resource = resourceConfigurations.get(configuration);
  if (resource === undefined) {
    resource = new client.Configuration(configuration.serverMetadata(), configuration.clientMetadata().client_id, undefined, client.None());
    resource[client.customFetch] = resourceFetch;
    client.allowInsecureRequests(resource);
    resourceConfigurations.set(configuration, resource);
  }
  return resource;
}

/**
 * `req.auth.fetch()` with a DPoP-bound access token: `Authorization: DPoP`
 * and a proof for this method and URL (with `ath`), through openid-client's
 * `fetchProtectedResource`, which answers a `use_dpop_nonce` challenge once
 * with the nonce the server sent. Redirects are not followed (a proof is
 * for one URL). A challenge in the answer (`WWW-Authenticate`) is returned
 * as the response, as `fetch()` would.
 */
export async function dpopFetch(
  configuration: client.Configuration,
  handle: client.DPoPHandle,
  accessToken: string,
  input: string | URL,
  init?: RequestInit,
): Promise<Response> {
  const request = new Request(input, init);
  const body = request.body === null ? undefined : await request.arrayBuffer();
  const headers = new Headers(request.headers);
  headers.delete('authorization');
  headers.delete('dpop');
  try {
    return await callerSignal.run(init?.signal ?? undefined, () =>
      client.fetchProtectedResource(resourceConfiguration(configuration), accessToken, new URL(request.url), request.method, body, headers, { DPoP: handle }),
    );
  } catch (err) {
    if (err instanceof client.WWWAuthenticateChallengeError) return err.response;
    throw err;
  }
}

/**
 * The thumbprint of the key a token response's access token is bound to,
 * `undefined` for a bearer token without `dpop`. With `dpop`, a bearer
 * token is refused: the provider ignored the proof, and a token meant to
 * be sender-constrained would not be.
 */
export function boundKeyOf(tokenType: string, dpopKey: SigningKey | undefined): string | undefined {
  if (dpopKey === undefined) return undefined;
  if (tokenType.toLowerCase() !== 'dpop') {
    throw new RelyingPartyError(
      'provider_misconfigured',
      `The provider issued a ${tokenType} token although the request carried a DPoP proof: it does not bind tokens to the DPoP key. Enable DPoP for this client at the provider (dpop_bound_access_tokens), or turn \`dpop\` off.`,
    );
  }
  // the proof that obtained the token computed it
  return dpopKey.knownThumbprint;
}
