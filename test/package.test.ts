/**
 * The published package, as a user gets it: build, pack, install the tarball
 * into an empty ESM app next to express and express-session, import it and
 * type-check a use of it; then, without oidc-provider, the sandbox says what
 * to install; with it, the README's walk-through (the command, server.js, a
 * sign-in), its node:test example and its CommonJS example run against the
 * packed package.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = process.cwd();
let app: string;
let files: string[];

beforeAll(async () => {
  app = await mkdtemp(path.join(tmpdir(), 'erp-package-'));
  await run('npm', ['run', 'build'], { cwd: root });
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', app], { cwd: root });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  if (!packed) throw new Error('npm pack produced nothing');
  files = packed.files.map((f) => f.path);
  await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(app, packed.filename), 'express@5', 'express-session', '@types/express@5', '@types/express-session', 'typescript@~5.9.3'],
    { cwd: app },
  );
}, 180_000);

afterAll(() => rm(app, { recursive: true, force: true }));

/** Runs a script of the consumer app with node; resolves with what it printed. */
async function node(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string; stderr: string }> {
  return run('node', args, { cwd: app, env: { ...process.env, ...options.env }, timeout: 60_000 });
}

/** A loopback port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts a long-running process of the consumer app and resolves once its stdout matches `ready`. */
async function startProcess(command: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(command, args, { cwd: app, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')} did not get ready:\n${output}`)), 30_000);
    const check = () => {
      if (!ready.test(output)) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${String(code)}:\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  return { child, output: () => output };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

describe('the packed package', () => {
  it('ships the build, the types, the sandbox and its assets, the README and the LICENSE, and nothing of the sources or tests', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'dist/index.js',
        'dist/index.d.ts',
        'dist/sandbox/index.js',
        'dist/sandbox/index.d.ts',
        'dist/sandbox/cli.js',
        'dist/sandbox/public/sandbox.css',
        'dist/sandbox/public/favicon.svg',
        'dist/testing/index.js',
        'dist/testing/index.d.ts',
        'README.md',
        'LICENSE',
        'package.json',
      ]),
    );
    expect(files.filter((f) => /^(lib|test|example-app|examples|bench|scripts)\//.test(f))).toEqual([]);
  });

  it('declares oidc-provider as an optional peer dependency, not a dependency', async () => {
    const manifest = JSON.parse(await readFile(path.join(app, 'node_modules/express-relying-party/package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(manifest.dependencies).not.toHaveProperty('oidc-provider');
    expect(manifest.peerDependencies).toHaveProperty('oidc-provider');
    expect(manifest.peerDependenciesMeta).toEqual({ 'oidc-provider': { optional: true } });
    expect(manifest.bin).toEqual({ 'express-relying-party-sandbox': 'dist/sandbox/cli.js' });
  });

  describe('without oidc-provider installed', () => {
    it('imports in plain Node ESM, every entry point', async () => {
      const script = `import { relyingParty, requiresAuth, RelyingPartyError, ErrorCodes } from 'express-relying-party';
        import { startSandbox } from 'express-relying-party/sandbox';
        import { signIn } from 'express-relying-party/testing';
        const mw = relyingParty({ issuer: 'https://op.example.com', clientId: 'a', clientSecret: 'b', baseUrl: 'https://app.example.com' });
        console.log(JSON.stringify([typeof mw, typeof requiresAuth(), new RelyingPartyError('state_unknown', 'x').status, ErrorCodes.provider_timeout, typeof startSandbox, typeof signIn]));`;
      const { stdout } = await node(['--input-type=module', '-e', script]);
      expect(JSON.parse(stdout)).toEqual(['function', 'function', 400, 'provider_timeout', 'function', 'function']);
    });

    it('type-checks a strict app (exactOptionalPropertyTypes) using req.auth, the session types, the sandbox and the testing kit', async () => {
      await writeFile(
        path.join(app, 'app.ts'),
        `import express from 'express';
        import session from 'express-session';
        import { relyingParty, requiresAuth, RelyingPartyError } from 'express-relying-party';
        import { startSandbox } from 'express-relying-party/sandbox';
        import type { Sandbox, SandboxOptions } from 'express-relying-party/sandbox';
        import { signIn, SignInError } from 'express-relying-party/testing';
        const app = express();
        app.use(session({ secret: 's', resave: false, saveUninitialized: false }));
        app.use(relyingParty({ issuer: 'https://op.example.com', clientId: 'a', clientSecret: process.env.CLIENT_SECRET, baseUrl: 'https://app.example.com', scope: process.env.SCOPE }));
        app.get('/p', requiresAuth(), (req, res) => {
          const name: unknown = req.auth?.user?.name;
          const expired: boolean | undefined = req.auth?.accessToken?.isExpired();
          const pending = req.session.relyingParty?.logins;
          res.json({ name, expired, pending: pending !== undefined });
        });
        app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
          if (err instanceof RelyingPartyError) { res.status(err.status).send(err.code); return; }
          next(err);
        });
        export async function check(): Promise<string> {
          const options: SandboxOptions = { redirectUris: ['http://localhost:3000/callback'], port: undefined, users: [{ sub: 'alice', name: 'Alice' }] };
          const sandbox: Sandbox = await startSandbox(options);
          try {
            return await signIn(app, { sandbox, user: { sub: 'alice' }, acr: 'urn:openbanking:psd2:sca', scopes: undefined });
          } catch (err) {
            return err instanceof SignInError ? String(err.status) : 'no';
          } finally {
            await sandbox.close();
          }
        }
        export default app;\n`,
      );
      await writeFile(
        path.join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { strict: true, exactOptionalPropertyTypes: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: false, types: [] },
          files: ['app.ts'],
        }),
      );
      const errors = await run(path.join(app, 'node_modules/.bin/tsc'), ['-p', app], { cwd: app }).then(
        () => '',
        (err: { stdout?: string }) => String(err.stdout),
      );
      expect(errors).toBe('');
    });

    it('startSandbox() says which package to install', async () => {
      const script = `import { startSandbox } from 'express-relying-party/sandbox';
        await startSandbox({ redirectUris: ['http://localhost:3000/callback'] }).then(() => console.log('started'), (err) => console.log(err.message));`;
      const { stdout } = await node(['--input-type=module', '-e', script]);
      expect(stdout).toContain('The sandbox needs the oidc-provider package');
      expect(stdout).toContain('npm install --save-dev oidc-provider');
    });

    it('the express-relying-party-sandbox command says so too, and exits with 1', async () => {
      const failure = run(path.join(app, 'node_modules/.bin/express-relying-party-sandbox'), ['--redirect-uri', 'http://localhost:3000/callback', '--port', '0'], { cwd: app });
      await expect(failure).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('npm install --save-dev oidc-provider') });
    });
  });

  describe('with oidc-provider installed', () => {
    beforeAll(async () => {
      const { devDependencies } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
      await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--save-dev', `oidc-provider@${devDependencies['oidc-provider']}`, `supertest@${devDependencies.supertest}`], { cwd: app });
      for (const file of ['app.js', 'server.js', 'app.test.js']) await copyFile(path.join(root, 'examples/quickstart', file), path.join(app, file));
      await copyFile(path.join(root, 'examples/commonjs/app.cjs'), path.join(app, 'app.cjs'));
    }, 180_000);

    it('the command prints --help', async () => {
      const { stdout } = await run(path.join(app, 'node_modules/.bin/express-relying-party-sandbox'), ['--help'], { cwd: app });
      expect(stdout).toContain('Usage: express-relying-party-sandbox --redirect-uri <url> [options]');
    });

    it('walks the README: the command prints the settings, server.js serves the app, a user signs in and is greeted', async () => {
      const port = await freePort();
      let sandbox: ChildProcess | undefined;
      let server: ChildProcess | undefined;
      try {
        const started = await startProcess(
          path.join(app, 'node_modules/.bin/express-relying-party-sandbox'),
          ['--redirect-uri', `http://localhost:${port}/callback`, '--port', '0'],
          /^OIDC_CLIENT_SECRET=.+$/m,
        );
        sandbox = started.child;
        const settings = started.output().split('\n').filter((line) => /^OIDC_[A-Z_]+=/.test(line));
        expect(settings.map((line) => line.split('=')[0])).toEqual(['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET']);
        await writeFile(path.join(app, '.env'), [...settings, 'SESSION_SECRET=walk-through-secret', ''].join('\n'));

        server = (await startProcess('node', ['--env-file=.env', 'server.js'], /Open http:\/\/localhost:\d+/, { PORT: String(port) })).child;
        const issuer = settings[0]?.slice('OIDC_ISSUER='.length);
        const script = `import { signIn } from 'express-relying-party/testing';
          const base = 'http://localhost:${port}';
          const cookie = await signIn(base, { sandbox: { issuer: ${JSON.stringify(issuer)} }, user: 'Walk Through' });
          console.log(await (await fetch(base + '/', { headers: { cookie } })).text());`;
        const { stdout } = await node(['--input-type=module', '-e', script]);
        expect(stdout.trim()).toBe('Hello Walk Through! Your claims: /profile. Sign out: /logout');
      } finally {
        await stop(server);
        await stop(sandbox);
      }
    }, 60_000);

    it("the README's tests of the app pass with node --test", async () => {
      const { stdout } = await node(['--test']);
      expect(stdout).toMatch(/^# pass 4$/m);
      expect(stdout).toMatch(/^# fail 0$/m);
    }, 60_000);

    it("the README's CommonJS app works with require(): the package, the sandbox and the testing kit", async () => {
      const script = `const { createApp } = require('./app.cjs');
        const { startSandbox } = require('express-relying-party/sandbox');
        const { signIn } = require('express-relying-party/testing');
        const http = require('node:http');
        (async () => {
          const baseUrl = 'http://localhost:3000';
          const sandbox = await startSandbox({ redirectUris: [baseUrl + '/callback'] });
          const app = createApp({ issuer: sandbox.issuer, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, sessionSecret: 'cjs', baseUrl });
          const server = http.createServer(app).listen(0, '127.0.0.1');
          try {
            const cookie = await signIn(app, { sandbox, user: { sub: 'cjs-user' } });
            await new Promise((resolve) => server.listening ? resolve() : server.once('listening', resolve));
            const res = await fetch('http://127.0.0.1:' + server.address().port + '/profile', { headers: { cookie, accept: 'application/json' } });
            console.log(JSON.stringify(await res.json()));
          } finally {
            server.close();
            await sandbox.close();
          }
        })();`;
      await writeFile(path.join(app, 'check.cjs'), script);
      const { stdout } = await node(['check.cjs']);
      expect(JSON.parse(stdout)).toMatchObject({ sub: 'cjs-user', iss: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    }, 60_000);
  });
});
