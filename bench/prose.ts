/** The prose of docs/benchmarks.md: machine, method, what the numbers say, where the time goes. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { LoadRound } from './load.js';
import { int, paired, QUIET_CORES, ratio, setCookieSummary, times, two } from './results.js';
import type { Derived, Results, RoundSelection, Settings } from './results.js';

const PACKAGES = ['express', 'express-session', 'openid-client', 'express-openid-connect', 'oidc-provider', 'autocannon', 'jose', 'tsx'];

function packageVersion(name: string): string {
  try {
    const json: unknown = JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8'));
    return typeof json === 'object' && json !== null && 'version' in json ? String(json.version) : '?';
  } catch {
    return 'not installed';
  }
}

/** The commit the library was measured at, and whether lib/ had changes on top of it. */
function revision(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' }).trim();
  try {
    const dirty = git('status', '--porcelain', '--', 'lib') !== '';
    return `commit ${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes in lib/' : ''}`;
  } catch {
    return 'an unknown commit';
  }
}

function ownVersion(): string {
  const json = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return json.version ?? '?';
}

/** Whether other work on the machine took CPU during the protected-route rounds, and what the tables use. */
export function disturbance(selection: RoundSelection): string[] {
  const { other, quiet, total, quietOnly } = selection;
  const load = `${two(other.median)} cores (median; max ${two(other.max)})`;
  if (quiet.length === total) return [`Other work on the machine during the protected-route rounds: ${load}; all ${total} rounds were quiet.`];
  if (quietOnly) {
    return [
      `> Other processes used ${load} of the 2 cores during the protected-route rounds. The protected-route tables and ratios use only the ${quiet.length} quiet rounds of ${total} (other load under ${QUIET_CORES} cores in every app's turn).`,
    ];
  }
  return [
    `> **This run was disturbed**: other processes used ${load} of the 2 cores during the protected-route rounds and only ${quiet.length} of ${total} rounds were quiet, so throughput and latency below are lower and noisier than the apps can do; CPU per request and the round-by-round ratios suffer least. Run it again on a quiet machine.`,
  ];
}

/** What this run's numbers say, worded from the numbers themselves. */
export function analysis(a: Derived, a2: Derived, b: Derived, b2: Derived, c: Derived): string[] {
  const bytesA = a.app.sessions?.signedInBytes ?? Number.NaN;
  const bytesA2 = a2.app.sessions?.signedInBytes ?? Number.NaN;
  const bytesB = b.app.sessions?.signedInBytes ?? Number.NaN;
  const median = (x: Derived, y: Derived, pick: (round: LoadRound) => number) => paired(x.app, y.app, pick).median;
  const r = (x: Derived, y: Derived, pick: (round: LoadRound) => number) => times(median(x, y, pick));
  const rps = (round: LoadRound) => round.rps;
  const cpu = (round: LoadRound) => round.cpuPerRequest;
  // extra CPU per request over (a): from the session's size (a′ − a) and from (b)'s own code (b − a′)
  const sizeCost = a2.cpu.median - a.cpu.median;
  const ownCost = b.cpu.median - a2.cpu.median;
  const perKb = (sizeCost / (bytesA2 - bytesA)) * 1024;
  let verdict: string;
  if (median(b, a, rps) >= 0.95 && median(b, a, cpu) <= 1.05) verdict = 'in this run there is no gap to (a) worth naming';
  else if (sizeCost > ownCost) verdict = `the gap to (a) is mostly the size of what (b) keeps in the session (${bytesB} B), not its code`;
  else verdict = `in this run (b)'s own code cost as much as or more than the size of its session (${bytesB} B); see the profile figures below`;
  return [
    '## Analysis',
    `- **Protected route.** (b) does ${r(b, a, rps)} the throughput of (a) at ${r(b, a, cpu)} its CPU per request. `
      + `(a′), the very same hand-written guard whose session holds (b)'s data (${bytesA2} B instead of ${bytesA} B), does ${r(a2, a, rps)} at ${r(a2, a, cpu)} the CPU`
      + (perKb > 0 ? ` (about ${int(perKb)} µs per request per KB of session)` : '')
      + ': express-session hashes the whole session (JSON.stringify + CRC) twice per request, and MemoryStore parses it on get and parses and re-serialises it on touch. '
      + `Against (a′) (b) does ${r(b, a2, rps)} at ${r(b, a2, cpu)} the CPU (${int(ownCost)} µs per request of its own, against ${int(sizeCost)} µs for the bigger session): ${verdict}.`,
    `- **Step-up options.** (b+), the same app and session behind \`requiresAuth({ acr, scopes })\`, does ${r(b2, b, rps)} the throughput of (b)'s plain \`requiresAuth()\` at ${r(b2, b, cpu)} its CPU per request (${int(b2.cpu.median - b.cpu.median)} µs per request): the guard reads the ID token's claims once per request, shared with the route's \`req.auth.user\`, and splits the granted scope; no signature work, no I/O.`,
    `- **(c)** does ${r(c, a, rps)} the throughput of (a) at ${r(c, a, cpu)} its CPU per request: it decrypts its ${c.app.cookieBytes}-byte cookie on every request and, with its default rolling session, encrypts and sends a new one (${setCookieSummary(c.app.probe)}).`,
    `- **Logins.** (b) spends ${two(b.cpuPerLogin.median)} ms of app CPU per login, (c) ${two(c.cpuPerLogin.median)} ms (${ratio(b.cpuPerLogin.median, c.cpuPerLogin.median)}). Logins/s is bounded by the provider and the scripted browser, which share this machine, so it does not tell the apps apart; CPU per login does.`,
  ];
}

