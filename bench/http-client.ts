/**
 * The browser's side of each app: a cookie jar and the whole login
 * (app /login → provider, scripted → app /callback), with the provider part
 * played by the tests' {@link ProviderBrowser}.
 */
import { ProviderBrowser } from '../test/fixtures/browser.js';
import { PROTECTED_PATH } from './protocol.js';

/** Name → value, as a browser holds them for one origin (paths are all `/` here). */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  /** Apply a response's `Set-Cookie` headers. */
  store(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const expired = attributes.some((attribute) => {
        const [key = '', value = ''] = attribute.split('=', 2).map((s) => s.trim());
        return (key.toLowerCase() === 'max-age' && Number(value) <= 0)
          || (key.toLowerCase() === 'expires' && Date.parse(value) <= Date.now());
      });
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, pair.slice(eq + 1).trim());
    }
  }

  /** The `Cookie` request header. */
  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  names(): string[] {
    return [...this.#cookies.keys()];
  }
}

async function expectStatus(response: Response, status: number, what: string): Promise<void> {
  if (response.status === status) {
    await response.body?.cancel();
    return;
  }
  const text = (await response.text()).slice(0, 300);
  throw new Error(`${what}: expected ${status}, got ${response.status} ${text}`);
}

/**
 * One full login at an OpenID Connect app as a new browser: GET /login,
 * the provider's scripted login and consent, GET /callback. Returns the
 * app's cookies afterwards (the signed-in session).
 */
export async function loginAt(origin: string, issuer: string, jar = new CookieJar()): Promise<CookieJar> {
  const start = await fetch(`${origin}/login`, { redirect: 'manual', headers: { cookie: jar.header(), accept: 'text/html' } });
  jar.store(start);
  const authorize = start.headers.get('location');
  await expectStatus(start, 302, `${origin}/login`);
  if (authorize === null) throw new Error(`${origin}/login: no Location`);

  const callback = await new ProviderBrowser(issuer).authorize(authorize);
  if (callback.origin !== origin) throw new Error(`the provider sent the browser to ${callback.origin}, not ${origin}`);

  const done = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header(), accept: 'text/html' } });
  jar.store(done);
  await expectStatus(done, 302, `${origin}/callback`);
  return jar;
}

/** The hand-written guard's stand-in login. */
export async function benchLoginAt(origin: string): Promise<CookieJar> {
  const jar = new CookieJar();
  const response = await fetch(`${origin}/bench-login`);
  jar.store(response);
  await expectStatus(response, 204, `${origin}/bench-login`);
  return jar;
}

/** What one request to the protected route shows. */
export interface Probe {
  status: number;
  body: string;
  /** `Set-Cookie` headers of the answer */
  setCookies: string[];
}

export async function probeProtected(origin: string, cookie: string, path = PROTECTED_PATH): Promise<Probe> {
  const response = await fetch(`${origin}${path}`, { headers: { cookie } });
  return { status: response.status, body: await response.text(), setCookies: response.headers.getSetCookie() };
}
