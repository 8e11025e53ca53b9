import type { NextFunction, Request, Response } from 'express';
import type { JWK } from 'jose';
import type { Config } from '../options.js';

/** How long the provider (and caches between) may keep the JWK Set: the key changes only with the app's configuration. */
const MAX_AGE_S = 300;

/**
 * The client's public JWK Set, for the provider to fetch from the client's
 * registered `jwks_uri`: the public part of `clientPrivateKey` with its
 * `kid`, `alg` and `use: 'sig'`. No private member ever leaves; the DPoP
 * key is not in it (a DPoP proof carries its own public key).
 */
export function createJwks(config: Config) {
  let body: Promise<string> | undefined;
  async function jwkSet(): Promise<string> {
    const keys: JWK[] = config.clientKey === undefined ? [] : [await config.clientKey.publicJwk()];
    return JSON.stringify({ keys });
  }

  return async function jwksHandler(req: Request, res: Response, next: NextFunction): Promise<void> {
    try {
      body ??= jwkSet();
      res.set({ 'Content-Type': 'application/jwk-set+json', 'Cache-Control': `public, max-age=${MAX_AGE_S}` });
      res.send(await body);
    } catch (err) {
      next(err);
    }
  };
}