export function machine(load: Results['loadAverage']): string {
  const cpus = os.cpus();
  const avg = (values: number[]) => values.map((v) => v.toFixed(2)).join(' / ');
  return [
    `- load average (1 / 5 / 15 min) before the run ${avg(load.before)}, after ${avg(load.after)}; the apps and the load generator take about one core each, so a figure well above 2 means something else was running`,
    `- CPU: ${cpus[0]?.model ?? 'unknown'}, ${cpus.length} cores; memory ${(os.totalmem() / 1024 ** 3).toFixed(1)} GB; ${os.type()} ${os.release()} ${os.arch()}`,
    `- Node ${process.version}; express-relying-party ${ownVersion()} at ${revision()}, run from source through tsx`,
    `- ${PACKAGES.map((name) => `${name} ${packageVersion(name)}`).join(', ')}`,
  ].join('\n');
}

export function method(s: Settings): string {
  return [
    'One script, one run, on one machine. The apps are:',
    '',
    '- **(a)** express + express-session (MemoryStore, `resave: false, saveUninitialized: false`) and a hand-written guard, `if (!req.session.user) return res.sendStatus(401); next()`: the floor of any express-session guard. Its session is set by a tiny `/bench-login` route (the account\'s claims: sub, name, email).',
    '- **(b)** `relyingParty()` + `requiresAuth()` on the same express-session setup.',
    "- **(b+)** the same app and signed-in session as (b), on a second route guarded by `requiresAuth({ acr: ['urn:bench:loa:2'], scopes: ['openid', 'profile'] })`, which the sign-in meets (its ID token carries that `acr`): what checking step-up options costs on top of the plain guard.",
    "- **(a′)** the guard of (a) whose `/bench-login` also copies (b)'s signed-in session data (tokens and claims, taken from (b)'s store after its real login) into the session: the same guard code with the same session size as (b), to tell what the session's size costs from what the library's code costs.",
    '- **(c)** Auth0\'s express-openid-connect: `auth({ authRequired: false, issuerBaseURL, baseURL, clientID, clientSecret, secret, authorizationParams: { response_type: \'code\', scope: \'openid profile email\' } })` + its `requiresAuth()`, with its default stateless (encrypted cookie) session.',
    '- **(b-FAPI)** (b) as a FAPI 2.0 style client: `pushedAuthorizationRequests: true`, `clientAuthMethod: \'private_key_jwt\'` and `dpop: true`, each with a P-256 key. Logins only, in the same rounds as (b) and (c).',
    '',
    'Every app answers `GET /protected` with `{"sub": …}` read from its own user object, and runs alone in a child process on its own `127.0.0.1:0` port; its CPU time is read with `process.cpuUsage()` over IPC, so the provider, the browser and the load generator are not counted. The parent process runs the tests\' `oidc-provider` fixture (`startTestProvider()`, behind its counting proxy), the tests\' `ProviderBrowser` and autocannon. (b) and (c) get their signed-in session from a real login against that provider.',
    '',
    `- **Protected route**: autocannon (programmatic), ${s.connections} connections, the session cookie on every request; ${s.warmupSeconds} s warm-up per app, then ${s.rounds} alternating rounds (a, a′, b, b+, c, a, a′, b, b+, c, …) of ${s.roundSeconds} s each. Throughput is 2xx answers per second of wall time; p50/p99 come from autocannon's per-request timings (its own histogram has 1 ms resolution). Tables give the median of the rounds and their min–max; ratios are the median of round-by-round ratios. "Other load" is the CPU the rest of the machine used during the app's rounds (machine busy time from \`os.cpus()\` less the app's and the benchmark process's own), in cores: with 2 cores, anything well above 0 took CPU from the app or from the load generator, and throughput and latency suffer from it more than CPU per request does. When some rounds were disturbed and at least three were quiet (under ${QUIET_CORES} cores of other load in every app's turn), the protected-route tables use the quiet rounds only. \`Set-Cookie\` is checked on a request before and after the load.`,
    `- **Full logins**: ${s.loginWarmup} uncounted logins per app to warm up, then ${s.loginRounds} alternating rounds (b, b-FAPI, c, …) of ${s.loginsPerRound} logins per app, ${s.loginConcurrency} at a time, each as a new browser: app \`/login\` → provider authorize → scripted login and consent → app \`/callback\` (code exchange, ID token validation, session). Logins/s includes the provider's work (it shares this machine); app CPU per login does not.`,
    '- **Provider requests**: counted at the provider\'s proxy by endpoint, for each app\'s first login and per later login.',
    `- **Memory**: a fresh instance of (b) with \`loginTimeout: ${s.loginTimeout}\` and an express-session \`cookie.maxAge\` of ${s.sessionMaxAge} ms (so that the store expires sessions a browser abandoned; without a maxAge MemoryStore keeps every session for ever). ${s.startedLogins} GET /login (started, never finished logins) from **one** session (all ${s.connections} connections send the same cookie); then ${s.startedLogins} from **new** sessions (no cookie), one more login in the first session after loginTimeout, and a wait past the maxAge; then a second cycle of ${s.startedLogins} from new sessions and a wait. The first cycle also warms the process up (JIT code, grown tables), so a leak is judged by what the second cycle leaves behind compared with the first. Each sample is taken after two forced GCs (\`--expose-gc\`); heap used is the figure that matters, RSS keeps pages V8 has already freed.`,
  ].join('\n');
}

