#!/usr/bin/env node
/**
 * `express-relying-party-sandbox`: starts Sandbox Bank from a terminal and
 * prints the issuer, client id and secret for the app. `--help` lists the
 * options. Ctrl-C stops it.
 */
import { UsageError, USAGE, banner, knownUsers, parseCommandLine } from './command.js';
import { startSandbox } from './start.js';
import type { Sandbox } from './start.js';

function describeFailure(err: unknown, port: number | undefined): string {
  if (typeof err === 'object' && err !== null && 'code' in err && err.code === 'EADDRINUSE') {
    return `port ${String(port)} is already in use: stop the other program or choose another port with --port.`;
  }
  return err instanceof Error ? err.message : String(err);
}

async function main(args: readonly string[]): Promise<void> {
  let command;
  try {
    command = parseCommandLine(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`express-relying-party-sandbox: ${err.message}\nRun it with --help for the options.`);
    process.exitCode = 2;
    return;
  }
  if (command.help) {
    console.log(USAGE);
    return;
  }

  let sandbox: Sandbox;
  try {
    sandbox = await startSandbox(command.options);
  } catch (err) {
    console.error(`express-relying-party-sandbox: cannot start: ${describeFailure(err, command.options.port)}`);
    process.exitCode = 1;
    return;
  }
  console.log(banner(sandbox, { clientSecretGiven: command.options.clientSecret !== undefined, knownUsers: knownUsers(command.options) }));

  const stop = () => {
    // a second Ctrl-C, or connections that do not close, must not keep it running
    setTimeout(() => process.exit(0), 3000).unref();
    sandbox.close().then(
      () => console.log('Stopped.'),
      (err: unknown) => {
        console.error('Error while stopping:', err);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

await main(process.argv.slice(2));
