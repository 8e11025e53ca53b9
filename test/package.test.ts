/**
 * The published package, as a user gets it: build, pack, install the tarball
 * into an empty ESM app next to express and express-session, import it and
 * type-check a use of it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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

describe('the packed package', () => {
  it('ships the build, the types and the README, and nothing of the sources or tests', () => {
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'README.md', 'package.json']));
    expect(files.filter((f) => /^(lib|test|example-app|bench)\//.test(f))).toEqual([]);
  });

  it('imports in plain Node ESM', async () => {
    const script = `import { relyingParty, requiresAuth, RelyingPartyError, ErrorCodes } from 'express-relying-party';
      const mw = relyingParty({ issuer: 'https://op.example.com', clientId: 'a', clientSecret: 'b', baseUrl: 'https://app.example.com' });
      console.log(JSON.stringify([typeof mw, typeof requiresAuth(), new RelyingPartyError('state_unknown', 'x').status, ErrorCodes.provider_timeout]));`;
    const { stdout } = await run('node', ['--input-type=module', '-e', script], { cwd: app });
    expect(JSON.parse(stdout)).toEqual(['function', 'function', 400, 'provider_timeout']);
  });

  it('type-checks a strict app using req.auth and the session types', async () => {
    await writeFile(
      path.join(app, 'app.ts'),
      `import express from 'express';
      import session from 'express-session';
      import { relyingParty, requiresAuth, RelyingPartyError } from 'express-relying-party';
      const app = express();
      app.use(session({ secret: 's', resave: false, saveUninitialized: false }));
      app.use(relyingParty({ issuer: 'https://op.example.com', clientId: 'a', clientSecret: 'b', baseUrl: 'https://app.example.com' }));
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
      export default app;\n`,
    );
    await writeFile(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: false, types: [] }, files: ['app.ts'] }),
    );
    await expect(run(path.join(app, 'node_modules/.bin/tsc'), ['-p', app], { cwd: app })).resolves.toBeDefined();
  });
});
