/** Turns the benchmark's results into the stdout tables and docs/benchmarks.md. */
import { analysis, disturbance, machine, method, notes } from './prose.js';
import { APP_ENDPOINTS, derive, madeBy, selectRounds, fixed, int, kb, mb, paired, pairedRatios, perLogin, ratio, setCookieSummary, table, times, two, withRange } from './results.js';
import type { Results } from './results.js';
import { spread } from './stats.js';

export function renderReport(results: Results): { console: string; markdown: string } {
  const { settings } = results;
  const selection = selectRounds(results.apps);
  const byKey = new Map(selection.apps.map((app) => [app.key, derive(app)]));
  const a = byKey.get('guard');
  const a2 = byKey.get('guardTokens');
  const b = byKey.get('ours');
  const b2 = byKey.get('oursStepUp');
  const c = byKey.get('eoc');
  if (!a || !a2 || !b || !b2 || !c) throw new Error("results for (a), (a′), (b), (b+) and (c) are needed");

  const sections: string[] = [];

  // protected route
  sections.push(
    '## Protected route (signed-in session)',
    table(
      ['app', 'req/s median (min–max)', 'p99 ms median (min–max)', 'p50 ms', 'app CPU µs/req', 'Cookie in', 'Set-Cookie out', 'failures', 'other load, cores'],
      [a, a2, b, b2, c].map((d) => [
        d.app.label,
        withRange(d.rps, int),
        withRange(d.p99, two),
        two(d.p50.median),
        withRange(d.cpu, int),
        kb(d.app.cookieBytes),
        setCookieSummary(d.app.probe) + (d.app.probeAfter.setCookies.length !== d.app.probe.setCookies.length ? ' (changed after load)' : ''),
        String(d.app.rounds.reduce((sum, r) => sum + r.failures, 0)),
        withRange(spread(d.app.rounds.map((r) => r.otherCores)), two),
      ]),
    ),
    'Ratios are the median (min–max) of the round-by-round ratios: round i of each app ran back to back, under the same conditions.',
    table(
      ['ratio', 'throughput', 'p99', 'CPU per request'],
      [
        ['(b) / (a)', ...pairedRatios(b, a)],
        ['(b+) / (b) — requiresAuth({ acr, scopes }) against the plain guard, same app and session', ...pairedRatios(b2, b)],
        ["(b) / (a′) — same session data", ...pairedRatios(b, a2)],
        ["(a′) / (a) — session size alone", ...pairedRatios(a2, a)],
        ['(b) / (c)', ...pairedRatios(b, c)],
        ['(c) / (a)', ...pairedRatios(c, a)],
      ],
    ),
  );

  // logins
  const loginRows = [b, c].map((d) => {
    const appRequests = [...perLogin(d.app)].filter(([endpoint]) => APP_ENDPOINTS.includes(endpoint));
    return [
      d.app.label,
      withRange(d.loginsPerSecond, fixed(1)),
      withRange(d.cpuPerLogin, two),
      appRequests.map(([endpoint, n]) => `${endpoint} ${n.toFixed(2)}`).join('; ') || 'none',
    ];
  });
  sections.push(
    '## Full logins (/login → provider → /callback)',
    table(['app', 'logins/s median (min–max)', 'app CPU ms/login median (min–max)', 'requests the app makes to the provider, per login'], loginRows),
    table(
      ['ratio', 'logins/s', 'app CPU per login'],
      [['(b) / (c)', ratio(b.loginsPerSecond.median, c.loginsPerSecond.median), ratio(b.cpuPerLogin.median, c.cpuPerLogin.median)]],
    ),
  );

  // provider requests, by endpoint
  const endpoints = new Set<string>();
  for (const d of [b, c]) {
    for (const endpoint of perLogin(d.app).keys()) endpoints.add(endpoint);
    for (const endpoint of d.app.firstLogin?.keys() ?? []) endpoints.add(endpoint);
  }
  sections.push(
    '### Provider requests per login, as counted at the provider',
    table(
      ['endpoint', 'made by', '(b) first login', '(b) per later login', '(c) first login', '(c) per later login'],
      [...endpoints].sort().map((endpoint) => [
        `\`${endpoint}\``,
        madeBy(endpoint),
        String(b.app.firstLogin?.get(endpoint) ?? 0),
        two(perLogin(b.app).get(endpoint) ?? 0),
        String(c.app.firstLogin?.get(endpoint) ?? 0),
        two(perLogin(c.app).get(endpoint) ?? 0),
      ]),
    ),
  );

  // logins with PAR, private_key_jwt and DPoP, against (b) plain in the same rounds
  const f = derive(results.fapi);
  const fapiEndpoints = new Set([...perLogin(b.app).keys(), ...perLogin(f.app).keys(), ...(f.app.firstLogin?.keys() ?? [])]);
  const pairedLogins = (pick: (round: { perSecond: number; cpuPerLogin: number }) => number) =>
    spread(f.app.logins.flatMap((round, i) => {
      const plain = b.app.logins[i];
      return plain === undefined ? [] : [pick(round) / pick(plain)];
    }));
  sections.push(
    '## Logins with PAR, private_key_jwt and DPoP',
    '(b-FAPI) is (b) with `pushedAuthorizationRequests: true`, `clientAuthMethod: \'private_key_jwt\'` (ES256 key) and `dpop: true` (ES256 key), as a FAPI 2.0 client signs in; its client is registered with `require_pushed_authorization_requests` and `dpop_bound_access_tokens`. Same provider, same rounds as (b) (b, b-FAPI, c, b, b-FAPI, c, …). ID tokens are RS256 for both: the provider signs every client\'s the same way.',
    table(
      ['app', 'logins/s median (min–max)', 'app CPU ms/login median (min–max)', 'requests the app makes to the provider, per login'],
      [b, f].map((d) => [
        d.app.label,
        withRange(d.loginsPerSecond, fixed(1)),
        withRange(d.cpuPerLogin, two),
        [...perLogin(d.app)].filter(([endpoint]) => APP_ENDPOINTS.includes(endpoint)).map(([endpoint, n]) => `${endpoint} ${n.toFixed(2)}`).join('; ') || 'none',
      ]),
    ),
    'Per login, (b-FAPI) makes one more request to the provider (the pushed request), signs two client assertions and two DPoP proofs (ES256) that (b) does not, and the provider checks them all (its work is in logins/s, not in app CPU).',
    table(
      ['ratio (round by round, median (min–max))', 'logins/s', 'app CPU per login'],
      [['(b-FAPI) / (b)', withRange(pairedLogins((r) => r.perSecond), times), withRange(pairedLogins((r) => r.cpuPerLogin), times)]],
    ),
    table(
      ['endpoint', 'made by', '(b) per login', '(b-FAPI) first login', '(b-FAPI) per later login'],
      [...fapiEndpoints].sort().map((endpoint) => [
        `\`${endpoint}\``,
        madeBy(endpoint),
        two(perLogin(b.app).get(endpoint) ?? 0),
        String(f.app.firstLogin?.get(endpoint) ?? 0),
        two(perLogin(f.app).get(endpoint) ?? 0),
      ]),
    ),
  );

  // sessions and cookies
  const eocSetCookie = c.app.probe.setCookies.reduce((sum, cookie) => sum + Buffer.byteLength(cookie), 0);
  sections.push(
    '## Session size per signed-in user',
    table(
      ['app', 'server-side session entry (MemoryStore JSON)', 'Cookie header in', 'Set-Cookie out on the protected route'],
      [
        [a.app.label, a.app.sessions?.signedInBytes === undefined ? 'n/a' : kb(a.app.sessions.signedInBytes), kb(a.app.cookieBytes), setCookieSummary(a.app.probe)],
        [a2.app.label, a2.app.sessions?.signedInBytes === undefined ? 'n/a' : kb(a2.app.sessions.signedInBytes), kb(a2.app.cookieBytes), setCookieSummary(a2.app.probe)],
        [b.app.label, b.app.sessions?.signedInBytes === undefined ? 'n/a' : kb(b.app.sessions.signedInBytes), kb(b.app.cookieBytes), setCookieSummary(b.app.probe)],
        [c.app.label, 'none (stateless: the session is the encrypted cookie)', kb(c.app.cookieBytes), eocSetCookie === 0 ? 'none' : setCookieSummary(c.app.probe)],
      ],
    ),
  );

  // memory
  const memory = results.memory;
  const baseline = memory.samples[0];
  sections.push(
    `## Memory of (b) around ${memory.startedLogins} started logins`,
    table(
      ['moment', 'RSS', 'heap used', 'heap vs baseline', 'sessions in store', 'store bytes', 'most pending logins in one session'],
      memory.samples.map((s) => [
        s.label,
        mb(s.rss),
        mb(s.heapUsed),
        baseline ? `${s.heapUsed >= baseline.heapUsed ? '+' : ''}${mb(s.heapUsed - baseline.heapUsed)}` : '',
        String(s.sessions?.count ?? 'n/a'),
        s.sessions ? kb(s.sessions.totalBytes) : 'n/a',
        String(s.sessions?.maxPendingLogins ?? 'n/a'),
      ]),
    ),
    `GET /login answers: one session ${JSON.stringify(memory.oneSessionStatuses)}, new sessions ${JSON.stringify(memory.newSessionStatuses)}, transport failures ${memory.failures}.`,
  );

  // targets
  const afterNew = memory.samples[2];
  const expiredOnce = memory.samples[4];
  const expiredTwice = memory.samples[6];
  const pendingPerSession = afterNew?.sessions && afterNew.sessions.count > 0 ? afterNew.sessions.totalBytes / afterNew.sessions.count : Number.NaN;
  const growth = expiredOnce && expiredTwice ? expiredTwice.heapUsed - expiredOnce.heapUsed : Number.NaN;
  const noSetCookie = b.app.probe.setCookies.length === 0 && b.app.probeAfter.setCookies.length === 0;
  // a leak of even 100 bytes per abandoned login would show as 1 MB per 10,000; below 1 MB is GC noise
  const leakFree = growth < Math.max(1024 * 1024, memory.startedLogins * 100);
  const oneSessionBounded = (memory.samples[1]?.sessions?.maxPendingLogins ?? Infinity) <= 5;
  const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
  const rpsRatio = paired(b.app, a.app, (r) => r.rps).median;
  const p99Ratio = paired(b.app, a.app, (r) => r.p99).median;
  const cpuRatio = paired(b.app, a.app, (r) => r.cpuPerRequest).median;
  const loginCpuRatio = b.cpuPerLogin.median / c.cpuPerLogin.median;
  const stepUpRpsRatio = paired(b2.app, b.app, (r) => r.rps).median;
  const stepUpCpuRatio = paired(b2.app, b.app, (r) => r.cpuPerRequest).median;
  const discoveryOnce = [b, c].every((d) => (perLogin(d.app).get('GET /.well-known/openid-configuration') ?? 0) === 0 && (perLogin(d.app).get('GET /jwks') ?? 0) === 0);
  const targets = table(
    ['target', 'measured', 'verdict'],
    [
      ['(b) throughput ≥ 0.95× (a)', `${times(rpsRatio)} (CPU per request ${times(cpuRatio)})`, verdict(rpsRatio >= 0.95)],
      ['(b) p99 ≤ 1.1× (a)', times(p99Ratio), verdict(p99Ratio <= 1.1)],
      ['(b+) `requiresAuth({ acr, scopes })` throughput ≥ 0.95× (b), the plain guard', `${times(stepUpRpsRatio)} (CPU per request ${times(stepUpCpuRatio)})`, verdict(stepUpRpsRatio >= 0.95)],
      [
        "for reference, not a target: (b) against (a′), the guard with (b)'s session data",
        `throughput ${times(paired(b.app, a2.app, (r) => r.rps).median)}, p99 ${times(paired(b.app, a2.app, (r) => r.p99).median)}, CPU per request ${times(paired(b.app, a2.app, (r) => r.cpuPerRequest).median)}`,
        '—',
      ],
      ['(b) app CPU per login ≤ 0.7× (c)', `${loginCpuRatio.toFixed(2)}×`, verdict(loginCpuRatio <= 0.7)],
      ['(b) no Set-Cookie on a protected request that changes nothing', noSetCookie ? 'none sent' : b.app.probe.setCookies.join(' / '), verdict(noSetCookie)],
      ['discovery and JWKS fetched once per process, not per login', discoveryOnce ? '0 per later login' : 'fetched again', verdict(discoveryOnce)],
      [
        'pending logins bounded and not leaked',
        `≤ ${memory.samples[1]?.sessions?.maxPendingLogins ?? '?'} pending in one session after ${memory.startedLogins} logins; heap after the 2nd cycle of ${memory.startedLogins} abandoned logins expired ${growth >= 0 ? '+' : ''}${mb(growth)} vs after the 1st (${int(growth / memory.startedLogins)} B per login)`,
        verdict(leakFree && oneSessionBounded),
      ],
    ],
  );
  sections.unshift('## Targets', targets);
  sections.push(`An abandoned login costs about ${int(pendingPerSession)} bytes of store per new session until the store expires that session.`);
  sections.push(...analysis(a, a2, b, b2, c));

  const consoleText = [...sections, ...disturbance(selection), `(${results.durationSeconds.toFixed(0)} s)`].join('\n\n');
  const markdown = [
    '# Benchmarks',
    `Generated by \`npm run bench\` (\`bench/run.ts\`) on ${new Date().toISOString().slice(0, 10)}; the run took ${results.durationSeconds.toFixed(0)} s. Do not edit by hand: run it again.`,
    '## Machine and versions',
    machine(results.loadAverage),
    ...disturbance(selection),
    '## Method',
    method(settings),
    ...sections,
    notes(),
  ].join('\n\n');
  return { console: consoleText, markdown: `${markdown}\n` };
}

