/**
 * Load on the protected route with autocannon, and logins one after the
 * other: each measured together with the app's own CPU time (read in its
 * child process, so the load generator and the provider are not counted).
 */
import os from 'node:os';
import autocannon from 'autocannon';
import { cpuDelta } from './app-handle.js';
import type { AppHandle } from './app-handle.js';
import { loginAt } from './http-client.js';
import { percentile } from './stats.js';
import { PROTECTED_PATH } from './protocol.js';
import type { ProxiedRequest } from '../test/fixtures/provider.js';

export interface LoadRound {
  /** 2xx answers per second */
  rps: number;
  /** ms, from autocannon's per-request timings (not its 1 ms-resolution histogram) */
  p50: number;
  p99: number;
  /** app CPU time per request, µs */
  cpuPerRequest: number;
  requests: number;
  /** answers that were not 2xx, plus errors and timeouts */
  failures: number;
  /** CPU the rest of the machine used meanwhile (not the app, not this process), in cores */
  otherCores: number;
}

/** Busy CPU time of the whole machine so far, ms (all cores). */
function machineBusyMs(): number {
  return os.cpus().reduce((sum, cpu) => sum + cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq, 0);
}

export interface LoadSettings {
  seconds: number;
  connections: number;
  /** Default is the protected route. */
  path?: string;
}

/** Hit the protected route with the session cookie for `seconds`. */
export async function loadRound(app: AppHandle, cookie: string, settings: LoadSettings): Promise<LoadRound> {
  const latencies: number[] = [];
  const cpuBefore = await app.cpu();
  const ownBefore = process.cpuUsage();
  const machineBefore = machineBusyMs();
  const started = performance.now();
  const instance = autocannon({
    url: `${app.origin}${settings.path ?? PROTECTED_PATH}`,
    headers: { cookie },
    connections: settings.connections,
    duration: settings.seconds,
  });
  instance.on('response', (_client, statusCode, _bytes, ms) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(ms);
  });
  const result = await instance;
  const elapsed = (performance.now() - started) / 1000;
  const machine = machineBusyMs() - machineBefore;
  const own = cpuDelta(ownBefore, process.cpuUsage());
  const cpu = cpuDelta(cpuBefore, await app.cpu());
  const ok = latencies.length;
  return {
    rps: ok / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuPerRequest: ok === 0 ? Number.NaN : cpu / ok,
    requests: ok,
    failures: result.non2xx + result.errors + result.timeouts,
    otherCores: Math.max(0, (machine - (own + cpu) / 1000) / 1000 / elapsed),
  };
}

/** `count` GETs of `path` (optionally with a cookie), as fast as `connections` allow. */
export async function hammer(url: string, count: number, connections: number, cookie?: string): Promise<{ statuses: Map<number, number>; failures: number }> {
  const statuses = new Map<number, number>();
  const instance = autocannon({ url, amount: count, connections, ...(cookie === undefined ? {} : { headers: { cookie } }) });
  instance.on('response', (_client, statusCode) => {
    statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
  });
  const result = await instance;
  return { statuses, failures: result.errors + result.timeouts };
}

export interface LoginRound {
  logins: number;
  perSecond: number;
  /** app CPU time per login, ms */
  cpuPerLogin: number;
  /** provider requests seen during the round, by normalised path */
  providerRequests: Map<string, number>;
}

/** `GET /interaction/<uid>` → `GET /interaction/:uid`, so per-login counts add up by endpoint. */
export function endpointOf(request: ProxiedRequest): string {
  // a uid is long and has an upper-case letter, a digit or `_` (unlike `openid-configuration`)
  return `${request.method} ${request.path.replace(/\/(?=[\w-]*[A-Z0-9_])[\w-]{16,}(?=\/|$)/g, '/:uid')}`;
}

/** Whole logins as new browsers, `concurrency` at a time, at most `count`. */
export async function loginRound(
  app: AppHandle,
  provider: { issuer: string; requests: readonly ProxiedRequest[] },
  count: number,
  concurrency: number,
): Promise<LoginRound> {
  const firstRequest = provider.requests.length;
  const cpuBefore = await app.cpu();
  const started = performance.now();
  let begun = 0;
  const worker = async () => {
    while (begun < count) {
      begun += 1;
      await loginAt(app.origin, provider.issuer);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const cpu = cpuDelta(cpuBefore, await app.cpu());
  const providerRequests = new Map<string, number>();
  for (const request of provider.requests.slice(firstRequest)) {
    const endpoint = endpointOf(request);
    providerRequests.set(endpoint, (providerRequests.get(endpoint) ?? 0) + 1);
  }
  return { logins: count, perSecond: count / elapsed, cpuPerLogin: cpu / 1000 / count, providerRequests };
}
