import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { didYouMean } from '../did-you-mean.js';
import { STANDARD_CLAIMS } from './options.js';
import type { SandboxOptions } from './options.js';
import type { Sandbox } from './start.js';
import { BANK_NAME } from './views.js';

/**
 * The `express-relying-party-sandbox` command line: arguments in,
 * `startSandbox()` options out, and what to print once it runs.
 */

export const USAGE = `Usage: express-relying-party-sandbox --redirect-uri <url> [options]

Starts ${BANK_NAME}, an OpenID provider with login, consent and Strong Customer
Authentication pages, for developing an app on this machine, and prints the
settings to give the app. Any username and password sign in.

Options:
  --redirect-uri <url>              the app's redirect URI, e.g. http://localhost:3000/callback
                                    (required; repeat it for several)
  --post-logout-redirect-uri <url>  where the app may send the browser after logout (repeatable;
                                    default: the origin of each redirect URI with /)
  --port <number>                   port to listen on (default 3001; 0: any free port)
  --host <address>                  loopback address to listen on, the issuer's host (default 127.0.0.1)
  --issuer-path <path>              path of the issuer, e.g. /oidc (default: none)
  --client-id <id>                  the app's client id (default sandbox-app)
  --client-secret <secret>          the app's client secret (default: a random one at each start)
  --users <file.json | json>        users known in advance, e.g. '[{"sub":"alice","name":"Alice"}]';
                                    their claims other than the standard ones come with scope openid
  --api-audience <url>              issue JWT access tokens for this API (resource indicator)
  --api-scope <scope>               a scope of that API (repeatable; default accounts:read)
  --profile fapi2                   FAPI 2.0 Security Profile: pushed authorization requests,
                                    private_key_jwt and DPoP-bound tokens required; PS256 tokens
  --client-jwks-uri <url>           the app's public JWK Set URL, for private_key_jwt (with
                                    --profile fapi2, default: the first redirect URI's origin + /jwks)
  -h, --help                        show this help
`;

const optionSpec = {
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-redirect-uri': { type: 'string', multiple: true },
  port: { type: 'string' },
  host: { type: 'string' },
  'issuer-path': { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  users: { type: 'string' },
  'api-audience': { type: 'string' },
  'api-scope': { type: 'string', multiple: true },
  profile: { type: 'string' },
  'client-jwks-uri': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A command line that cannot be run, with the message for the terminal. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What the command line asks for. */
export type Command = { readonly help: true } | { readonly help: false; readonly options: SandboxOptions };

function readUsers(value: string): unknown {
  const text = value.trimStart().startsWith('[') ? value : readUsersFile(value);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--users: not valid JSON (${err instanceof Error ? err.message : String(err)}).`);
  }
}

function readUsersFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--users: cannot read ${path} (${err instanceof Error ? err.message : String(err)}).`);
  }
}

/** Claims of the users that no standard scope releases: the command releases them with `openid`. */
function extraClaims(users: unknown): string[] {
  if (!Array.isArray(users)) return [];
  const standard = new Set(Object.values(STANDARD_CLAIMS).flat());
  const names = users.flatMap((user: unknown) => (typeof user === 'object' && user !== null ? Object.keys(user) : []));
  return [...new Set(names.filter((name) => !standard.has(name)))];
}

/** The login names of the users given on the command line, for the banner. */
export function knownUsers(options: SandboxOptions): string[] {
  return (options.users ?? []).map((user) => (typeof user.preferred_username === 'string' ? user.preferred_username : user.sub));
}

function optionHint(name: string): string {
  const known = Object.keys(optionSpec);
  const start = known.find((option) => option.startsWith(name));
  if (start !== undefined) return `Did you mean --${start}?`;
  return didYouMean(name, known).replace(/`([\w-]+)`/, '--$1').replace(/Known options: (.*)\./, (_, list: string) => `Known options: --${list.split(', ').join(', --')}.`);
}

