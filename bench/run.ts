/**
 * `npm run bench`: the apps side by side against one local oidc-provider.
 *
 *   (a)  express-session + a hand-written guard (the floor)
 *   (a′) the same guard with (b)'s session contents: what session size alone costs
 *   (b)  relyingParty() + requiresAuth()
 *   (b+) the same app, a route behind requiresAuth({ acr, scopes })
 *   (c)  Auth0's express-openid-connect + its requiresAuth()
 *   (b-FAPI) (b) with pushed authorization requests, private_key_jwt and
 *        DPoP-bound tokens: logins only, against (b) in the same rounds
 *
 * Each app runs in its own child process; this process runs the provider
 * (the tests' fixture, behind its proxy, which counts requests), the load
 * generator and the scripted browser. Prints the tables and rewrites
 * docs/benchmarks.md. `--quick`: a short smoke run that leaves the doc alone.
 * `--profile`: also write V8 CPU profiles of each app, one for the
 * protected-route rounds and one for the login rounds, to bench/profiles/
 * (summarise one with `npx tsx bench/profile-summary.ts <file>`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import { DEFAULT_INTERACTION, accountClaims, startTestProvider } from '../test/fixtures/provider.js';
import type { TestProvider } from '../test/fixtures/provider.js';
import { startApp } from './app-handle.js';
import type { AppHandle } from './app-handle.js';
import { benchLoginAt, CookieJar, loginAt, probeProtected } from './http-client.js';
import type { Probe } from './http-client.js';
import { endpointOf, hammer, loadRound, loginRound } from './load.js';
import { BENCH_ACR, PROTECTED_PATH, STEP_UP_PATH } from './protocol.js';
import type { LoadRound, LoginRound } from './load.js';
import { renderReport } from './report.js';
import type { AppKey, AppResult, MemoryResult, MemorySample, Results, Settings } from './results.js';

const argv = new Set(process.argv.slice(2));
const quick = argv.has('--quick');
const profile = argv.has('--profile');

const settings: Settings = quick
  ? { warmupSeconds: 1, rounds: 2, roundSeconds: 1, connections: 10, loginWarmup: 4, loginRounds: 2, loginsPerRound: 10, loginConcurrency: 4, startedLogins: 1000, loginTimeout: 1000, sessionMaxAge: 2000 }
  : { warmupSeconds: 3, rounds: 10, roundSeconds: 2, connections: 10, loginWarmup: 20, loginRounds: 4, loginsPerRound: 50, loginConcurrency: 4, startedLogins: 10_000, loginTimeout: 2000, sessionMaxAge: 5000 };

const EOC_CLIENT = { id: 'bench-eoc', secret: 'bench-eoc-secret' };
const FAPI_CLIENT = 'bench-fapi';

/** A P-256 key pair as a private JWK (for the app) and a public one (for the provider), under `kid`. */
async function es256Key(kid: string): Promise<{ privateJwk: Record<string, unknown>; publicJwk: Record<string, unknown> }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateJwk: { ...(await exportJWK(privateKey)), kid }, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}
const docPath = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const profileDir = fileURLToPath(new URL('./profiles/', import.meta.url));

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface Contender {
  key: AppKey;
  label: string;
  app: AppHandle;
  cookie: string;
  /** provider requests made by the app's first login (discovery, JWKS, token…) */
  firstLogin?: Map<string, number>;
  /** the route loaded; default is the protected route */
  path?: string;
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = os.loadavg();
  if (profile) {
    await mkdir(profileDir, { recursive: true });
    // profiles are big and machine-specific: keep them out of git
    await writeFile(`${profileDir}.gitignore`, '*\n');
  }
  const starting = await Promise.allSettled([
    startApp('a-guard'),
    startApp('a2-guard-tokens'),
    startApp('b-ours'),
    startApp('c-eoc'),
    startApp('b-ours-memory'),
    startApp('b-ours-fapi'),
  ]);
  const apps = starting.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const [guard, guardTokens, ours, eoc, oursMemory, oursFapi] = apps;
  if (!guard || !guardTokens || !ours || !eoc || !oursMemory || !oursFapi) {
    await Promise.allSettled(apps.map((app) => app.close()));
    throw starting.find((s) => s.status === 'rejected')?.reason;
  }
  let tp: TestProvider | undefined;
  const clientKey = await es256Key('bench-client');
  const dpopKey = await es256Key('bench-dpop');
  try {
    tp = await startTestProvider({
      redirectUris: [`${ours.origin}/callback`, `${oursMemory.origin}/callback`],
      postLogoutRedirectUris: [`${ours.origin}/`, `${oursMemory.origin}/`],
      extraClients: [
        {
          client_id: FAPI_CLIENT,
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [clientKey.publicJwk] },
          require_pushed_authorization_requests: true,
          dpop_bound_access_tokens: true,
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: [`${oursFapi.origin}/callback`],
          post_logout_redirect_uris: [`${oursFapi.origin}/`],
        },
        {
          client_id: EOC_CLIENT.id,
          client_secret: EOC_CLIENT.secret,
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: [`${eoc.origin}/callback`],
          post_logout_redirect_uris: [`${eoc.origin}/`],
        },
      ],
    });
    const provider = tp;
    const client = { issuer: provider.issuer, clientId: provider.clientId, clientSecret: provider.clientSecret };
    await Promise.all([
      guard.configure({ kind: 'guard', user: accountClaims('alice') }),
      ours.configure({ kind: 'ours', ...client, baseUrl: ours.origin }),
      eoc.configure({ kind: 'eoc', issuer: provider.issuer, clientId: EOC_CLIENT.id, clientSecret: EOC_CLIENT.secret, baseUrl: eoc.origin }),
      oursFapi.configure({
        kind: 'ours',
        issuer: provider.issuer,
        clientId: FAPI_CLIENT,
        clientSecret: '',
        baseUrl: oursFapi.origin,
        fapi: { clientPrivateKey: clientKey.privateJwk, dpopKey: dpopKey.privateJwk },
      }),
      oursMemory.configure({
        kind: 'ours',
        ...client,
        baseUrl: oursMemory.origin,
        loginTimeout: settings.loginTimeout,
        sessionMaxAge: settings.sessionMaxAge,
      }),
    ]);

    // a signed-in session in each app; the first real login shows what the app fetches once
    const signIn = async (app: AppHandle): Promise<{ jar: CookieJar; requests: Map<string, number> }> => {
      const first = provider.requests.length;
      const jar = await loginAt(app.origin, provider.issuer);
      const requests = new Map<string, number>();
      for (const request of provider.requests.slice(first)) requests.set(endpointOf(request), (requests.get(endpointOf(request)) ?? 0) + 1);
      return { jar, requests };
    };
    // (b)'s sign-in reaches the acr its step-up route requires
    provider.nextInteraction = { accountId: 'alice', acr: BENCH_ACR };
    const oursLogin = await signIn(ours);
    provider.nextInteraction = DEFAULT_INTERACTION;
    const eocLogin = await signIn(eoc);
    const fapiLogin = await signIn(oursFapi);
    // (a′): the same guard, its session holding what (b)'s holds, to tell session size from library overhead
    const oursSession = await ours.signedInSession();
    await guardTokens.configure({ kind: 'guard', user: accountClaims('alice'), ...(oursSession === null ? {} : { extraSession: oursSession }) });
    const contenders: Contender[] = [
      { key: 'guard', label: '(a) express-session guard', app: guard, cookie: (await benchLoginAt(guard.origin)).header() },
      { key: 'guardTokens', label: "(a′) guard, session with (b)'s data", app: guardTokens, cookie: (await benchLoginAt(guardTokens.origin)).header() },
      { key: 'ours', label: '(b) relyingParty()', app: ours, cookie: oursLogin.jar.header(), firstLogin: oursLogin.requests },
      { key: 'oursStepUp', label: '(b+) requiresAuth({ acr, scopes })', app: ours, cookie: oursLogin.jar.header(), path: STEP_UP_PATH },
      { key: 'eoc', label: '(c) express-openid-connect', app: eoc, cookie: eocLogin.jar.header(), firstLogin: eocLogin.requests },
    ];

    // the protected route, probed before the load: signed in, and which cookies travel
    const probes = new Map<string, Probe>();
    for (const contender of contenders) {
      const probe = await probeProtected(contender.app.origin, contender.cookie, contender.path ?? PROTECTED_PATH);
      if (probe.status !== 200 || !probe.body.includes('"sub":"alice"')) {
        throw new Error(`${contender.label}: the protected route answered ${probe.status} ${probe.body.slice(0, 200)}`);
      }
      probes.set(contender.key, probe);
    }

    // protected-route load: warm-up, then alternating rounds a, a′, b, b+, c, a, a′, b, b+, c, …
    log(`protected route: ${settings.warmupSeconds} s warm-up each, then ${settings.rounds} alternating rounds × ${settings.roundSeconds} s per app`);
    for (const contender of contenders) {
      await loadRound(contender.app, contender.cookie, { seconds: settings.warmupSeconds, connections: settings.connections, ...(contender.path ? { path: contender.path } : {}) });
    }
    const rounds = new Map<string, LoadRound[]>(contenders.map((c) => [c.key, []]));
    // (b+) runs in (b)'s process: one profile each
    const profiled = contenders.filter((c) => c.key !== 'oursStepUp');
    if (profile) await Promise.all(profiled.map((c) => c.app.profileStart()));
    for (let round = 0; round < settings.rounds; round++) {
      for (const contender of contenders) {
        const result = await loadRound(contender.app, contender.cookie, { seconds: settings.roundSeconds, connections: settings.connections, ...(contender.path ? { path: contender.path } : {}) });
        rounds.get(contender.key)?.push(result);
        log(`  round ${round + 1} ${contender.label}: ${result.rps.toFixed(0)} req/s, p99 ${result.p99.toFixed(2)} ms, ${result.cpuPerRequest.toFixed(0)} µs CPU/req, other load ${result.otherCores.toFixed(2)} cores`);
      }
    }
    if (profile) await Promise.all(profiled.map((c) => c.app.profileStop(`${profileDir}${c.app.name}-protected.cpuprofile`)));
    // and after the load: still signed in, still no (or still a) Set-Cookie
    const probesAfter = new Map<string, Probe>();
    for (const contender of contenders) probesAfter.set(contender.key, await probeProtected(contender.app.origin, contender.cookie, contender.path ?? PROTECTED_PATH));

    // whole logins, alternating b, b-FAPI, c in rounds
    log(`logins: ${settings.loginWarmup} warm-up, then ${settings.loginRounds} alternating rounds × ${settings.loginsPerRound} per app, ${settings.loginConcurrency} at a time`);
    const fapiContender: Contender = { key: 'oursFapi', label: '(b-FAPI) relyingParty() with PAR, private_key_jwt and DPoP', app: oursFapi, cookie: fapiLogin.jar.header(), firstLogin: fapiLogin.requests };
    const loginContenders = [...contenders.filter((c) => c.key === 'ours'), fapiContender, ...contenders.filter((c) => c.key === 'eoc')];
    for (const contender of loginContenders) await loginRound(contender.app, provider, settings.loginWarmup, settings.loginConcurrency);
    const logins = new Map<string, LoginRound[]>(loginContenders.map((c) => [c.key, []]));
    if (profile) await Promise.all(loginContenders.map((c) => c.app.profileStart()));
    for (let round = 0; round < settings.loginRounds; round++) {
      for (const contender of loginContenders) {
        const result = await loginRound(contender.app, provider, settings.loginsPerRound, settings.loginConcurrency);
        logins.get(contender.key)?.push(result);
        log(`  round ${round + 1} ${contender.label}: ${result.perSecond.toFixed(1)} logins/s, ${result.cpuPerLogin.toFixed(2)} ms CPU/login`);
      }
    }

    if (profile) await Promise.all(loginContenders.map((c) => c.app.profileStop(`${profileDir}${c.app.name}-logins.cpuprofile`)));

    const memory = await measureMemory(oursMemory, provider.issuer);

    const results: Results = {
      settings,
      durationSeconds: 0,
      loadAverage: { before: loadBefore, after: loadBefore },
      apps: await Promise.all(
        contenders.map(async (c): Promise<AppResult> => ({
          key: c.key,
          label: c.label,
          cookieBytes: Buffer.byteLength(c.cookie),
          probe: probes.get(c.key) as Probe,
          probeAfter: probesAfter.get(c.key) as Probe,
          rounds: rounds.get(c.key) ?? [],
          logins: logins.get(c.key) ?? [],
          firstLogin: c.firstLogin,
          sessions: await c.app.sessions(),
        })),
      ),
      memory,
      fapi: {
        key: fapiContender.key,
        label: fapiContender.label,
        cookieBytes: Buffer.byteLength(fapiContender.cookie),
        probe: await probeProtected(oursFapi.origin, fapiContender.cookie),
        probeAfter: await probeProtected(oursFapi.origin, fapiContender.cookie),
        rounds: [],
        logins: logins.get(fapiContender.key) ?? [],
        firstLogin: fapiContender.firstLogin,
        sessions: await oursFapi.sessions(),
      },
    };
    results.durationSeconds = (Date.now() - started) / 1000;
    results.loadAverage = { before: loadBefore, after: os.loadavg() };
    const report = renderReport(results);
    process.stdout.write(`${report.console}\n`);
    if (quick || profile) {
      log(`${quick ? '--quick' : '--profile'}: ${docPath} left as it was`);
    } else {
      await writeFile(docPath, report.markdown);
      log(`wrote ${docPath}`);
    }
  } finally {
    await Promise.allSettled(apps.map((app) => app.close()));
    await tp?.close();
  }
  if (profile) log(`CPU profiles in ${profileDir}: open one in Chrome DevTools, or run npx tsx bench/profile-summary.ts <file>`);
}

