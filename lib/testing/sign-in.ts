import { createServer } from 'node:http';
import type { RequestListener } from 'node:http';
import { closeServer, listen } from '../http-server.js';
import type { SandboxUser } from '../sandbox/options.js';
import { SANDBOX_ACR_VALUES, oneTimeCodeFor } from '../sandbox/sca.js';
import { CookieJar } from './cookie-jar.js';

/** The sandbox to sign in at: what `startSandbox()` returned, or the issuer of one running elsewhere. */
export interface SandboxLike {
  readonly issuer: string;
  /** Present on a sandbox started in this process: {@link signIn} registers an object `user` with it. */
  addUser?(user: SandboxUser): void;
}

/** Options of {@link signIn}. */
export interface SignInOptions {
  /** The sandbox provider the app is configured with. */
  readonly sandbox: SandboxLike;
  /**
   * Who signs in. Claims (`sub` required) are registered with
   * `sandbox.addUser()` first, then the user signs in by their `sub`; a
   * string is typed at the login page as is (any name works, with claims
   * made up from it, or a user the sandbox was started with).
   */
  readonly user: SandboxUser | string;
  /**
   * The `acr` to reach at the Strong Customer Authentication step:
   * `urn:openbanking:psd2:ca` (password only) or `urn:openbanking:psd2:sca`
   * (password and one-time code). Default is `'urn:openbanking:psd2:ca'`.
   */
  readonly acr?: string | undefined;
  /**
   * The scopes the user grants at the consent page, out of those the app
   * asks for; `openid` is always granted. Default is every scope the app
   * asks for.
   */
  readonly scopes?: readonly string[] | undefined;
  /** The app's login route (`routes.login`, relative to the app's URL). Default is `'/login'`. */
  readonly loginPath?: string | undefined;
  /** Sent to the login route as `returnTo`. Default: none, the app's default applies. */
  readonly returnTo?: string | undefined;
}

/**
 * The sign-in did not complete: the app or the sandbox answered something
 * other than the next step. `status` and `body` are that answer (for
 * example the `403` of a login the app refused).
 */
export class SignInError extends Error {
  /** HTTP status of the unexpected answer. */
  readonly status: number;
  /** Its URL. */
  readonly url: string;
  /** Its body, as text. */
  readonly body: string;

  constructor(message: string, response: { status: number; url: string; body: string }) {
    super(message);
    this.name = new.target.name;
    this.status = response.status;
    this.url = response.url;
    this.body = response.body;
  }
}

const REQUEST_TIMEOUT_MS = 10_000;
const MAX_REDIRECTS = 20;

interface Answer {
  readonly url: URL;
  readonly status: number;
  readonly location: URL | undefined;
  readonly body: string;
}