/** Parses the arguments (without `node` and the script). Throws {@link UsageError}. */
export function parseCommandLine(args: readonly string[]): Command {
  let values;
  try {
    ({ values } = parseArgs({ args: [...args], options: optionSpec, strict: true, allowPositionals: false }));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const unknown = /Unknown option '--([^']+)'/.exec(message)?.[1];
    throw new UsageError(unknown === undefined ? message : `unknown option --${unknown}. ${optionHint(unknown)}`);
  }
  if (values.help) return { help: true };

  const redirectUris = values['redirect-uri'];
  if (redirectUris === undefined) {
    throw new UsageError('--redirect-uri is required: the URL the app receives the sign-in at, e.g. --redirect-uri http://localhost:3000/callback');
  }
  let port = 3001;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) throw new UsageError(`--port must be a number from 0 to 65535 (got "${values.port}").`);
  }
  if (values.profile !== undefined && values.profile !== 'fapi2') throw new UsageError(`--profile must be fapi2 (got "${values.profile}").`);
  const profile = values.profile;
  let clientJwksUri = values['client-jwks-uri'];
  if (profile === 'fapi2' && clientJwksUri === undefined) {
    try {
      clientJwksUri = `${new URL(redirectUris[0] ?? '').origin}/jwks`;
    } catch {
      throw new UsageError(`--redirect-uri must be an absolute URL (got "${redirectUris[0] ?? ''}").`);
    }
  }
  const users = values.users === undefined ? undefined : readUsers(values.users);
  const claims = extraClaims(users);
  const options: SandboxOptions = {
    redirectUris,
    postLogoutRedirectUris: values['post-logout-redirect-uri'],
    port,
    host: values.host,
    issuerPath: values['issuer-path'],
    clientId: values['client-id'],
    clientSecret: values['client-secret'],
    users: users as SandboxOptions['users'],
    claims: claims.length === 0 ? undefined : { openid: claims },
    api: values['api-audience'] === undefined ? undefined : { audience: values['api-audience'], scopes: values['api-scope'] },
    profile,
    clientJwksUri,
  };
  if (values['api-scope'] !== undefined && options.api === undefined) throw new UsageError('--api-scope needs --api-audience.');
  return { help: false, options };
}

/** What the command prints once the sandbox runs: the settings as env lines, ready to paste. */
export function banner(sandbox: Sandbox, options: { clientSecretGiven: boolean; knownUsers: readonly string[] }): string {
  const privateKeyJwt = sandbox.clientJwksUri !== undefined;
  const fapi = sandbox.profile === 'fapi2'
    ? [
        'FAPI 2.0 Security Profile: the app must push its authorization requests (PAR), authenticate with',
        "private_key_jwt and bind its tokens with DPoP: relyingParty({ profile: 'fapi2', clientAuthMethod: 'private_key_jwt',",
        "clientPrivateKey, dpop: true, dpopKey, routes: { jwks: '/jwks' } }). ID tokens are signed PS256.",
        '',
      ]
    : [];
  return [
    `${BANK_NAME} (an OpenID provider for development) is running at ${sandbox.issuer}`,
    '',
    'Give your app these settings, e.g. in its .env file:',
    '',
    `OIDC_ISSUER=${sandbox.issuer}`,
    `OIDC_CLIENT_ID=${sandbox.clientId}`,
    ...(privateKeyJwt ? [] : [`OIDC_CLIENT_SECRET=${sandbox.clientSecret}`]),
    '',
    ...(privateKeyJwt ? [`The app authenticates with private_key_jwt; its public keys are read from ${sandbox.clientJwksUri ?? ''}`, ''] : []),
    ...fapi,
    `Redirect URIs: ${sandbox.redirectUris.join(' ')}`,
    `After logout:  ${sandbox.postLogoutRedirectUris.join(' ')}`,
    `Sign in with any username and password${options.knownUsers.length === 0 ? '' : ` (test users: ${options.knownUsers.join(', ')})`}.`,
    'One-time code: leave it empty (acr urn:openbanking:psd2:ca), or type any 6 digits (urn:openbanking:psd2:sca).',
    ...(options.clientSecretGiven || privateKeyJwt ? [] : ['The client secret changes at every start; pass --client-secret to keep one.']),
    'Press Ctrl-C to stop.',
  ].join('\n');
}
