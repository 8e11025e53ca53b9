/**
 * A slow provider under load: 50 logins reach their callback at once while
 * the token endpoint hangs past `httpTimeout`. Every one must end in 504
 * `provider_timeout` within the timeout plus a margin, the event loop must
 * stay responsive meanwhile (public routes keep answering), nobody may end
 * up signed in, and memory must come back to its baseline.
 *
 * The machines running this are shared and noisy: the bounds are generous,
 * but still far below what a real regression produces (a request waiting for
 * the provider's 30 s instead of `httpTimeout`, a blocked event loop, memory
 * growing with every batch).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import session from 'express-session';
import request from 'supertest';
import { ProviderBrowser } from './fixtures/browser.js';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, pathOf, redirectOf, rpOptions, serve, startLogin, storedSessions } from './support/rp-app.js';
import { watchUnhandledRejections } from './support/unhandled-rejections.js';
import type { RejectionWatch } from './support/unhandled-rejections.js';
import type { Agent, ServedApp } from './support/rp-app.js';

const LOGINS = 50;
/** Batches after the warm-up in the memory test: 250 timed-out logins, so a leak of ~12 KB each shows as 3 MB. */
const BATCHES = 5;
const httpTimeout = 500;
/** On top of httpTimeout for the whole batch: 50 error responses, a loaded CI machine. */
const MARGIN_MS = 1500;
/** A request slower than this is a hang: fail it clearly instead of at jest's timeout. */
const REQUEST_DEADLINE_MS = 10_000;

let rejections: RejectionWatch;

let tp: TestProvider;
/** one browser at the provider: after its first login the provider sends it straight back to the callback */
let browser: ProviderBrowser;
/** the app on a real port, as in production: one server for the whole batch, not one per supertest call */
let served: ServedApp;
let origin: string;
const store = new session.MemoryStore();

beforeAll(async () => {
  rejections = watchUnhandledRejections();
  tp = await startTestProvider();
  served = await serve(createTestApp(rpOptions(tp, { httpTimeout }), store).app);
  origin = served.origin;
  browser = new ProviderBrowser(tp.issuer);
  // discovery, JWKS and the provider session, once: the batches measure the callbacks only
  const agent = request.agent(origin);
  expect((await agent.get(pathOf(await browser.authorize(await startLogin(agent))))).status).toBe(302);
});
afterAll(async () => {
  rejections.stop();
  await tp.close();
  await served.close();
});
beforeEach(async () => {
  tp.reset();
  // the warm-up login and earlier tests' sessions out of the way
  await new Promise<void>((resolve) => store.clear(() => resolve()));
});
afterEach(() => expect(rejections.reasons).toEqual([]));

interface PendingLogin {
  agent: Agent;
  callback: URL;
}

interface Outcome {
  status: number;
  code: string | undefined;
  /** `performance.now()` when this callback's answer arrived */
  settledAt: number;
}

/** `count` browsers that each started a login and came back from the provider with a code, callbacks not yet sent. */
async function pendingLogins(count: number): Promise<PendingLogin[]> {
  const logins: PendingLogin[] = [];
  // ten at a time: the provider part is setup, not what is measured
  for (let i = 0; i < count; i += 10) {
    logins.push(...(await Promise.all(Array.from({ length: Math.min(10, count - i) }, async () => {
      const agent = request.agent(origin);
      return { agent, callback: await browser.authorize(await startLogin(agent)) };
    }))));
  }
  return logins;
}

/** Sends all callbacks at once and records when each answer arrives; `onAnswer` is told of each. */
async function fireCallbacks(logins: PendingLogin[], onAnswer?: () => void): Promise<{ outcomes: Outcome[]; started: number; elapsed: number }> {
  const started = performance.now();
  const outcomes = await Promise.all(logins.map(async ({ agent, callback }): Promise<Outcome> => {
    const response = await agent.get(pathOf(callback)).timeout({ deadline: REQUEST_DEADLINE_MS });
    onAnswer?.();
    return { status: response.status, code: (response.body as { code?: string }).code, settledAt: performance.now() };
  }));
  return { outcomes, started, elapsed: performance.now() - started };
}

const firstSettled = (outcomes: Outcome[]) => Math.min(...outcomes.map((o) => o.settledAt));

/** A batch against a token endpoint that never answers. */
async function hungBatch(): Promise<{ logins: PendingLogin[]; outcomes: Outcome[]; started: number; elapsed: number }> {
  const logins = await pendingLogins(LOGINS);
  tp.proxy.setFault('/token', { kind: 'hang' });
  try {
    return { logins, ...(await fireCallbacks(logins)) };
  } finally {
    tp.proxy.clearFaults();
  }
}

async function signedInSessions(): Promise<number> {
  return (await storedSessions(store)).filter((s) => s.relyingParty?.auth !== undefined).length;
}

