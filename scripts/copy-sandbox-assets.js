// The sandbox serves its stylesheet and icon from files next to its code:
// tsc compiles lib/ into dist/ but copies no other files, so this does.
import { cpSync, rmSync } from 'node:fs';

rmSync('dist/sandbox/public', { recursive: true, force: true });
cpSync('lib/sandbox/public', 'dist/sandbox/public', { recursive: true });
