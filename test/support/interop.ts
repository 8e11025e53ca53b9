/**
 * The interop tests run the app against independent OpenID providers:
 * LemonLDAP::NG and Glewlwyd from Debian's packages, started on loopback by
 * the interop kit (`../shared/interop/`, or `INTEROP_KIT_DIR`). The kit
 * installs the packages when they are missing (root and apt needed; CI does
 * it in `.ci/run` before the tests).
 *
 * A provider that cannot be started FAILS its tests with the kit's error;
 * `SKIP_INTEROP_TESTS=1` skips them on purpose, with a warning.
 *
 * The users' browsers are scripted over HTTP: {@link OpBrowser} keeps the
 * provider's cookies, follows redirects inside the provider and stops at
 * the first one that leaves it, as `ProviderBrowser` does for the test
 * provider.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type express from 'express';

export const skipInterop = process.env.SKIP_INTEROP_TESTS === '1';

/** How long starting one provider may take: the first start on a fresh machine installs its packages. */
export const START_TIMEOUT_MS = 600_000;

/** What the kit's `start.sh` prints. */
export interface StartedOp {
  op: 'llng' | 'glewlwyd';
  issuer: string;
  port: number;
  /** the client with a hyphen in its id (`interop-rp`) */
  client_id: string;
  client_secret: string;
  alnum_client_id: string;
  alnum_client_secret: string;
  user: string;
  password: string;
  state_dir: string;
  backchannel_logout: boolean;
  /** ends the provider session from the browser, without the app; Glewlwyd's has an `{id_token_hint}` placeholder */
  op_logout_url: string;
}

/** The kit's folder: `INTEROP_KIT_DIR`, or `shared/interop` next to this repository. */
export function kitDir(): string {
  return process.env.INTEROP_KIT_DIR ?? resolve(process.cwd(), '..', 'shared', 'interop');
}

