import { randomBytes } from 'node:crypto';

/**
 * The one place where environment variables become settings.
 *
 * express-relying-party itself reads no environment variables: an app
 * decides which variables it has and passes plain options to
 * `relyingParty()`. This file is that mapping for the demo; `server.ts`
 * hands the result to the sandbox and to `createApp()`.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `OIDC_ISSUER` | (unset: start the sandbox) | issuer URL of a real provider; when set, no sandbox is started |
 * | `OIDC_CLIENT_ID` | sandbox: `demo-app` | client id registered at the provider (required with `OIDC_ISSUER`) |
 * | `OIDC_CLIENT_SECRET` | sandbox: random at each start | client secret (required with `OIDC_ISSUER`) |
 * | `OIDC_SCOPE` | `openid profile email accounts:read` | scopes the app asks for |
 * | `API_AUDIENCE` | `<BASE_URL>/api` | resource indicator / audience of the demo accounts API: sent as `resource`, checked as `aud` |
 * | `BASE_URL` | `http://127.0.0.1:<PORT>` | public origin of the app; the redirect URI is `<BASE_URL>/callback` |
 * | `HOST` | `127.0.0.1` | interface the app listens on (`0.0.0.0` in a container) |
 * | `PORT` | `3000` | port of the app (`0`: any free port) |
 * | `SANDBOX_PORT` | `3001` | port of the sandbox provider on 127.0.0.1 (`0`: any free port) |
 * | `SESSION_SECRET` | sandbox: random at each start | secret that signs the session cookie (required with `OIDC_ISSUER`) |
 * | `SESSION_STORE` | in memory | `redis://host:port`: keep sessions in Redis, shared by every instance of the app |
 * | `SANDBOX_PROFILE` | (unset) | `fapi2`: the sandbox runs the FAPI 2.0 Security Profile and the app is a FAPI 2.0 client (PAR, private_key_jwt and DPoP, with keys generated at each start) |
 */
export interface DemoConfig {
  /** Interface the app listens on. */
  readonly host: string;
  /** Port of the app; `0` picks a free one. */
  readonly port: number;
  /** Public origin of the app; `undefined`: `http://127.0.0.1:<actual port>`. */
  readonly baseUrl: string | undefined;
  readonly sessionSecret: string;
  /** True when `sessionSecret` was generated because `SESSION_SECRET` was not set. */
  readonly sessionSecretGenerated: boolean;
  readonly scope: string;
  /** Audience of the demo API; `undefined`: `<baseUrl>/api`. */
  readonly apiAudience: string | undefined;
  /** `redis://…` to keep sessions in Redis; `undefined`: in memory (one process only). */
  readonly sessionStore: string | undefined;
  /** `'fapi2'`: the sandbox and the app speak the FAPI 2.0 Security Profile. */
  readonly profile: 'fapi2' | undefined;
  readonly provider: SandboxSettings | ExternalProviderSettings;
}

/** No `OIDC_ISSUER`: the embedded sandbox provider is started and registers the demo client itself. */
export interface SandboxSettings {
  readonly kind: 'sandbox';
  /** Port of the sandbox on 127.0.0.1; `0` picks a free one. */
  readonly port: number;
  readonly clientId: string;
  readonly clientSecret: string;
}

/** `OIDC_ISSUER` is set: a real provider where the client is already registered. */
export interface ExternalProviderSettings {
  readonly kind: 'external';
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

/** A configuration mistake, with a message meant for the person starting the demo. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

function value(env: Env, name: string): string | undefined {
  const text = env[name]?.trim();
  return text === '' ? undefined : text;
}

function port(env: Env, name: string, fallback: number): number {
  const text = value(env, name);
  if (text === undefined) return fallback;
  const number = Number(text);
  if (!/^\d+$/.test(text) || number > 65535) {
    throw new ConfigError(`${name} must be a port number between 0 and 65535 (got "${text}").`);
  }
  return number;
}

function required(env: Env, name: string, why: string): string {
  const text = value(env, name);
  if (text === undefined) throw new ConfigError(`${name} is required ${why}.`);
  return text;
}

function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Reads the demo's settings from `env` (normally `process.env`). Throws a {@link ConfigError} naming the variable to fix. */
export function configFromEnv(env: Env): DemoConfig {
  const issuer = value(env, 'OIDC_ISSUER');
  const appPort = port(env, 'PORT', 3000);
  const baseUrl = value(env, 'BASE_URL')?.replace(/\/+$/, '') ?? (appPort === 0 ? undefined : `http://127.0.0.1:${appPort}`);

  let provider: DemoConfig['provider'];
  let sessionSecret = value(env, 'SESSION_SECRET');
  const sessionSecretGenerated = sessionSecret === undefined;
  if (issuer === undefined) {
    provider = {
      kind: 'sandbox',
      port: port(env, 'SANDBOX_PORT', 3001),
      clientId: value(env, 'OIDC_CLIENT_ID') ?? 'demo-app',
      // the sandbox registers the client itself, so a fresh secret per start costs nothing
      clientSecret: value(env, 'OIDC_CLIENT_SECRET') ?? randomSecret(),
    };
    // sessions live in memory and die with the process anyway
    sessionSecret ??= randomSecret();
  } else {
    const why = 'when OIDC_ISSUER is set (the client registered at your provider)';
    provider = {
      kind: 'external',
      issuer,
      clientId: required(env, 'OIDC_CLIENT_ID', why),
      clientSecret: required(env, 'OIDC_CLIENT_SECRET', why),
    };
    if (sessionSecret === undefined) {
      throw new ConfigError('SESSION_SECRET is required when OIDC_ISSUER is set: use a long random string, e.g. `openssl rand -base64 32`.');
    }
  }

  const profile = value(env, 'SANDBOX_PROFILE');
  if (profile !== undefined && profile !== 'fapi2') throw new ConfigError(`SANDBOX_PROFILE must be fapi2 (got "${profile}"), or unset.`);
  if (profile !== undefined && issuer !== undefined) {
    throw new ConfigError('SANDBOX_PROFILE applies to the sandbox; with OIDC_ISSUER, configure the FAPI 2.0 options of relyingParty() for your provider (see the README).');
  }

  const sessionStore = value(env, 'SESSION_STORE');
  if (sessionStore !== undefined && !/^rediss?:\/\//.test(sessionStore)) {
    throw new ConfigError(`SESSION_STORE must be a redis:// or rediss:// URL (got "${sessionStore}").`);
  }

  return Object.freeze({
    host: value(env, 'HOST') ?? '127.0.0.1',
    port: appPort,
    baseUrl,
    sessionSecret,
    sessionSecretGenerated,
    scope: value(env, 'OIDC_SCOPE') ?? 'openid profile email accounts:read',
    apiAudience: value(env, 'API_AUDIENCE'),
    sessionStore,
    profile,
    provider: Object.freeze(provider),
  });
}
