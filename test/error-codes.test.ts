/** Every error code is documented, with its status, in README.md and in the TSDoc table of lib/errors.ts. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ErrorCodes, RelyingPartyError } from 'express-relying-party';
import type { ErrorCode } from 'express-relying-party';

const readme = readFileSync('README.md', 'utf8');
const source = readFileSync('lib/errors.ts', 'utf8');
const codes = Object.keys(ErrorCodes) as ErrorCode[];

describe('error codes', () => {
  it.each(codes)('documents %s in README.md and lib/errors.ts with its status', (code) => {
    const status = new RelyingPartyError(code, 'x').status;
    const readmeRow = new RegExp(`^\\| \`${code}\` \\| (?:${status}|— \\(thrown\\)|thrown, or ${status})`, 'm');
    expect(readme).toMatch(readmeRow);
    expect(source).toMatch(new RegExp(`^ \\* \\| \`${code}\` \\| ${status} \\|`, 'm'));
  });
});