function run(script: string, args: string[], env: Record<string, string>, timeout: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile('bash', [script, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${script} failed (${err.message.split('\n')[0] ?? ''}):\n${stderr.split('\n').slice(-25).join('\n')}`));
      } else {
        resolvePromise(stdout);
      }
    });
  });
}

/**
 * Starts one provider of the kit on a free loopback port, registered for
 * an app at `rpBaseUrl` (callback, post-logout and back-channel logout URIs).
 */
export async function startOp(op: StartedOp['op'], rpBaseUrl: string): Promise<StartedOp> {
  const kit = kitDir();
  const script = join(kit, op, 'start.sh');
  if (!existsSync(script)) {
    throw new Error(
      `The interop kit was not found at ${kit} (no ${op}/start.sh). Put it there, point INTEROP_KIT_DIR at it, ` +
        'or set SKIP_INTEROP_TESTS=1 to skip the interop tests on purpose.',
    );
  }
  // under /tmp: LemonLDAP::NG's portal runs as www-data and must reach the state dir
  const state = mkdtempSync(join(process.env.INTEROP_STATE_ROOT ?? (process.getuid?.() === 0 ? '/tmp' : tmpdir()), `erp-${op}-`));
  let stdout: string;
  try {
    stdout = await run(script, [state], { OP_PORT: '0', RP_BASE_URL: rpBaseUrl }, START_TIMEOUT_MS);
  } catch (err) {
    throw new Error(`${op} could not be started (set SKIP_INTEROP_TESTS=1 to skip the interop tests on purpose): ${(err as Error).message}`);
  }
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as StartedOp;
}

export async function stopOp(op: StartedOp | undefined): Promise<void> {
  if (!op) return;
  await run(join(kitDir(), op.op, 'stop.sh'), [op.state_dir], {}, 60_000);
  // INTEROP_KEEP_STATE=1 keeps the provider's logs and configuration for a look after the run
  if (process.env.INTEROP_KEEP_STATE !== '1') rmSync(op.state_dir, { recursive: true, force: true });
}

/** A loopback server for the app, listening before the app exists: the provider must know its URL first. */
export interface AppServer {
  readonly baseUrl: string;
  serve(app: express.Express): void;
  close(): Promise<void>;
}

export async function startAppServer(): Promise<AppServer> {
  let handler: express.Express | undefined;
  const server = http.createServer((req, res) => {
    if (handler) {
      handler(req, res);
    } else {
      res.writeHead(503).end();
    }
  });
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve(app) {
      handler = app;
    },
    close: () =>
      new Promise<void>((resolvePromise) => {
        server.close(() => resolvePromise());
        server.closeAllConnections();
      }),
  };
}

/** Where a walk through the provider stopped. */
export interface Stop {
  /** the first URL outside the provider (the app's callback or post-logout page), or the provider page it stayed on */
  url: URL;
  /** set when the walk ended on a page inside the provider */
  page?: { status: number; html: string };
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A browser at one provider: its cookies, redirects inside its origin followed. */
export class OpBrowser {
  readonly origin: string;
  readonly #jar = new Map<string, string>();

  constructor(issuer: string) {
    this.origin = new URL(issuer).origin;
  }

  /** One request to the provider with the browser's cookies; `json` or `form` make it a POST (or `method`). */
  async request(url: string | URL, init: { method?: string; form?: Record<string, string>; json?: unknown } = {}): Promise<Response> {
    // LemonLDAP::NG answers in JSON to a client that accepts it
    const headers = new Headers({ accept: init.json === undefined ? 'text/html' : 'application/json' });
    if (this.#jar.size > 0) headers.set('cookie', [...this.#jar].map(([name, value]) => `${name}=${value}`).join('; '));
    let body: string | undefined;
    if (init.form) {
      headers.set('content-type', 'application/x-www-form-urlencoded');
      body = new URLSearchParams(init.form).toString();
    } else if (init.json !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(init.json);
    }
    const response = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = /;\s*expires=([^;]+)/i.exec(line)?.[1];
      if (value === '' || (expired !== undefined && Date.parse(expired) <= Date.now())) this.#jar.delete(name);
      else this.#jar.set(name, value);
    }
    return response;
  }

  /** Follows redirects from `url` while they stay at the provider. */
  async walk(url: string | URL, init: { form?: Record<string, string> } = {}): Promise<Stop> {
    let current = new URL(url);
    let form = init.form;
    for (let hop = 0; hop < 20; hop++) {
      if (current.origin !== this.origin) return { url: current };
      const response = await this.request(current, form ? { form } : {});
      const location = response.headers.get('location');
      if (!REDIRECT_STATUSES.has(response.status) || location === null) {
        return { url: current, page: { status: response.status, html: await response.text() } };
      }
      await response.body?.cancel();
      current = new URL(location, current);
      form = undefined;
    }
    throw new Error(`more than 20 redirects at ${this.origin}, last ${current.href}`);
  }
}

/** The `<input>`s of an HTML page, name → value. */
export function formFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [tag] of html.matchAll(/<input\b[^>]*>/gi)) {
    const name = /\bname="([^"]*)"/i.exec(tag)?.[1];
    if (name === undefined) continue;
    fields[name] = decodeEntities(/\bvalue="([^"]*)"/i.exec(tag)?.[1] ?? '');
  }
  return fields;
}

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, entity: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[entity] ?? '');
}

/** Why the walk did not leave the provider, for an assertion message. */
export function describeStop(stop: Stop): string {
  if (!stop.page) return `left the provider for ${stop.url.href}`;
  const text = stop.page.html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
  return `stayed at ${stop.url.href} (${stop.page.status}): ${text.slice(0, 300)}`;
}

/** The app's routes for the interop tests, on top of the test app's `/me`, `/profile` and `/public`. */
export function interopRoutes(app: express.Express): void {
  app.get('/userinfo-now', (req, res, next) => {
    req.auth.fetchUserInfo().then((claims) => res.json(claims), next);
  });
  app.post('/refresh-now', (req, res, next) => {
    req.auth.refresh().then((refreshed) => res.json({ refreshed }), next);
  });
}

/**
 * A token request with a code the provider never issued and the given
 * Basic credentials: a provider that recognises the client answers
 * `invalid_grant`, one that does not `invalid_client` (or, Glewlwyd,
 * `unauthorized_client`). Shows how the provider reads the credentials.
 */
export async function probeBasicCredentials(tokenEndpoint: string, redirectUri: string, username: string, password: string): Promise<{ status: number; error: unknown }> {
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'never-issued-code', redirect_uri: redirectUri, code_verifier: 'x'.repeat(43) }),
  });
  const text = await response.text();
  let error: unknown;
  try {
    error = (JSON.parse(text) as { error?: unknown }).error;
  } catch {
    error = text.slice(0, 100);
  }
  return { status: response.status, error };
}
