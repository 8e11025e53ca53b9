/**
 * Refresh is single on a loaded machine: ten requests that find the access
 * token due at the same moment make exactly one refresh-token grant, and
 * all ten succeed, while another process keeps a CPU core busy, round after
 * round (each round's new tokens are due again 1.5 s later). Sessions in
 * Redis, so every request loads and saves its own copy.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { redisSpace } from './support/redis.js';
import type { RedisSpace } from './support/redis.js';
import { createTestApp, login, rpOptions } from './support/rp-app.js';

const ROUNDS = 20;
const CONCURRENT = 10;

let tp: TestProvider;
let redis: RedisSpace;
let busy: ChildProcess;

beforeAll(async () => {
  tp = await startTestProvider();
  redis = await redisSpace();
  // a CPU hog that ends by itself, even if the test is killed
  busy = spawn(process.execPath, ['-e', 'const end = Date.now() + 120000; while (Date.now() < end) {}'], { stdio: 'ignore' });
});
afterAll(async () => {
  busy.kill();
  await redis.close();
  await tp.close();
});

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('refresh on a loaded machine', () => {
  it(`${CONCURRENT} concurrent requests after expiry, ${ROUNDS} rounds: exactly one grant and ${CONCURRENT} × 200 every round`, async () => {
    const agent = request.agent(createTestApp(rpOptions(tp), redis.store()).app);
    // every token lives 3 s, so it is due for a refresh 1.5 s after it was issued: a request the busy
    // machine holds up for a second still finds the round's new token fresh
    tp.ttl.accessToken = 3;
    await login(agent, tp);
    // the provider takes a while to answer: the round's later requests load the session after the save
    tp.proxy.setFault('/token', { kind: 'holdResponse', ms: 80 });
    const rounds: { grants: number; statuses: number[] }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await wait(1600);
      tp.proxy.clearRequests();
      // staggered, so that some load the session before the refreshed tokens are saved and some after
      const answers = await Promise.all(
        Array.from({ length: CONCURRENT }, async (_, i) => {
          await wait(i * 20);
          return agent.get('/profile').set('Accept', 'application/json');
        }),
      );
      rounds.push({ grants: tp.count('/token', 'POST'), statuses: answers.map((answer) => answer.status) });
    }
    expect(rounds).toEqual(Array(ROUNDS).fill({ grants: 1, statuses: Array(CONCURRENT).fill(200) }));
  }, 120_000);
});
