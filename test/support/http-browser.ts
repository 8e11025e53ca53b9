/**
 * A minimal scripted "browser" for the example app tests: global fetch, a
 * cookie jar shared by host (browsers do not separate cookies by port, and
 * the app and the sandbox both live on 127.0.0.1), redirects followed by
 * hand so every hop is visible, and HTML forms submitted by their action.
 * Enough to walk the whole authorization code flow without Chromium.
 */

export interface Page {
  /** URL of the last hop. */
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** Every URL visited, redirects included. */
  readonly hops: readonly string[];
}

/** Form fields as name/value pairs (a name may repeat, as for checkboxes) or an object. */
type Form = Record<string, string> | [string, string][];

interface Cookie {
  value: string;
  expires: number | undefined;
}

export class HttpBrowser {
  readonly #jar = new Map<string, Map<string, Cookie>>();

  /** Cookie names currently held for the host of `url`. */
  cookieNames(url: string): string[] {
    return [...(this.#cookiesFor(url)?.keys() ?? [])];
  }

  #cookiesFor(url: string): Map<string, Cookie> | undefined {
    const jar = this.#jar.get(new URL(url).hostname);
    if (!jar) return undefined;
    for (const [name, cookie] of jar) if (cookie.expires !== undefined && cookie.expires <= Date.now()) jar.delete(name);
    return jar;
  }

  #store(url: string, headers: Headers): void {
    const host = new URL(url).hostname;
    let jar = this.#jar.get(host);
    if (!jar) this.#jar.set(host, (jar = new Map()));
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let expires: number | undefined;
      for (const attribute of attributes) {
        const [key = '', val = ''] = attribute.split('=');
        if (key.trim().toLowerCase() === 'max-age') expires = Date.now() + Number(val) * 1000;
        if (key.trim().toLowerCase() === 'expires' && expires === undefined) expires = Date.parse(val);
      }
      if (expires !== undefined && expires <= Date.now()) jar.delete(name);
      else jar.set(name, { value, expires });
    }
  }

  #cookieHeader(url: string): string | undefined {
    const jar = this.#cookiesFor(url);
    if (!jar || jar.size === 0) return undefined;
    return [...jar].map(([name, cookie]) => `${name}=${cookie.value}`).join('; ');
  }

  /** One request, no redirect following. */
  async request(url: string, init: { method?: string; form?: Form; accept?: string } = {}): Promise<Response> {
    const headers = new Headers({ accept: init.accept ?? 'text/html,application/xhtml+xml' });
    const cookie = this.#cookieHeader(url);
    if (cookie) headers.set('cookie', cookie);
    let body: URLSearchParams | undefined;
    if (init.form) {
      headers.set('content-type', 'application/x-www-form-urlencoded');
      body = new URLSearchParams(init.form);
    }
    const response = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.#store(url, response.headers);
    return response;
  }

  /** Navigates like a browser: follows redirects (a 303, or a 302 after POST, becomes a GET). */
  async navigate(url: string, init: { method?: string; form?: Form } = {}): Promise<Page> {
    const hops: string[] = [];
    let current = url;
    let method = init.method;
    let form = init.form;
    for (let i = 0; i < 20; i++) {
      hops.push(current);
      const response = await this.request(current, { method, form });
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.arrayBuffer();
        current = new URL(location, current).href;
        if (response.status !== 307 && response.status !== 308) {
          method = undefined;
          form = undefined;
        }
        continue;
      }
      return { url: current, status: response.status, headers: response.headers, text: await response.text(), hops };
    }
    throw new Error(`too many redirects from ${url}: ${hops.join(' → ')}`);
  }

  /**
   * Submits the form of `page` whose action contains `actionPart`, as a
   * browser would: its hidden fields and ticked checkboxes, then `fields`
   * (typed values and the submit button's name/value).
   */
  async submit(page: Page, actionPart: string, fields: Record<string, string>): Promise<Page> {
    const actions = [...page.text.matchAll(/<form[^>]*\saction="([^"]+)"/g)].map((match) => decodeEntities(match[1] ?? ''));
    const action = actions.find((candidate) => candidate.includes(actionPart));
    if (action === undefined) throw new Error(`no form with action containing "${actionPart}" on ${page.url} (forms: ${actions.join(', ') || 'none'})`);
    const hidden = [...page.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map(
      (match): [string, string] => [match[1] ?? '', decodeEntities(match[2] ?? '')],
    );
    const ticked = [...page.text.matchAll(/<input type="checkbox" name="([^"]+)" value="([^"]*)" checked>/g)].map(
      (match): [string, string] => [match[1] ?? '', decodeEntities(match[2] ?? '')],
    );
    return this.navigate(new URL(action, page.url).href, { form: [...hidden, ...ticked, ...Object.entries(fields)] });
  }
}

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, entity: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[entity] ?? '');
}

/** The whole sign-in at the sandbox: login page → consent → SCA, from a page that is the sandbox login form. */
export async function completeSandboxSignIn(
  browser: HttpBrowser,
  loginPage: Page,
  options: { username: string; otp?: string; decision?: 'approve' | 'deny' },
): Promise<Page> {
  const consent = await browser.submit(loginPage, '/login', { username: options.username, password: 'anything' });
  const afterConsent = await browser.submit(consent, '/consent', { decision: options.decision ?? 'approve' });
  if (options.decision === 'deny') return afterConsent;
  return browser.submit(afterConsent, '/sca', { otp: options.otp ?? '' });
}