async function isSignedIn(agent: Agent): Promise<boolean> {
  return ((await agent.get('/public')).body as { isAuthenticated: boolean }).isAuthenticated;
}

const summary = (outcomes: Outcome[]) => outcomes.map((o) => `${o.status} ${o.code ?? ''}`);

describe(`${LOGINS} concurrent callbacks while the token endpoint hangs past httpTimeout (${httpTimeout} ms)`, () => {
  it('all end in 504 provider_timeout, within httpTimeout plus a margin, after one token request each; nobody signed in', async () => {
    const { logins, outcomes, started, elapsed } = await hungBatch();
    expect(summary(outcomes)).toEqual(Array(LOGINS).fill('504 provider_timeout'));
    expect(elapsed).toBeLessThan(httpTimeout + MARGIN_MS);
    // each one really waited for the provider (the hang was reached, not skipped)
    expect(firstSettled(outcomes) - started).toBeGreaterThanOrEqual(httpTimeout * 0.9);
    // no retries piling up on a provider that is already slow
    expect(tp.count('/token')).toBe(LOGINS);

    expect(await signedInSessions()).toBe(0);
    const signedIn = await Promise.all(logins.map(({ agent }) => isSignedIn(agent)));
    expect(signedIn.filter(Boolean)).toHaveLength(0);
  });

  it('all wait at the provider at once; meanwhile public routes keep answering and the event loop stays responsive', async () => {
    const logins = await pendingLogins(LOGINS);
    tp.proxy.setFault('/token', { kind: 'hang' });
    let answered = false;
    const batch = fireCallbacks(logins, () => {
      answered = true;
    });
    const started = performance.now();

    // every callback is at the provider at the same time: none is queued behind another
    while (tp.count('/token') < LOGINS && performance.now() - started < httpTimeout) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(tp.count('/token')).toBe(LOGINS);

    // how late timers fire while they all wait, until shortly before the first timeout can fire
    // (a timer due earlier than the timeouts' own, so it runs before them even on a loaded machine)
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const sampling = new Promise((resolve) => setTimeout(resolve, Math.max(0, httpTimeout * 0.8 - (performance.now() - started))))
      .then(() => loopDelay.disable());

    // public requests one after the other, for as long as the callbacks are pending (20 at most)
    const publicAnswers: { ms: number; at: number }[] = [];
    while (publicAnswers.length < 20 && !answered) {
      const before = performance.now();
      const response = await request(origin).get('/public').timeout({ deadline: REQUEST_DEADLINE_MS });
      expect(response.body).toEqual({ isAuthenticated: false });
      publicAnswers.push({ ms: performance.now() - before, at: performance.now() });
    }
    await sampling;
    const { outcomes } = await batch;
    tp.proxy.clearFaults();

    expect(summary(outcomes)).toEqual(Array(LOGINS).fill('504 provider_timeout'));
    // typically all 20 are answered, in 1-5 ms each, long before the first callback times out
    const whilePending = publicAnswers.filter((a) => a.at < firstSettled(outcomes)).map((a) => Math.round(a.ms));
    expect(whilePending.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...whilePending)).toBeLessThan(200);
    // typically 10-20 ms: a blocked loop shows in hundreds
    expect(loopDelay.percentile(99) / 1e6).toBeLessThan(150);
  });

  it('afterwards, with the provider answering again, a login completes at once', async () => {
    await hungBatch();
    const agent = request.agent(origin);
    const started = performance.now();
    const response = await agent.get(pathOf(await browser.authorize(await startLogin(agent))));
    expect(redirectOf(response).pathname).toBe('/');
    expect(performance.now() - started).toBeLessThan(httpTimeout + MARGIN_MS);
    expect(await isSignedIn(agent)).toBe(true);
  });

  it(`memory returns to its baseline after ${BATCHES} more batches`, async () => {
    const gc = exposeGc();
    const settle = async () => {
      // let closed sockets and aborted fetches finish their teardown before measuring
      await new Promise((resolve) => setTimeout(resolve, 100));
      gc?.();
      return process.memoryUsage().heapUsed;
    };
    await hungBatch(); // warm-up: JIT, connection pools, lazily built caches
    const baseline = await settle();
    for (let batch = 0; batch < BATCHES; batch++) {
      expect(summary((await hungBatch()).outcomes)).toEqual(Array(LOGINS).fill('504 provider_timeout'));
    }
    const growthMb = ((await settle()) - baseline) / 1024 / 1024;
    // With a real gc, 250 timed-out logins leave a few hundred KB (the provider's
    // unredeemed codes, the emptied sessions); measured: -0.1 to 0.4 MB. Without
    // a gc, garbage is still on the heap: only a gross leak shows.
    expect(growthMb).toBeLessThan(gc ? 3 : 40);
  });
});

/**
 * `gc()` without `--expose-gc` on the command line (jest is not started
 * with it): the flag set at run time applies to contexts created afterwards.
 * `undefined` if this Node does not allow it.
 */
function exposeGc(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}
