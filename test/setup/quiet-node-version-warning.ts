/**
 * oidc-provider v9 (the test provider) prints "Unsupported runtime. Use
 * Node.js v22.x LTS" once per test file on Node 20, which this package
 * supports (engines >= 20.19) and CI runs. That one line is dropped; every
 * other warning goes through.
 *
 * Also dropped: "failed to setup SSRF protection for fetch", printed when
 * the test provider first fetches a client's JWK Set. Under jest's VM
 * modules oidc-provider does not find undici's dispatcher to guard its
 * fetches against special-use addresses, and the client key sets it
 * fetches are on loopback on purpose.
 */
const warn = console.warn.bind(console);
const dropped = ['oidc-provider WARNING: Unsupported runtime', 'oidc-provider WARNING: failed to setup SSRF protection for fetch'];
console.warn = (...args: unknown[]) => {
  const first = args[0];
  if (typeof first === 'string' && dropped.some((line) => first.includes(line))) return;
  warn(...args);
};
