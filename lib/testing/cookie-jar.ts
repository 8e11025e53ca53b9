interface Cookie {
  readonly name: string;
  readonly value: string;
  readonly path: string;
}

/**
 * The cookies of one origin, as a browser keeps them: `Set-Cookie` in,
 * `Cookie` out, by path, with deletions (`Max-Age=0`, an `Expires` in the
 * past) honoured. Enough for the sign-in flow; domains are not modelled,
 * each jar belongs to one origin.
 */
export class CookieJar {
  readonly #cookies = new Map<string, Cookie>();

  /** Takes the `Set-Cookie` headers of a response to a request for `url`. */
  store(url: URL, headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '';
      let expired = false;
      for (const attribute of attributes) {
        const [key = '', val = ''] = attribute.split('=', 2).map((part) => part.trim());
        const lower = key.toLowerCase();
        if (lower === 'path') path = val;
        else if (lower === 'max-age') expired ||= Number(val) <= 0;
        else if (lower === 'expires') expired ||= Date.parse(val) <= Date.now();
      }
      // RFC 6265 default-path: the request path up to its last slash
      if (!path.startsWith('/')) path = url.pathname.slice(0, url.pathname.lastIndexOf('/')) || '/';
      const key = `${path} ${name}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
  }

  /** The `Cookie` header for a request to `url`, or `undefined` when no cookie applies. */
  header(url: URL): string | undefined {
    const matching = [...this.#cookies.values()].filter(({ path }) => pathMatches(path, url.pathname));
    // longer paths first, as browsers send them
    matching.sort((a, b) => b.path.length - a.path.length);
    return matching.length === 0 ? undefined : matching.map(({ name, value }) => `${name}=${value}`).join('; ');
  }
}

function pathMatches(cookiePath: string, requestPath: string): boolean {
  return (
    requestPath === cookiePath ||
    (requestPath.startsWith(cookiePath) && (cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/'))
  );
}
