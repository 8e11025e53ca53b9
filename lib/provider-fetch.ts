import type * as client from 'openid-client';
import createDebug from 'debug';
import { RelyingPartyError } from './errors.js';
import type { Config } from './options.js';

const debug = createDebug('express-relying-party:provider');

/** Provider answers larger than this are refused; discovery documents and JWKS are a few KB. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** An answer read to its end, so that several callers can each get a `Response` of it. */
interface ReadAnswer {
  status: number;
  statusText: string;
  headers: Headers;
  body: Uint8Array<ArrayBuffer> | null;
}

/**
 * `fetch` for every call openid-client makes to the provider: bounded by
 * `httpTimeout` (openid-client's signal) and by {@link MAX_RESPONSE_BYTES},
 * with transport failures turned into coded errors. Bodies are read here, so
 * a provider that sends headers and then stalls still times out.
 *
 * Concurrent GETs of the same URL without credentials (discovery, JWKS)
 * share one request: many logins that meet a new signing key at once cause
 * one JWKS refetch, not one each.
 */
export function providerFetch(config: Config): client.CustomFetch {
  const shared = new Map<string, Promise<ReadAnswer>>();

  async function send(url: string, options: client.CustomFetchOptions): Promise<ReadAnswer> {
    const signal = options.signal ?? AbortSignal.timeout(config.httpTimeout);
    const target = new URL(url);
    const where = `${target.origin}${target.pathname}`;
    let response: Response;
    let body: Uint8Array<ArrayBuffer> | null;
    try {
      response = await fetch(url, { ...options, body: options.body as BodyInit | null | undefined, signal });
      body = await readCapped(response, where);
    } catch (err) {
      if (err instanceof RelyingPartyError) throw err;
      if (signal.aborted) {
        throw new RelyingPartyError('provider_timeout', `The provider did not answer within ${config.httpTimeout} ms (${where}).`, { cause: err });
      }
      throw new RelyingPartyError('provider_unreachable', `The provider could not be reached (${where}).`, { cause: err });
    }
    debug('%s %s → %d (%d bytes)', options.method, where, response.status, body?.byteLength ?? 0);
    return { status: response.status, statusText: response.statusText, headers: response.headers, body };
  }

  return async function fetchFromProvider(url, options) {
    let answer: Promise<ReadAnswer>;
    const headers = new Headers(options.headers);
    if (options.method === 'GET' && !headers.has('authorization') && !headers.has('dpop')) {
      const key = `${url} ${headers.get('accept') ?? ''}`;
      answer = shared.get(key) ?? send(url, options).finally(() => shared.delete(key));
      shared.set(key, answer);
    } else {
      answer = send(url, options);
    }
    const { status, statusText, headers: responseHeaders, body } = await answer;
    return new Response(body?.slice() ?? null, { status, statusText, headers: responseHeaders });
  };
}

async function readCapped(response: Response, where: string): Promise<Uint8Array<ArrayBuffer> | null> {
  if (response.body === null || [204, 205, 304].includes(response.status)) {
    await response.body?.cancel();
    return null;
  }
  const tooLarge = () =>
    new RelyingPartyError('provider_response_too_large', `The provider's answer exceeds ${MAX_RESPONSE_BYTES} bytes (${where}).`);
  const declared = response.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared)) {
    if (Number(declared) > MAX_RESPONSE_BYTES) {
      await response.body.cancel();
      throw tooLarge();
    }
    // fetch holds the body to its declared length: read it in one go
    return new Uint8Array(await response.arrayBuffer());
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}