/** One request of a browser with `jar` as its cookies for `url`'s origin; redirects are not followed. */
async function send(jar: CookieJar, url: URL, form?: URLSearchParams): Promise<Answer> {
  const headers = new Headers({ accept: 'text/html,application/xhtml+xml' });
  const cookie = jar.header(url);
  if (cookie !== undefined) headers.set('cookie', cookie);
  if (form !== undefined) headers.set('content-type', 'application/x-www-form-urlencoded');
  const response = await fetch(url, {
    method: form === undefined ? 'GET' : 'POST',
    headers,
    body: form,
    redirect: 'manual',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  jar.store(url, response.headers);
  const location = response.headers.get('location');
  return {
    url,
    status: response.status,
    location: response.status >= 300 && response.status < 400 && location !== null ? new URL(location, url) : undefined,
    body: await response.text(),
  };
}

/** The visible gist of an HTML page for an error message: its heading and alert, without tags. */
function gist(body: string): string {
  const pick = (pattern: RegExp) => pattern.exec(body)?.[1]?.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim();
  const text = [pick(/<h1[^>]*>([\s\S]*?)<\/h1>/), pick(/role="alert"[^>]*>([\s\S]*?)<\/div>/)].filter(Boolean).join(' – ');
  return text || body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
}

function unexpected(what: string, answer: Answer): SignInError {
  const seen = answer.location ? `a redirect to ${answer.location.href}` : `${answer.status}: ${gist(answer.body)}`;
  return new SignInError(`signIn(): ${what}; got ${seen}`, { status: answer.status, url: answer.url.href, body: answer.body });
}

/**
 * The browser at the sandbox: follows redirects within the sandbox's origin
 * and stops at a page, or at the first redirect that leaves it (to the app).
 */
async function walkSandbox(jar: CookieJar, origin: string, first: Answer): Promise<Answer> {
  let answer = first;
  for (let hops = 0; answer.location !== undefined && answer.location.origin === origin; hops++) {
    if (hops === MAX_REDIRECTS) throw unexpected('the sandbox redirected too often', answer);
    answer = await send(jar, answer.location);
  }
  return answer;
}

/** The action of the sandbox form ending in `/<step>` on this page, or `undefined` when it is another page. */
function formAction(answer: Answer, step: 'login' | 'consent' | 'sca'): URL | undefined {
  if (answer.status !== 200) return undefined;
  const action = new RegExp(`<form[^>]*\\saction="([^"]*/interaction/[\\w-]+/${step})"`).exec(answer.body)?.[1];
  return action === undefined ? undefined : new URL(action, answer.url);
}

function validate(options: SignInOptions): { username: string; otp: string } {
  const { sandbox, user, acr = SANDBOX_ACR_VALUES[0] ?? '' } = options;
  if (typeof sandbox?.issuer !== 'string') throw new TypeError('signIn(): `sandbox` must be the sandbox the app signs in with (what startSandbox() returned).');
  const otp = oneTimeCodeFor(acr);
  if (otp === undefined) throw new TypeError(`signIn(): the sandbox issues no acr "${acr}"; use one of ${SANDBOX_ACR_VALUES.join(', ')}.`);
  if (typeof user === 'string') {
    if (user.trim() === '') throw new TypeError('signIn(): `user` must be a username or an object of claims with a `sub`.');
    return { username: user, otp };
  }
  if (typeof user !== 'object' || user === null || typeof user.sub !== 'string' || user.sub === '') {
    throw new TypeError('signIn(): `user` must be a username or an object of claims with a `sub`, such as { sub: \'alice\', name: \'Alice\' }.');
  }
  if (sandbox.addUser === undefined) {
    throw new TypeError('signIn(): a `user` given as claims needs the sandbox object startSandbox() returned; for a sandbox running elsewhere, pass a username.');
  }
  sandbox.addUser(user);
  return { username: user.sub, otp };
}

/** Serves `app` on a loopback port for the length of the sign-in; a URL is used as it is. */
async function reach(app: RequestListener | string | URL): Promise<{ base: string; close(): Promise<void> }> {
  if (typeof app === 'function') {
    const server = createServer(app);
    const { port } = await listen(server, 0, '127.0.0.1');
    return { base: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
  }
  const url = new URL(String(app));
  return { base: url.href.replace(/\/+$/, ''), close: async () => undefined };
}

/**
 * Signs a user in to `app` through the real authorization code flow against
 * the sandbox, the way a browser would, without one: the app's login route,
 * the sandbox's login, consent and Strong Customer Authentication pages
 * (submitted over HTTP), and the app's callback. Resolves with the `Cookie`
 * header of the signed-in session, for supertest
 * (`request(app).get('/').set('Cookie', cookie)`) or `fetch`.
 *
 * `app` is an Express app (or any request listener), served on a loopback
 * port for the sign-in, or the URL of an app already listening. The
 * sandbox's redirect to the app's registered `redirect_uri` is delivered to
 * that server, whatever host and port the URI names.
 *
 * Rejects with a {@link SignInError} when the app or the sandbox answers
 * something unexpected (the app refused the login, `/login` set no cookie,
 * the app is configured with another provider, …).
 *
 * @example
 * const cookie = await signIn(app, { sandbox, user: { sub: 'alice', name: 'Alice' }, acr: 'urn:openbanking:psd2:sca' });
 * await request(app).get('/profile').set('Cookie', cookie).expect(200);
 */
export async function signIn(app: RequestListener | string | URL, options: SignInOptions): Promise<string> {
  const { username, otp } = validate(options);
  const issuer = new URL(options.sandbox.issuer);
  const appJar = new CookieJar();
  const sandboxJar = new CookieJar();
  const served = await reach(app);
  try {
    // 1. the app's login route sends the browser to the sandbox
    const loginUrl = new URL(`${served.base}${options.loginPath ?? '/login'}`);
    if (options.returnTo !== undefined) loginUrl.searchParams.set('returnTo', options.returnTo);
    const login = await send(appJar, loginUrl);
    const authorize = login.location;
    if (authorize === undefined || authorize.origin !== issuer.origin) {
      throw unexpected(`the app's ${loginUrl.pathname} should redirect to the sandbox at ${issuer.href}`, login);
    }
    if (appJar.header(loginUrl) === undefined) {
      throw unexpected(
        `the app's ${loginUrl.pathname} set no session cookie, so no sign-in can complete (a cookie with \`secure: true\` is not sent over plain http)`,
        login,
      );
    }
    const requested = (authorize.searchParams.get('scope') ?? '').split(' ').filter((scope) => scope !== '');
    const granted = options.scopes ?? requested;
    const foreign = granted.filter((scope) => !requested.includes(scope));
    if (foreign.length > 0) {
      throw new TypeError(`signIn(): the app does not ask for ${foreign.join(', ')}; it asks for: ${requested.join(' ')}.`);
    }

    // 2. the sandbox's pages: login, consent, one-time code
    const loginPage = await walkSandbox(sandboxJar, issuer.origin, await send(sandboxJar, authorize));
    const loginAction = formAction(loginPage, 'login');
    if (loginAction === undefined) throw unexpected('expected the sandbox login page', loginPage);
    const consentPage = await walkSandbox(sandboxJar, issuer.origin, await send(sandboxJar, loginAction, new URLSearchParams({ username, password: 'sandbox' })));
    const consentAction = formAction(consentPage, 'consent');
    if (consentAction === undefined) throw unexpected('expected the sandbox consent page', consentPage);
    const consent = new URLSearchParams([['decision', 'approve'], ...granted.map((scope): [string, string] => ['scope', scope])]);
    const scaPage = await walkSandbox(sandboxJar, issuer.origin, await send(sandboxJar, consentAction, consent));
    const scaAction = formAction(scaPage, 'sca');
    if (scaAction === undefined) throw unexpected('expected the sandbox one-time code page', scaPage);
    const finished = await walkSandbox(sandboxJar, issuer.origin, await send(sandboxJar, scaAction, new URLSearchParams({ otp })));
    if (finished.location === undefined) throw unexpected('expected the sandbox to send the browser back to the app', finished);

    // 3. the app's callback, at the server actually serving the app
    const callback = new URL(`${finished.location.pathname}${finished.location.search}`, served.base);
    const signedIn = await send(appJar, callback);
    if (signedIn.location === undefined) throw unexpected(`expected the app's callback to sign the user in and redirect`, signedIn);
    const cookie = appJar.header(callback);
    if (cookie === undefined) throw unexpected('the app kept no session cookie after the callback', signedIn);
    return cookie;
  } finally {
    await served.close();
  }
}
