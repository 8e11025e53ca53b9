import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { startTestProvider } from './fixtures/provider.js';
import type { TestProvider } from './fixtures/provider.js';
import { createTestApp, expectError, login, rpOptions } from './support/rp-app.js';
import type { Agent } from './support/rp-app.js';

let tp: TestProvider;

beforeAll(async () => {
  tp = await startTestProvider();
});
afterAll(() => tp.close());
beforeEach(() => tp.reset());

/** A resource server that answers with the bearer token it got, and rejects the tokens it is told to. */
class ResourceServer {
  readonly rejected = new Set<string>();
  readonly seen: string[] = [];
  readonly server = http.createServer((req, res) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    this.seen.push(token ?? '');
    if (!token || this.rejected.has(token)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token", error_description="expired"' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ accounts: [{ id: 'acc-1' }] }));
  });
  url = '';
  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/accounts`;
  }
  close() {
    return new Promise((resolve) => this.server.close(resolve));
  }
}

let rs: ResourceServer;
beforeEach(async () => {
  rs = new ResourceServer();
  await rs.start();
});
afterEach(() => rs.close());

type Me = { accessToken: { value: string }; user: Record<string, unknown> };
const me = async (agent: Agent) => (await agent.get('/me')).body as Me;

function apiApp(options: Parameters<typeof rpOptions>[1] = {}) {
  return createTestApp(rpOptions(tp, options), undefined, (app) => {
    app.get('/accounts', async (req, res, next) => {
      try {
        const response = await req.auth.fetch(rs.url, { headers: { accept: 'application/json' } });
        res.status(response.status).json(response.ok ? await response.json() : { upstream: response.status });
      } catch (err) {
        next(err);
      }
    });
    app.get('/userinfo-now', async (req, res, next) => {
      try {
        res.json(await req.auth.fetchUserInfo());
      } catch (err) {
        next(err);
      }
    });
  }).app;
}

describe('req.auth.fetch()', () => {
  it('calls the API with the access token as a Bearer token', async () => {
    const agent = request.agent(apiApp());
    await login(agent, tp);
    const response = await agent.get('/accounts');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ accounts: [{ id: 'acc-1' }] });
    expect(rs.seen).toEqual([(await me(agent)).accessToken.value]);
  });

  it('on 401 invalid_token refreshes once and retries with the new token', async () => {
    const agent = request.agent(apiApp());
    await login(agent, tp);
    const stale = (await me(agent)).accessToken.value;
    rs.rejected.add(stale);
    tp.proxy.clearRequests();
    const response = await agent.get('/accounts');
    expect(response.status).toBe(200);
    const fresh = (await me(agent)).accessToken.value;
    expect(fresh).not.toBe(stale);
    expect(rs.seen).toEqual([stale, fresh]);
    expect(tp.count('/token')).toBe(1);
  });

  it('gives up after one retry and hands the 401 back', async () => {
    const agent = request.agent(apiApp());
    await login(agent, tp);
    rs.rejected.add((await me(agent)).accessToken.value);
    // reject every token the RP will ever get
    const reject = rs.rejected.add.bind(rs.rejected);
    rs.server.prependListener('request', (req: http.IncomingMessage) => reject(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''));
    const response = await agent.get('/accounts');
    expect(response.body).toEqual({ upstream: 401 });
    expect(rs.seen).toHaveLength(2);
  });

  it('without a session is an unauthenticated error, and nothing is sent', async () => {
    expectError(await request(apiApp()).get('/accounts'), 'unauthenticated', 401);
    expect(rs.seen).toEqual([]);
  });
});

describe('userinfo', () => {
  it('fetchUserInfo: true fetches it at login and merges it into req.auth.user', async () => {
    const agent = request.agent(apiApp({ fetchUserInfo: true }));
    await login(agent, tp);
    expect(tp.count('/me')).toBe(1);
    expect((await me(agent)).user).toMatchObject({ sub: 'alice', email: 'alice@example.test', iss: tp.issuer });
  });

  it('is not fetched by default, and req.auth.fetchUserInfo() fetches it on demand', async () => {
    const agent = request.agent(apiApp());
    await login(agent, tp);
    expect(tp.count('/me')).toBe(0);
    const response = await agent.get('/userinfo-now');
    expect(response.body).toMatchObject({ sub: 'alice', name: 'Alice' });
    expect(tp.count('/me')).toBe(1);
  });

  it('a userinfo endpoint that fails at login fails the login cleanly', async () => {
    const agent = request.agent(apiApp({ fetchUserInfo: true }));
    tp.proxy.setFault('/me', { kind: 'status', status: 500 });
    expectError(await login(agent, tp), 'provider_error', 502);
    expect((await agent.get('/public')).body).toEqual({ isAuthenticated: false });
  });
});

describe('revocation at logout', () => {
  it('revokes the refresh token, then the access token, by default when the provider supports it', async () => {
    const agent = request.agent(apiApp());
    await login(agent, tp);
    const before = (await agent.get('/me')).body as { refreshToken: string };
    tp.proxy.clearRequests();
    await agent.get('/logout');
    expect(tp.count('/token/revocation', 'POST')).toBe(2);
    const refresh = await fetch(`${tp.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${tp.clientId}:${tp.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: before.refreshToken }),
    });
    expect(refresh.status).toBe(400);
  });

  it('revokeOnLogout: false leaves the tokens alone', async () => {
    const agent = request.agent(apiApp({ revokeOnLogout: false }));
    await login(agent, tp);
    tp.proxy.clearRequests();
    await agent.get('/logout');
    expect(tp.count('/token/revocation')).toBe(0);
  });

  it('a failing revocation endpoint does not block the logout', async () => {
    const agent = request.agent(apiApp({ httpTimeout: 300 }));
    await login(agent, tp);
    tp.proxy.setFault('/token/revocation', { kind: 'hang' });
    const response = await agent.get('/logout');
    expect(response.status).toBe(302);
    expect((await agent.get('/public')).body).toEqual({ isAuthenticated: false });
  });
});
