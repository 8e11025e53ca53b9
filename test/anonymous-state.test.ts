/**
 * Anonymous state is bounded: what a visitor who never signs in makes the
 * app store (a pending login) lives no longer than `loginTimeout`, and a
 * HEAD request stores nothing. Measured against connect-redis with a flood
 * of cookie-less requests; the figures go to
 * `test-artifacts/anonymous-flood.json`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { redisSpace } from './support/redis.js';
import type { RedisSpace } from './support/redis.js';
import { createTestApp, rpOptions, serve, sessionCookie } from './support/rp-app.js';
import type { ServedApp } from './support/rp-app.js';
import request from 'supertest';

/** Cookie-less requests in the flood: half `/login`, half a protected page loaded by a browser. */
const FLOOD = Number(process.env.ANONYMOUS_FLOOD_REQUESTS ?? 20_000);
const CONCURRENCY = 32;
const LOGIN_TIMEOUT_MS = 2000;

let tp: TestProvider;
let redis: RedisSpace;
let served: ServedApp;

beforeAll(async () => {
  tp = await startTestProvider();
  redis = await redisSpace();
  served = await serve(createTestApp(rpOptions(tp, { loginTimeout: LOGIN_TIMEOUT_MS }), redis.store()).app);
});
afterAll(async () => {
  await served.close();
  await redis.close();
  await tp.close();
});

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function keysOfSpace(): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.client.scanIterator({ MATCH: `${redis.prefix}*`, COUNT: 1000 })) keys.push(...batch);
  return keys;
}

async function usedMemory(): Promise<number> {
  const info = await redis.client.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

/** `count` cookie-less GETs, `CONCURRENCY` at a time, over keep-alive connections; returns the statuses seen. */
async function flood(count: number): Promise<Map<number, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const statuses = new Map<number, number>();
  let next = 0;
  const one = (path: string, accept: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.get(`${served.origin}${path}`, { agent, headers: { accept } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const status = await (i % 2 === 0 ? one(`/login?returnTo=/page/${i}`, '*/*') : one(`/profile?item=${i}`, 'text/html'));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  agent.destroy();
  return statuses;
}

describe('state created before sign-in', () => {
  it('HEAD /login and a HEAD of a protected page store nothing', async () => {
    const before = (await keysOfSpace()).length;
    const head = await request(served.origin).head('/login');
    expect(head.status).toBe(204);
    expect(sessionCookie(head)).toBeUndefined();
    const page = await request(served.origin).head('/profile').set('Accept', 'text/html');
    expect(page.status).toBe(401);
    expect(sessionCookie(page)).toBeUndefined();
    expect((await keysOfSpace()).length).toBe(before);
  });

  it(`lives no longer than loginTimeout: ${FLOOD} cookie-less /login and protected-page loads leave nothing ${LOGIN_TIMEOUT_MS + 1000} ms later`, async () => {
    const baseline = await usedMemory();
    const started = Date.now();
    const statuses = await flood(FLOOD);
    const floodMs = Date.now() - started;
    expect(Object.fromEntries(statuses)).toEqual({ 302: FLOOD });

    // every key the flood made expires within loginTimeout (sampled keys checked one by one)
    const keys = await keysOfSpace();
    const peak = await usedMemory();
    expect(keys.length).toBeGreaterThan(0);
    const ttls = await Promise.all(keys.slice(0, 2000).map((key) => redis.client.pTTL(key)));
    // -2: already expired and gone; -1 would be a key without a TTL
    expect(ttls.filter((ttl) => ttl === -1 || ttl > LOGIN_TIMEOUT_MS)).toEqual([]);

    await wait(LOGIN_TIMEOUT_MS + 1000);
    const left = await keysOfSpace();
    const after = await usedMemory();
    expect(left).toEqual([]);

    mkdirSync('test-artifacts', { recursive: true });
    writeFileSync(
      'test-artifacts/anonymous-flood.json',
      `${JSON.stringify(
        {
          requests: FLOOD,
          floodMs,
          loginTimeoutMs: LOGIN_TIMEOUT_MS,
          keysAtPeak: keys.length,
          maxTtlMs: Math.max(...ttls),
          sampledKeys: ttls.length,
          usedMemoryBytes: { before: baseline, peak, after },
          keysLeftAfterTimeoutPlus1s: left.length,
        },
        null,
        2,
      )}\n`,
    );
  }, 120_000);
});
