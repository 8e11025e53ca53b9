/**
 * Messages between the benchmark (parent) and one app under test running in
 * its own child process, so that the app's CPU can be read apart from the
 * provider's and the load generator's.
 */

/** The route every app guards; it answers `{"sub": …}` to a signed-in session. */
export const PROTECTED_PATH = '/protected';
/** (b)'s second route, guarded by `requiresAuth({ acr, scopes })`; same answer. */
export const STEP_UP_PATH = '/protected-step-up';
/** The `acr` of (b)'s sign-in, which its step-up route requires. */
export const BENCH_ACR = 'urn:bench:loa:2';

/** The hand-written guard's user: the test provider's account claims. */
export interface GuardUser {
  sub: string;
  name: string;
  email: string;
  email_verified: boolean;
}

/** Which app a child runs. */
export type AppKind = 'guard' | 'ours' | 'eoc';

/** What a child needs to build its app once the provider is up. */
export type AppConfig =
  | {
      kind: 'guard';
      /** what `/bench-login` puts in `req.session.user` */
      user: GuardUser;
      /** JSON of more session data that `/bench-login` copies into the session (another app's signed-in session) */
      extraSession?: string;
    }
  | {
      kind: 'ours';
      issuer: string;
      clientId: string;
      clientSecret: string;
      baseUrl: string;
      /** ms; default is the library's */
      loginTimeout?: number;
      /** ms; express-session `cookie.maxAge`, unset by default (a browser-session cookie that MemoryStore never expires) */
      sessionMaxAge?: number;
      /** PAR + private_key_jwt + DPoP with these private JWKs instead of the client secret */
      fapi?: { clientPrivateKey: Record<string, unknown>; dpopKey: Record<string, unknown> };
    }
  | { kind: 'eoc'; issuer: string; clientId: string; clientSecret: string; baseUrl: string };

/** Parent → child. */
export type Request =
  | { id: number; type: 'configure'; config: AppConfig }
  | { id: number; type: 'cpu' }
  | { id: number; type: 'memory' }
  | { id: number; type: 'gc' }
  | { id: number; type: 'sessions' }
  | { id: number; type: 'signedInSession' }
  | { id: number; type: 'profileStart' }
  /** stop the CPU profile and write it (a `.cpuprofile` file) to `path` */
  | { id: number; type: 'profileStop'; path: string }
  | { id: number; type: 'shutdown' };

/** `process.cpuUsage()`, microseconds. */
export interface CpuUsage {
  user: number;
  system: number;
}

/** The parts of `process.memoryUsage()` reported, bytes. */
export interface MemoryUsage {
  rss: number;
  heapUsed: number;
  external: number;
}

/** The app's MemoryStore as it stands (express-session apps only). */
export interface SessionStats {
  /** sessions held (MemoryStore drops expired ones while listing them) */
  count: number;
  /** summed length of the stored JSON entries, bytes */
  totalBytes: number;
  /** the largest stored entry, bytes */
  maxBytes: number;
  /** the most pending logins any one session holds */
  maxPendingLogins: number;
  /** sessions holding a completed login */
  signedIn: number;
  /** the stored entry of one signed-in session, bytes, if there is one */
  signedInBytes?: number;
}

/** What each request answers. */
export interface Answers {
  configure: null;
  cpu: CpuUsage;
  memory: MemoryUsage;
  /** false when the child has no `--expose-gc` */
  gc: boolean;
  sessions: SessionStats | null;
  /** JSON of one signed-in session's data without its cookie */
  signedInSession: string | null;
  profileStart: null;
  profileStop: null;
  shutdown: null;
}

/** Child → parent. */
export type Message =
  | { type: 'listening'; port: number }
  | { type: 'answer'; id: number; value: Answers[keyof Answers] }
  | { type: 'failed'; id: number; error: string };