/**
 * RSS and heap of a fresh instance of (b), with a short loginTimeout and a
 * session cookie maxAge (the store's own expiry is what reclaims sessions a
 * browser abandoned), around `startedLogins` GET /login from one session,
 * then two cycles of as many from new sessions, each left to expire: the
 * first cycle also warms the process up, so a leak is what the second adds.
 */
async function measureMemory(app: AppHandle, issuer: string): Promise<MemoryResult> {
  const sample = async (label: string): Promise<MemorySample> => {
    // listing first: MemoryStore drops expired sessions only when it is read, and the GC must come after that
    const sessions = await app.sessions();
    await app.gc();
    return { label, ...(await app.memory()), sessions };
  };
  const n = settings.startedLogins;
  const loginUrl = `${app.origin}/login`;
  log(`memory: ${n} started logins from one session, ${n} from new sessions`);

  // one login first: discovery happens, and this browser's session exists
  const jar = new CookieJar();
  const first = await fetch(loginUrl, { redirect: 'manual' });
  jar.store(first);
  await first.body?.cancel();
  const samples: MemorySample[] = [await sample('baseline: 1 started login, after GC')];

  const oneSession = await hammer(loginUrl, n, settings.connections, jar.header());
  samples.push(await sample(`after ${n} GET /login from one session`));
  const newSessions = await hammer(loginUrl, n, settings.connections);
  samples.push(await sample(`after ${n} more, each from a new session`));

  // past loginTimeout: the next login in the first session drops its expired pending logins
  await sleep(settings.loginTimeout + 200);
  const again = await fetch(loginUrl, { redirect: 'manual', headers: { cookie: jar.header() } });
  await again.body?.cancel();
  samples.push(await sample('loginTimeout later, after one more login in the first session'));

  // past the session maxAge: the store drops the abandoned sessions (it does so while listing them)
  await sleep(settings.sessionMaxAge + 500);
  samples.push(await sample('session maxAge later: abandoned sessions expired (cycle 1)'));

  // the same again: what a leak would add shows as growth from one cycle to the next
  const secondCycle = await hammer(loginUrl, n, settings.connections);
  samples.push(await sample(`cycle 2: ${n} more from new sessions`));
  await sleep(settings.sessionMaxAge + 500);
  samples.push(await sample('session maxAge later: expired (cycle 2)'));

  // and it still works after all that
  await loginAt(app.origin, issuer);
  return {
    startedLogins: n,
    oneSessionStatuses: Object.fromEntries(oneSession.statuses),
    newSessionStatuses: Object.fromEntries(newSessions.statuses),
    failures: oneSession.failures + newSessions.failures + secondCycle.failures,
    samples,
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
