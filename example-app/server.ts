import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import { createApp } from './app.js';
import { closeServer, listen } from './http-server.js';
import { ConfigError, configFromEnv } from './config.js';
import type { DemoConfig } from './config.js';
import { BANK_NAME, startSandbox } from 'express-relying-party/sandbox';
import type { Sandbox } from 'express-relying-party/sandbox';
import { createRedisSessionStore } from './session-store.js';
import { calculateJwkThumbprint } from 'jose';
import type { JWK } from 'jose';

/**
 * `npm start`: the demo app, plus the sandbox provider unless OIDC_ISSUER
 * points at a real one. Prints the URL to open; Ctrl-C stops both.
 */

/** The demo, running. */
export interface RunningDemo {
  /** Where to open the app. */
  readonly url: string;
  /** The provider in use. */
  readonly issuer: string;
  /** The sandbox, when one was started. */
  readonly sandbox: Sandbox | undefined;
  /** In FAPI 2.0 mode: the RFC 7638 thumbprints of the keys generated at start (public information). */
  readonly fapiKeys: { readonly clientKey: string; readonly dpopKey: string } | undefined;
  /** Stops the app and the sandbox. */
  close(): Promise<void>;
}

/** Extra knobs for tests. */
export interface StartOptions {
  /** Passed to `createApp()`. Default is `console.error`. */
  readonly logError?: (err: unknown) => void;
}

/** A P-256 private key as a JWK, and its thumbprint (its `kid`, as the library computes it). */
async function generatedKey(): Promise<{ jwk: JWK; thumbprint: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { jwk: privateKey.export({ format: 'jwk' }) as JWK, thumbprint: await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as JWK) };
}

/** Starts the app (and the sandbox when `config.provider.kind` is `'sandbox'`). */
export async function startDemo(config: DemoConfig, options: StartOptions = {}): Promise<RunningDemo> {
  // Listen before building the app: with PORT=0 the base URL, hence the
  // redirect URI the sandbox registers, is only known once the port is.
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (handler) return handler(req, res);
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('Starting, try again in a second.\n');
  });
  const address = await listen(server, config.port, config.host);
  const baseUrl = config.baseUrl ?? `http://127.0.0.1:${address.port}`;
  const apiAudience = config.apiAudience ?? `${baseUrl}/api`;

  let sandbox: Sandbox | undefined;
  // FAPI 2.0 mode: the client key (its public half served at /jwks, the
  // sandbox's jwks_uri for the app) and the DPoP key, fresh at each start
  const fapi = config.profile === 'fapi2' ? { clientKey: await generatedKey(), dpopKey: await generatedKey() } : undefined;
  // several instances of the app share sessions only through a shared store
  const sessions = config.sessionStore === undefined ? undefined : createRedisSessionStore(config.sessionStore);
  try {
    let issuer: string;
    if (config.provider.kind === 'sandbox') {
      sandbox = await startSandbox({
        port: config.provider.port,
        clientId: config.provider.clientId,
        clientSecret: config.provider.clientSecret,
        clientName: 'Relying Party Demo',
        redirectUris: [`${baseUrl}/callback`],
        api: { audience: apiAudience, scopes: ['accounts:read'] },
        ...(fapi ? { profile: 'fapi2', clientJwksUri: `${baseUrl}/jwks` } : {}),
      });
      issuer = sandbox.issuer;
    } else {
      issuer = config.provider.issuer;
    }

    const app = createApp({
      issuer,
      clientId: config.provider.clientId,
      clientSecret: config.provider.clientSecret,
      baseUrl,
      sessionSecret: config.sessionSecret,
      scope: config.scope,
      apiAudience,
      ...(sandbox ? { providerName: BANK_NAME, sandbox: true } : {}),
      ...(options.logError ? { logError: options.logError } : {}),
      ...(sessions ? { sessionStore: sessions.store } : {}),
      ...(fapi ? { fapi: { clientPrivateKey: fapi.clientKey.jwk, dpopKey: fapi.dpopKey.jwk } } : {}),
    });
    handler = app;

    const running = sandbox;
    return {
      url: baseUrl,
      issuer,
      sandbox: running,
      fapiKeys: fapi && { clientKey: fapi.clientKey.thumbprint, dpopKey: fapi.dpopKey.thumbprint },
      async close() {
        await Promise.all([closeServer(server), running?.close()]);
        await sessions?.close();
      },
    };
  } catch (err) {
    await Promise.all([closeServer(server), sandbox?.close(), sessions?.close()]);
    throw err;
  }
}

function describeStartFailure(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  if (typeof err === 'object' && err !== null && 'code' in err && err.code === 'EADDRINUSE' && 'port' in err) {
    return `Port ${String(err.port)} is already in use. Stop the other program or choose other ports, e.g. PORT=4000 SANDBOX_PORT=4001 npm start.`;
  }
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** What `npm start` prints about the running demo: the provider, the FAPI keys (public parts only), the session secret. */
export function startMessage(demo: RunningDemo, config: DemoConfig): string[] {
  const lines: string[] = [];
  if (demo.sandbox) {
    lines.push(`${BANK_NAME} (sandbox OpenID provider) is running at ${demo.issuer}`);
    lines.push('  Any username and password work; the one-time code may be left empty or be any 6 digits.');
    lines.push('  Set OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and SESSION_SECRET to use a real provider instead.');
  } else {
    lines.push(`Using the OpenID provider ${demo.issuer}`);
  }
  if (demo.fapiKeys) {
    lines.push(
      'FAPI 2.0 mode (SANDBOX_PROFILE=fapi2): pushed authorization requests, private_key_jwt and DPoP-bound tokens.',
      `  Client key (P-256, generated now): kid ${demo.fapiKeys.clientKey}, public key at ${demo.url}/jwks`,
      `  DPoP key (P-256, generated now): thumbprint ${demo.fapiKeys.dpopKey}; the profile page shows the tokens bound to it`,
    );
  }
  if (config.sessionSecretGenerated) {
    lines.push('SESSION_SECRET is not set: using a random one, so sessions end when the demo stops.');
  }
  return lines;
}

/** The `npm start` entry point. */
export async function main(): Promise<void> {
  const started = performance.now();
  let demo: RunningDemo;
  let config: DemoConfig;
  try {
    config = configFromEnv(process.env);
    demo = await startDemo(config);
  } catch (err) {
    console.error(`Cannot start the demo: ${describeStartFailure(err)}`);
    process.exitCode = 1;
    return;
  }

  const lines = startMessage(demo, config);
  lines.push('', `  Open ${demo.url} in your browser.`, '', `Ready in ${Math.round(performance.now() - started)} ms. Press Ctrl-C to stop.`);
  console.log(lines.join('\n'));

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the demo…`);
    // should anything still hold the event loop open, do not hang on Ctrl-C
    setTimeout(() => process.exit(0), 3000).unref();
    demo.close().then(
      () => console.log('Stopped.'),
      (err: unknown) => {
        console.error('Error while stopping:', err);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
