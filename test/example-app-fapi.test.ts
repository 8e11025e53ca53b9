/**
 * The demo in FAPI 2.0 mode (`SANDBOX_PROFILE=fapi2 npm start`): Sandbox
 * Bank runs oidc-provider's FAPI 2.0 profile, the app signs in with PAR,
 * private_key_jwt (its key read by the sandbox from the app's /jwks) and
 * DPoP, the profile page says how the token is bound, and the demo API
 * accepts the DPoP-bound token only with a fresh proof of its key.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import session from 'express-session';
import request from 'supertest';
import { calculateJwkThumbprint, decodeJwt } from 'jose';
import type { JWK } from 'jose';
import * as client from 'openid-client';
import { createApp } from '../example-app/app.js';
import { ConfigError, configFromEnv } from '../example-app/config.js';
import { startDemo, startMessage } from '../example-app/server.js';
import type { RunningDemo } from '../example-app/server.js';
import { startSandbox } from 'express-relying-party/sandbox';
import type { Sandbox } from 'express-relying-party/sandbox';
import { HttpBrowser, completeSandboxSignIn } from './support/http-browser.js';
import { serve, storedSessions } from './support/rp-app.js';
import type { ServedApp } from './support/rp-app.js';
import { testKey } from './support/fapi.js';
import type { TestKey } from './support/fapi.js';

function mainOf(text: string): string {
  return text.slice(text.indexOf('<main'), text.indexOf('</main>'));
}

describe('the demo with SANDBOX_PROFILE=fapi2', () => {
  let demo: RunningDemo;

  beforeAll(async () => {
    demo = await startDemo(configFromEnv({ PORT: '0', SANDBOX_PORT: '0', SANDBOX_PROFILE: 'fapi2' }), { logError: () => undefined });
  });
  afterAll(async () => {
    await demo?.close();
  });

  it('runs the sandbox with the FAPI 2.0 profile: PAR required, private_key_jwt at the app’s /jwks, DPoP', async () => {
    expect(demo.sandbox?.profile).toBe('fapi2');
    expect(demo.sandbox?.clientJwksUri).toBe(`${demo.url}/jwks`);
    const metadata = (await (await fetch(`${demo.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ require_pushed_authorization_requests: true, authorization_response_iss_parameter_supported: true, id_token_signing_alg_values_supported: ['PS256'], dpop_signing_alg_values_supported: ['PS256', 'ES256', 'EdDSA'] });
  });

  it('serves the generated client key at /jwks: public members and its kid', async () => {
    const response = await fetch(`${demo.url}/jwks`);
    const { keys } = (await response.json()) as { keys: JWK[] };
    expect(keys).toHaveLength(1);
    expect(Object.keys(keys[0] ?? {}).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(keys[0]).toMatchObject({ kid: demo.fapiKeys?.clientKey, alg: 'ES256' });
    expect(await calculateJwkThumbprint(keys[0] as JWK)).toBe(demo.fapiKeys?.clientKey);
  });

  it('signs in through the sandbox; the profile page shows the DPoP binding and the pushed request; the accounts load', async () => {
    const browser = new HttpBrowser();
    const login = await browser.navigate(`${demo.url}/profile`);
    expect(login.url.startsWith(`${demo.issuer}/interaction/`)).toBe(true);
    // the browser went to the provider with a request_uri only
    const authorize = new URL(login.hops.find((hop) => hop.startsWith(`${demo.issuer}/auth?`)) ?? '');
    expect([...authorize.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);

    const profile = await completeSandboxSignIn(browser, login, { username: 'alice' });
    expect(profile.url).toBe(`${demo.url}/profile`);
    const text = mainOf(profile.text);
    expect(text).toContain('<dt>Type</dt><dd>DPoP</dd>');
    expect(text).toContain(`DPoP, key thumbprint <code>${demo.fapiKeys?.dpopKey ?? 'missing'}</code>`);
    expect(text).toContain('pushed by the app to the provider first (PAR)');
    expect(text).not.toMatch(/eyJ[\w-]+\.eyJ/);

    const accounts = await browser.navigate(`${demo.url}/accounts`);
    expect(accounts.status).toBe(200);
    expect(accounts.text).toContain('Everyday current account');
  });

  it('prints the public key thumbprints at start, never a private key', () => {
    const printed = startMessage(demo, configFromEnv({ PORT: '0', SANDBOX_PORT: '0', SANDBOX_PROFILE: 'fapi2' })).join('\n');
    expect(printed).toContain('FAPI 2.0 mode (SANDBOX_PROFILE=fapi2): pushed authorization requests, private_key_jwt and DPoP-bound tokens.');
    expect(printed).toContain(`Client key (P-256, generated now): kid ${demo.fapiKeys?.clientKey ?? 'missing'}, public key at ${demo.url}/jwks`);
    expect(printed).toContain(`DPoP key (P-256, generated now): thumbprint ${demo.fapiKeys?.dpopKey ?? 'missing'}`);
    expect(printed).not.toMatch(/"d"|PRIVATE KEY/);
  });
});

describe('SANDBOX_PROFILE=fapi2 npm start, in its own Node process', () => {
  // outside jest, oidc-provider guards its fetches against loopback
  // addresses: the sandbox must still read the app's /jwks on 127.0.0.1
  it('signs in and loads the accounts', async () => {
    const child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'example-app/server.ts'], {
      env: { ...process.env, PORT: '0', SANDBOX_PORT: '0', SANDBOX_PROFILE: 'fapi2', SESSION_SECRET: '', OIDC_ISSUER: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${output}`)), 20_000);
        child.stdout.on('data', () => {
          const found = /Open (http:\/\/127\.0\.0\.1:\d+) in your browser/.exec(output)?.[1];
          if (found === undefined) return;
          clearTimeout(timer);
          resolve(found);
        });
      });
      expect(output).toMatch(/FAPI 2\.0 mode \(SANDBOX_PROFILE=fapi2\)/);
      const browser = new HttpBrowser();
      const profile = await completeSandboxSignIn(browser, await browser.navigate(`${url}/profile`), { username: 'alice' });
      expect(profile.url).toBe(`${url}/profile`);
      expect(mainOf(profile.text)).toContain('DPoP, key thumbprint');
      const accounts = await browser.navigate(`${url}/accounts`);
      expect(accounts.text).toContain('Everyday current account');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 40_000);
});

describe('the demo API in FAPI mode', () => {
  const audience = 'http://127.0.0.1:3998/api';
  let sandbox: Sandbox;
  let served: ServedApp;
  let store: session.MemoryStore;
  let clientKey: TestKey;
  let dpopKey: TestKey;
  let baseUrl: string;

  beforeAll(async () => {
    [clientKey, dpopKey] = await Promise.all([testKey('ES256', 'demo-client'), testKey('ES256', 'demo-dpop')]);
    store = new session.MemoryStore();
    // the app listens first: the sandbox reads its /jwks, and the API checks proofs against its URL
    const express = (await import('express')).default;
    const holder = express();
    served = await serve(holder);
    baseUrl = served.origin;
    sandbox = await startSandbox({
      clientId: 'demo-app',
      redirectUris: [`${baseUrl}/callback`],
      api: { audience },
      profile: 'fapi2',
      clientJwksUri: `${baseUrl}/jwks`,
    });
    holder.use(
      createApp({
        issuer: sandbox.issuer,
        clientId: 'demo-app',
        clientSecret: 'unused',
        baseUrl,
        sessionSecret: 'test session secret',
        apiAudience: audience,
        sessionStore: store,
        fapi: { clientPrivateKey: clientKey.jwk, dpopKey: dpopKey.pem },
      }),
    );
  });
  afterAll(async () => {
    await served?.close();
    await sandbox?.close();
  });

  /** Signs in as alice and returns the access token as the session store holds it. */
  async function storedAccessToken(): Promise<string> {
    const browser = new HttpBrowser();
    const login = await browser.navigate(`${baseUrl}/profile`);
    await completeSandboxSignIn(browser, login, { username: 'alice' });
    const sessions = await storedSessions(store);
    const token = sessions.map((data) => data.relyingParty?.auth?.accessToken).find((value) => value !== undefined);
    if (token === undefined) throw new Error('no signed-in session');
    return token;
  }

  it('refuses the stored access token without its proof, as Bearer or as DPoP', async () => {
    const token = await storedAccessToken();
    expect(decodeJwt(token)).toMatchObject({ aud: audience, cnf: { jkt: await calculateJwkThumbprint(dpopKey.publicJwk) } });
    for (const scheme of ['Bearer', 'DPoP']) {
      const response = await request(baseUrl).get('/api/accounts').set('Authorization', `${scheme} ${token}`);
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^DPoP algs="PS256 ES256 EdDSA", error="invalid_dpop_proof"/);
    }
    const bare = await request(baseUrl).get('/api/accounts');
    expect({ status: bare.status, challenge: bare.headers['www-authenticate'] }).toEqual({ status: 401, challenge: 'DPoP algs="PS256 ES256 EdDSA"' });
  });

  it('accepts it with a proof of the DPoP key (as the app sends)', async () => {
    const token = await storedAccessToken();
    const configuration = new client.Configuration({ issuer: sandbox.issuer }, 'demo-app');
    client.allowInsecureRequests(configuration);
    const keyPair = { privateKey: await dpopKey.cryptoKey(), publicKey: await crypto.subtle.importKey('jwk', dpopKey.publicJwk, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']) };
    const response = await client.fetchProtectedResource(configuration, token, new URL(`${baseUrl}/api/accounts`), 'GET', undefined, undefined, { DPoP: client.getDPoPHandle(configuration, keyPair) });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { owner: string }).owner).toBe(decodeJwt(token).sub);
  });
});

describe('SANDBOX_PROFILE', () => {
  it('is fapi2 or unset, and applies to the sandbox only', () => {
    expect(configFromEnv({ SANDBOX_PROFILE: 'fapi2' }).profile).toBe('fapi2');
    expect(configFromEnv({}).profile).toBeUndefined();
    expect(() => configFromEnv({ SANDBOX_PROFILE: 'fapi1' })).toThrow(new ConfigError('SANDBOX_PROFILE must be fapi2 (got "fapi1"), or unset.'));
    expect(() => configFromEnv({ SANDBOX_PROFILE: 'fapi2', OIDC_ISSUER: 'https://op.example', OIDC_CLIENT_ID: 'a', OIDC_CLIENT_SECRET: 'b', SESSION_SECRET: 'c' })).toThrow(/SANDBOX_PROFILE applies to the sandbox/);
  });
});
