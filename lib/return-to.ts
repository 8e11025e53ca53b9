const MAX_LENGTH = 2048;
const probeOrigin = 'http://return-to.invalid';
// control characters, backslash (browsers read it as "/"), and whitespace the URL parser strips
// eslint-disable-next-line no-control-regex
const unsafe = /[\x00-\x20\x7F\\]/;

function isSafePath(value: string): boolean {
  return value.startsWith('/') && !value.startsWith('//') && !unsafe.test(value);
}

/** A decoded layer may hold spaces and the like; what matters is that it still starts like a path. */
function startsLikePath(value: string): boolean {
  // the URL parser drops tabs and newlines anywhere, so "/\t/host" would become "//host"
  const stripped = value.replace(/[\t\n\r]/g, '');
  // eslint-disable-next-line no-control-regex
  return /^\/(?![/\\])/.test(stripped) && !/^[\x00-\x20]/.test(value);
}

/**
 * Returns `value` when it is a same-origin relative path (`/orders?id=7`),
 * else `fallback`. Rejected: absolute and scheme URLs, protocol-relative
 * `//host`, `/\host`, control characters and whitespace, and the same tricks
 * percent-encoded (up to three layers deep), so that no browser, proxy or
 * later decoding step can turn it into a redirect to another origin.
 */
export function safeReturnTo(value: unknown, fallback = '/'): string {
  if (typeof value !== 'string' || value.length > MAX_LENGTH || !isSafePath(value)) return fallback;
  let decoded = value;
  for (let layer = 0; layer < 3 && decoded.includes('%'); layer++) {
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      return fallback;
    }
    if (!startsLikePath(decoded)) return fallback;
  }
  const url = new URL(value, probeOrigin);
  if (url.origin !== probeOrigin) return fallback;
  const normalised = url.pathname + url.search + url.hash;
  // resolving dot segments can make a new "//host" ("/.//host"): the result must pass too
  return normalised === value ? normalised : safeReturnTo(normalised, fallback);
}
