import * as client from 'openid-client';
import type { SigningKey } from './keys.js';
import type { Config } from './options.js';

/**
 * `application/x-www-form-urlencoded` encoding of one value, as
 * `URLSearchParams` serialises it: letters, digits and `*-._` stay as they
 * are, a space becomes `+`, everything else is percent-encoded as UTF-8.
 */
export function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/**
 * `client_secret_basic` (RFC 6749 §2.3.1): the client id and secret,
 * form-encoded, as HTTP Basic credentials.
 *
 * openid-client percent-encodes `-_.!~*'()` as well, which RFC 6749 allows
 * but many providers (LemonLDAP::NG, Glewlwyd, …) do not decode, so a
 * client id such as `my-app` is refused there. Form encoding leaves
 * `-._*` as they are and is decoded the same way by providers that do
 * decode, so it works with both.
 */
export function clientSecretBasic(clientSecret: string): client.ClientAuth {
  return function clientSecretBasicAuth(_as, metadata, _body, headers) {
    const credentials = `${formEncode(metadata.client_id)}:${formEncode(clientSecret)}`;
    headers.set('authorization', `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`);
  };
}

/**
 * `private_key_jwt` (RFC 7523): a client assertion signed with the client's
 * key, `kid` and `alg` in its header, `aud` the issuer (as FAPI 2.0 wants).
 * The key is imported into WebCrypto at the first request.
 */
export function privateKeyJwt(key: SigningKey): client.ClientAuth {
  let auth: Promise<client.ClientAuth> | undefined;
  return async function privateKeyJwtAuth(as, metadata, body, headers) {
    auth ??= Promise.all([key.privateKey(), key.kid()]).then(([privateKey, kid]) =>
      client.PrivateKeyJwt(
        { key: privateKey, kid },
        {
          [client.modifyAssertion]: (header) => {
            header.alg = key.alg;
          },
        },
      ),
    );
    await (await auth)(as, metadata, body, headers);
  };
}

/** How the client authenticates to the token, revocation, PAR and introspection endpoints. */
export function clientAuthentication(config: Config): client.ClientAuth {
  switch (config.clientAuthMethod) {
    case 'private_key_jwt':
      // parseOptions() requires a key for this method
      if (config.clientKey === undefined) throw new TypeError('private_key_jwt without clientPrivateKey');
      return privateKeyJwt(config.clientKey);
    case 'client_secret_jwt':
      return client.ClientSecretJwt(config.clientSecret);
    case 'client_secret_post':
      return client.ClientSecretPost(config.clientSecret);
    case 'none':
      return client.None();
    case 'client_secret_basic':
      // parseOptions() requires a secret for this method
      return clientSecretBasic(config.clientSecret ?? '');
  }
}
