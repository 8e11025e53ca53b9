import type { Request, Response } from 'express';

/** The raw query string of the request, with its leading `?` (or `''`). */
export function searchOf(req: Request): string {
  const start = req.url.indexOf('?');
  return start === -1 ? '' : req.url.slice(start);
}

/**
 * Auth routes carry one-time values and set cookies: no cache may keep
 * them, and no page they lead to may learn their URL through `Referer`.
 */
export function authRouteHeaders(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

/** A page load in a browser, as opposed to an API call: GET/HEAD that explicitly accepts HTML. */
export function isBrowserNavigation(req: Request): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && (req.headers.accept ?? '').includes('text/html');
}
