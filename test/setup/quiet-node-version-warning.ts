/**
 * oidc-provider v9 (the test provider) prints "Unsupported runtime. Use
 * Node.js v22.x LTS" once per test file on Node 20, which this package
 * supports (engines >= 20.19) and CI runs. That one line is dropped; every
 * other warning goes through.
 */
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
  warn(...args);
};
