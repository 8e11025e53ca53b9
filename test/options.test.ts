import { describe, expect, it } from '@jest/globals';
import { relyingParty, RelyingPartyError } from 'express-relying-party';
import type { RelyingPartyOptions } from 'express-relying-party';

const valid: RelyingPartyOptions = {
  issuer: 'https://op.example.com',
  clientId: 'my-app',
  clientSecret: 'secret',
  baseUrl: 'https://app.example.com',
};

/** Calls relyingParty() with `valid` plus overrides (values typed loosely on purpose) and returns the error. */
function rejectionOf(overrides: Record<string, unknown>): RelyingPartyError {
  try {
    relyingParty({ ...valid, ...overrides } as RelyingPartyOptions);
  } catch (err) {
    expect(err).toBeInstanceOf(RelyingPartyError);
    return err as RelyingPartyError;
  }
  throw new Error(`relyingParty() accepted ${JSON.stringify(overrides)}`);
}

function shouldReject(overrides: Record<string, unknown>, message: RegExp): void {
  const err = rejectionOf(overrides);
  expect(err.code).toBe('invalid_options');
  expect(err.message).toMatch(message);
}

describe('relyingParty() options', () => {
  it('accepts the minimal options and returns a named middleware', () => {
    const middleware = relyingParty(valid);
    expect(typeof middleware).toBe('function');
    expect(middleware.name).toBe('relyingPartyMiddleware');
  });

  it('treats an option set to undefined as left out (exactOptionalPropertyTypes code passes env values as they are)', () => {
    const fromEnv: Record<string, string | undefined> = {};
    const options: RelyingPartyOptions = {
      ...valid,
      scope: fromEnv.SCOPE,
      postLogoutRedirect: fromEnv.POST_LOGOUT,
      httpTimeout: undefined,
      autoRefresh: undefined,
      routes: { login: undefined, callback: undefined },
      authorizationParams: undefined,
    };
    expect(typeof relyingParty(options)).toBe('function');
    shouldReject({ clientSecret: fromEnv.CLIENT_SECRET }, /`clientSecret` is required with clientAuthMethod "client_secret_basic"/);
  });

  describe('when a required option is missing', () => {
    it.each(['issuer', 'clientId', 'baseUrl'])('names %s', (name) => {
      shouldReject({ [name]: undefined }, new RegExp(`\`${name}\` is required`));
    });

    it('requires clientSecret for client_secret_basic and suggests a public client', () => {
      shouldReject({ clientSecret: undefined }, /`clientSecret` is required .*clientAuthMethod: 'none'/);
    });

    it('accepts no clientSecret for a public client', () => {
      expect(() => relyingParty({ ...valid, clientSecret: undefined, clientAuthMethod: 'none' })).not.toThrow();
    });
  });

  describe('when an option is unknown', () => {
    it('suggests the right name for a typo', () => {
      shouldReject({ clientID: 'x' }, /unknown option `clientID`\. Did you mean `clientId`\?/);
      shouldReject({ isuer: 'x' }, /Did you mean `issuer`\?/);
      shouldReject({ routes: { callbak: '/cb' } }, /unknown option `routes\.callbak`\. Did you mean `callback`\?/);
    });

    it('lists the known options when nothing is close', () => {
      shouldReject({ frobnicate: true }, /unknown option `frobnicate`\. Known options: issuer, clientId/);
    });
  });

  describe('issuer and baseUrl', () => {
    it.each([
      ['issuer', 'http://op.example.com', /`issuer` must use https:/],
      ['issuer', 'not a url', /`issuer` must be an absolute URL/],
      ['issuer', 'https://op.example.com/?x=1', /must not contain credentials, a query or a fragment/],
      ['baseUrl', 'http://app.example.com', /`baseUrl` must use https:/],
      ['baseUrl', 'ftp://127.0.0.1', /`baseUrl` must use https:/],
    ])('rejects %s %s', (name, value, message) => {
      shouldReject({ [name]: value }, message);
    });

    it.each(['http://localhost:3000', 'http://127.0.0.1:8080', 'http://[::1]:4000'])('accepts http: on loopback (%s)', (url) => {
      expect(() => relyingParty({ ...valid, issuer: url, baseUrl: url })).not.toThrow();
    });
  });

  describe('authorizationParams', () => {
    it.each(['redirect_uri', 'state', 'nonce', 'response_type', 'code_challenge', 'client_id'])('rejects %s, which the library owns', (name) => {
      shouldReject({ authorizationParams: { [name]: 'x' } }, new RegExp(`authorizationParams\\.${name}\` cannot be set`));
    });

    it('points scope to the scope option', () => {
      shouldReject({ authorizationParams: { scope: 'openid' } }, /Use the `scope` option/);
    });

    it('rejects values that are not strings', () => {
      shouldReject({ authorizationParams: { max_age: 60 } }, /`authorizationParams\.max_age` must be a string/);
    });
  });

  describe('other options', () => {
    it.each([
      [{ clientAuthMethod: 'private_key' }, /`clientAuthMethod` must be one of client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, none/],
      [{ httpTimeout: -1 }, /`httpTimeout` must be a positive whole number/],
      [{ httpTimeout: '5000' }, /`httpTimeout` must be a positive whole number/],
      [{ maxPendingLogins: 0 }, /`maxPendingLogins` must be a positive whole number/],
      [{ routes: { login: 'login' } }, /`routes\.login` must be a path starting with "\/", or false/],
      [{ routes: { callback: false } }, /`routes\.callback` cannot be false/],
      [{ routes: { login: '/auth', logout: '/auth' } }, /different path for each route/],
      [{ postLogoutRedirect: 'javascript:alert(1)' }, /`postLogoutRedirect` must be an absolute URL|must use https:/],
      [{ scope: '' }, /`scope` is required and must be a non-empty string/],
    ])('rejects %j', (overrides, message) => {
      shouldReject(overrides, message);
    });
  });

  describe('idTokenSigningAlg option', () => {
    it.each(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])('accepts %s', (alg) => {
      expect(() => relyingParty({ ...valid, idTokenSigningAlg: alg as RelyingPartyOptions['idTokenSigningAlg'] })).not.toThrow();
    });

    it.each([
      ['none', /must be one of RS256, .*EdDSA: "none" means unsigned ID tokens/],
      ['HS256', /"HS256" is a symmetric algorithm/],
      ['hs512', /"hs512" is a symmetric algorithm/],
      ['RSA-OAEP', /"RSA-OAEP" is not a JWS algorithm/],
      ['rs256', /"rs256" is not a JWS algorithm/],
    ])('refuses %s at setup, with the reason', (alg, message) => {
      shouldReject({ idTokenSigningAlg: alg }, message);
    });
  });

  describe('clockTolerance option', () => {
    it('accepts whole seconds, 0 included', () => {
      expect(() => relyingParty({ ...valid, clockTolerance: 0 })).not.toThrow();
      expect(() => relyingParty({ ...valid, clockTolerance: 300 })).not.toThrow();
    });

    it.each([-1, 1.5, '60', Infinity])('rejects %p', (value) => {
      shouldReject({ clockTolerance: value }, /`clockTolerance` must be a whole number >= 0/);
    });
  });

  describe('issuer option', () => {
    it.each(['https://op.example.com/.well-known/openid-configuration', 'https://op.example.com/tenant/.well-known/oauth-authorization-server'])(
      'refuses the discovery document URL %s, saying what to give instead',
      (issuer) => {
        shouldReject({ issuer }, /`issuer` must be the provider's issuer URL, not its discovery document's URL/);
      },
    );

    it('accepts an issuer with a path', () => {
      expect(() => relyingParty({ ...valid, issuer: 'https://login.example.com/tenant/workspace' })).not.toThrow();
    });
  });

  it('rejects something that is not an options object', () => {
    expect(() => relyingParty('https://op.example.com' as unknown as RelyingPartyOptions)).toThrow(/expected an options object/);
  });
});
