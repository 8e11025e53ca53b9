/**
 * Jest runs in native ESM mode (openid-client v6 and oidc-provider v9 are
 * ESM-only): `npm run jest` starts Node with --experimental-vm-modules and
 * ts-jest transpiles the TypeScript sources and tests as ES modules. Type
 * checking is done once for the whole project by `tsc --noEmit`, so ts-jest
 * only transpiles (tsconfig has isolatedModules).
 *
 * @type {import('jest').Config}
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  moduleNameMapper: {
    '^express-relying-party$': '<rootDir>/lib/index.ts',
    '^express-relying-party/(sandbox|testing)$': '<rootDir>/lib/$1/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  setupFiles: ['<rootDir>/test/setup/quiet-node-version-warning.ts'],
  reporters: ['default', '<rootDir>/test/setup/summary-reporter.cjs'],
  testTimeout: 30000,
};
