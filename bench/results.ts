/** The benchmark's results, and the helpers that turn them into table cells. */
import type { Probe } from './http-client.js';
import type { LoadRound, LoginRound } from './load.js';
import type { MemoryUsage, SessionStats } from './protocol.js';
import { spread } from './stats.js';
import type { Spread } from './stats.js';

export interface Settings {
  warmupSeconds: number;
  rounds: number;
  roundSeconds: number;
  connections: number;
  /** uncounted logins per app before the rounds */
  loginWarmup: number;
  loginRounds: number;
  loginsPerRound: number;
  loginConcurrency: number;
  startedLogins: number;
  /** ms, for the memory run */
  loginTimeout: number;
  /** ms, session cookie maxAge for the memory run */
  sessionMaxAge: number;
}

export type AppKey = 'guard' | 'guardTokens' | 'ours' | 'oursStepUp' | 'eoc' | 'oursFapi';

export interface AppResult {
  key: AppKey;
  label: string;
  /** bytes of the `Cookie` header sent on every protected request */
  cookieBytes: number;
  probe: Probe;
  probeAfter: Probe;
  rounds: LoadRound[];
  logins: LoginRound[];
  firstLogin: Map<string, number> | undefined;
  sessions: SessionStats | null;
}

export interface MemorySample extends MemoryUsage {
  label: string;
  sessions: SessionStats | null;
}

export interface MemoryResult {
  startedLogins: number;
  oneSessionStatuses: Record<string, number>;
  newSessionStatuses: Record<string, number>;
  failures: number;
  samples: MemorySample[];
}

export interface Results {
  settings: Settings;
  durationSeconds: number;
  /** `os.loadavg()` before and after the run: other work on the machine shows here */
  loadAverage: { before: number[]; after: number[] };
  apps: AppResult[];
  memory: MemoryResult;
  /** (b) with PAR, private_key_jwt and DPoP: logins only (no protected-route rounds) */
  fapi: AppResult;
}

export const fixed = (digits: number) => (value: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
export const int = fixed(0);
export const two = fixed(2);
export const ratio = (a: number, b: number) => (b === 0 || !Number.isFinite(a / b) ? 'n/a' : `${(a / b).toFixed(2)}×`);
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
export const kb = (bytes: number) => (bytes >= 1024 ? `${(bytes / 1024).toFixed(2)} KB (${bytes} B)` : `${bytes} B`);

/** x / y round by round (the apps alternate, so round i of each ran under the same conditions) */
export function paired(x: AppResult, y: AppResult, pick: (round: LoadRound) => number): Spread {
  return spread(x.rounds.flatMap((round, i) => {
    const other = y.rounds[i];
    return other === undefined ? [] : [pick(round) / pick(other)];
  }));
}

export const times = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a');

export function pairedRatios(x: Derived, y: Derived): string[] {
  return [
    withRange(paired(x.app, y.app, (r) => r.rps), times),
    withRange(paired(x.app, y.app, (r) => r.p99), times),
    withRange(paired(x.app, y.app, (r) => r.cpuPerRequest), times),
  ];
}

export function withRange(s: Spread, format: (n: number) => string): string {
  return `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function setCookieSummary(probe: Probe): string {
  if (probe.setCookies.length === 0) return 'none';
  const names = probe.setCookies.map((c) => c.slice(0, c.indexOf('=')));
  return `${names.join(', ')}: ${kb(probe.setCookies.reduce((sum, c) => sum + Buffer.byteLength(c), 0))}`;
}

export interface Derived {
  app: AppResult;
  rps: Spread;
  p99: Spread;
  p50: Spread;
  cpu: Spread;
  loginsPerSecond: Spread;
  cpuPerLogin: Spread;
}

export function derive(app: AppResult): Derived {
  return {
    app,
    rps: spread(app.rounds.map((r) => r.rps)),
    p99: spread(app.rounds.map((r) => r.p99)),
    p50: spread(app.rounds.map((r) => r.p50)),
    cpu: spread(app.rounds.map((r) => r.cpuPerRequest)),
    loginsPerSecond: spread(app.logins.map((r) => r.perSecond)),
    cpuPerLogin: spread(app.logins.map((r) => r.cpuPerLogin)),
  };
}

/** provider requests per login over all measured rounds */
export function perLogin(app: AppResult): Map<string, number> {
  const total = new Map<string, number>();
  let count = 0;
  for (const round of app.logins) {
    count += round.logins;
    for (const [endpoint, n] of round.providerRequests) total.set(endpoint, (total.get(endpoint) ?? 0) + n);
  }
  return new Map([...total].map(([endpoint, n]) => [endpoint, n / Math.max(1, count)]));
}

export const APP_ENDPOINTS = ['GET /.well-known/openid-configuration', 'GET /jwks', 'POST /request', 'POST /token', 'GET /me', 'POST /me'];

/** Who makes a request to the provider: the app, the provider itself (reading a client's registered keys), or the browser. */
export function madeBy(endpoint: string): string {
  if (APP_ENDPOINTS.includes(endpoint)) return 'app';
  return endpoint.startsWith('GET /__client-jwks/') ? 'provider (client keys)' : 'browser';
}


/** A round is quiet when the rest of the machine used less than this many cores in every app's turn of it. */
export const QUIET_CORES = 0.25;
const MIN_QUIET_ROUNDS = 3;

/** Which protected-route rounds the tables use. */
export interface RoundSelection {
  apps: AppResult[];
  total: number;
  /** indices of the quiet rounds */
  quiet: number[];
  /** true when the tables use only the quiet rounds */
  quietOnly: boolean;
  /** other load over all rounds, cores */
  other: Spread;
}

/**
 * The quiet rounds when there are at least three of them (other work on a
 * 2-core machine takes CPU from the app or the load generator and distorts
 * throughput and latency), else every round.
 */
export function selectRounds(apps: AppResult[]): RoundSelection {
  const total = Math.min(...apps.map((app) => app.rounds.length));
  const quiet = Array.from({ length: total }, (_, i) => i).filter((i) => apps.every((app) => (app.rounds[i]?.otherCores ?? Infinity) < QUIET_CORES));
  const other = spread(apps.flatMap((app) => app.rounds.map((r) => r.otherCores)));
  if (quiet.length === total || quiet.length < MIN_QUIET_ROUNDS) return { apps, total, quiet, quietOnly: false, other };
  return { apps: apps.map((app) => ({ ...app, rounds: quiet.flatMap((i) => app.rounds[i] ?? []) })), total, quiet, quietOnly: true, other };
}
