/**
 * The README's code compiles. Every ```ts and ```js block is type-checked
 * the way a user's project would check it: `strict`,
 * `exactOptionalPropertyTypes`, `module: NodeNext` (JavaScript with
 * `checkJs`), against this package's types. A block preceded by
 * `<!-- file: path -->` must be that file of the repository word for word
 * (the examples that package.test.ts runs); the others are checked as
 * modules of their own in example-app/, where the app's files are, with
 * one name assumed: `app`, the Express app the snippet adds to.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import ts from 'typescript';

const root = process.cwd();
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

interface Block {
  readonly lang: string;
  readonly code: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The repository file the block shows, when marked with `<!-- file: … -->`. */
  readonly file: string | undefined;
}

function extractBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i] ?? '');
    const marker = /^<!-- file: (\S+) -->$/.exec(lines[start - 1] ?? '') ?? /^<!-- file: (\S+) -->$/.exec(lines[start - 2] ?? '');
    blocks.push({ lang: open[1] ?? '', code: `${body.join('\n')}\n`, line: start + 1, file: marker?.[1] });
  }
  return blocks;
}

const blocks = extractBlocks(readme).filter((block) => ['ts', 'js'].includes(block.lang));
const fileBlocks = blocks.filter((block) => block.file !== undefined);
const snippets = blocks.filter((block) => block.file === undefined);

/** Where a block is compiled: its repository file, or a module of its own next to the demo's files. */
function sourcePathOf(block: Block): string {
  if (block.file !== undefined) return path.join(root, block.file);
  const extension = block.lang === 'ts' ? 'ts' : /\brequire\(/.test(block.code) ? 'cjs' : 'js';
  return path.join(root, 'example-app', `README.md-line-${block.line}.${extension}`);
}

const ambient = path.join(root, 'example-app', 'README.md-ambient.d.ts');
const ambientCode = "declare const app: import('express').Express;\n";

const compilerOptions: ts.CompilerOptions = {
  strict: true,
  exactOptionalPropertyTypes: true,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  allowJs: true,
  checkJs: true,
  noEmit: true,
  skipLibCheck: true,
  types: ['node'],
  baseUrl: root,
  // the package's own sources stand for its published types
  paths: {
    'express-relying-party': ['./lib/index.ts'],
    'express-relying-party/sandbox': ['./lib/sandbox/index.ts'],
    'express-relying-party/testing': ['./lib/testing/index.ts'],
  },
};

/** A snippet with a type error, checked along with the README's: proves the check reports errors. */
const canary: Block = { lang: 'ts', code: "import { relyingParty } from 'express-relying-party';\nrelyingParty({ issuer: 1 });\n", line: 0, file: undefined };

/** Type-checks every block (and the canary) in one program; returns the diagnostics of each block's file. */
function typeCheck(): Map<string, string[]> {
  const virtual = new Map<string, string>([[ambient, ambientCode]]);
  for (const block of [...snippets, canary]) virtual.set(sourcePathOf(block), block.code);
  const host = ts.createCompilerHost(compilerOptions);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (file) => virtual.has(file) || fileExists.call(host, file);
  host.readFile = (file) => virtual.get(file) ?? readFile.call(host, file);
  host.getSourceFile = (file, languageVersion, onError) => {
    const text = virtual.get(file);
    return text === undefined ? getSourceFile.call(host, file, languageVersion, onError) : ts.createSourceFile(file, text, languageVersion, true);
  };
  const roots = [ambient, ...[...blocks, canary].map(sourcePathOf)];
  const program = ts.createProgram(roots, compilerOptions, host);
  const format = (diagnostic: ts.Diagnostic) => {
    const where = diagnostic.file && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start) : undefined;
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    return `${where ? `line ${where.line + 1}: ` : ''}TS${diagnostic.code} ${text}`;
  };
  const result = new Map<string, string[]>();
  result.set('(program)', [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map(format));
  for (const file of roots) {
    const source = program.getSourceFile(file);
    if (!source) {
      result.set(file, ['not part of the program']);
      continue;
    }
    result.set(file, [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map(format));
  }
  return result;
}

describe('README.md code', () => {
  it('has the blocks this test checks: the walk-through files and the snippets', () => {
    expect(fileBlocks.map((block) => block.file)).toEqual(
      expect.arrayContaining(['examples/quickstart/app.js', 'examples/quickstart/server.js', 'examples/quickstart/app.test.js', 'examples/commonjs/app.cjs']),
    );
    expect(snippets.length).toBeGreaterThanOrEqual(5);
  });

  it.each(fileBlocks.map((block) => [block.file ?? '', block.line, block] as const))('shows %s (line %d) as it is in the repository', (file, _line, block) => {
    expect(block.code).toBe(readFileSync(path.join(root, file), 'utf8'));
  });

  describe('type-checked with strict, exactOptionalPropertyTypes and module NodeNext', () => {
    let diagnostics: Map<string, string[]>;
    beforeAll(() => {
      diagnostics = typeCheck();
    }, 60_000);

    it('reports a type error where there is one (the check itself works)', () => {
      expect(diagnostics.get(sourcePathOf(canary))?.join('\n')).toMatch(/TS2322 Type 'number' is not assignable to type 'string'/);
    });

    it('has no program-wide errors', () => {
      expect(diagnostics.get('(program)')).toEqual([]);
    });

    it.each(blocks.map((block) => [block.line, block.file ?? `a ${block.lang} snippet`, block] as const))('the block at line %d (%s) compiles', (_line, _what, block) => {
      expect(diagnostics.get(sourcePathOf(block))).toEqual([]);
    });
  });
});
