import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { JWTPayload } from 'jose';
import type { TestProvider } from '../fixtures/provider.js';

/** A back-channel logout token as the test provider would sign it, with `claims` added or overriding. */
export function logoutToken(tp: TestProvider, claims: JWTPayload, key: CryptoKey = tp.signingKey.privateKey): Promise<string> {
  const payload = {
    iss: tp.issuer,
    aud: tp.clientId,
    iat: Math.floor(Date.now() / 1000),
    jti: randomUUID(),
    events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    ...claims,
  };
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: tp.signingKey.kid, typ: 'logout+jwt' }).sign(key);
}