export function notes(): string {
  return [
    '## Where the time goes (from a `--profile` run)',
    'Figures are shares of each app\'s busy CPU time in one `npm run bench -- --profile` run on the machine above (profiling slows everything down, so only the shares are meaningful).',
    '',
    '- Protected route: express-session\'s own code was 12.8 % of (a), 19.3 % of (a′) and 17.8 % of (b) — its `hash()` 2.3 % → 6.6 % / 5.9 %, MemoryStore `getSession` (JSON.parse) 2.1 % → 4.1 % / 3.6 %, `touch` 0.9 % → 1.9 % / 1.8 %. This library\'s code (`lib/`, self time) was 1.5 % of (b), `relyingPartyMiddleware` 1.1 % of that. The socket write (`writev`, kernel) was 26–28 % of every app.',
    '- The signed-in record in the session is now about 1.0 KB: the raw ID token ~0.7 KB (kept for `id_token_hint` at logout; `req.auth.user` decodes its claims when read, ~4 µs), access and refresh tokens ~0.1 KB, scope and expiry. When this profile was taken the claims were also stored again (~0.2 KB); that copy is gone.',
    '- What is left between (b) and (a) is mostly the session itself: express-session hashes, parses and re-serialises the whole record on every request (about 30 µs per KB here), and most of (b)\'s record is the ID token that RP-initiated logout sends back as `id_token_hint`. The library\'s own per-request code (building `req.auth`, the route lookup, the guard) is a few µs.',
    '- Logins: both apps spend most of a login in Node\'s HTTP server and in undici\'s `fetch` for the token request. (b) also verifies the ID token signature (`enableNonRepudiationChecks`; oauth4webapi `validateApplicationLevelSignature` ~4.7 % of its login CPU), which (c) skips (openid-client v6 does not check the signature of an ID token received straight from the token endpoint unless asked), and pays express-session\'s save/regenerate (~7 %); (c) pays for encrypting its cookie (jose ~4.4 %). Its response re-wrapping in `providerFetch` (the size cap) added ~3–4 % on top of undici when this profile was taken; answers of known length are now read in one go. A 0.7× target would need about a third less CPU than a client that is already on openid-client v6 and skips the signature check; nothing in `lib/` is that large.',
    '',
    '## Notes',
    '- express-openid-connect 3.4 needs no special setting for a loopback `http:` issuer: it turns on openid-client\'s `allowInsecureRequests` for any `http:` issuerBaseURL, and with an `http:` baseURL its cookies are not `Secure`. Its client is registered with `client_secret_basic`, its default for the code flow.',
    '- `npm run bench -- --profile` also writes V8 CPU profiles of each app (sampled every 200 µs), one over the protected-route rounds and one over the login rounds, to `bench/profiles/`, and leaves this file alone (profiling slows the apps); `npx tsx bench/profile-summary.ts bench/profiles/b-ours-protected.cpuprofile` lists where the time goes. `--quick` is a short smoke run that also leaves this file alone.',
  ].join('\n');
}
