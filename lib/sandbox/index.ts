/**
 * `express-relying-party/sandbox`: Sandbox Bank, an OpenID provider with
 * real login, consent and Strong Customer Authentication pages, for
 * developing and testing an app on one machine. Needs the `oidc-provider`
 * package (an optional peer dependency). The command
 * `express-relying-party-sandbox` starts one from a terminal.
 */
export { startSandbox, generateSigningKey } from './start.js';
export type { Sandbox } from './start.js';
export type { SandboxOptions, SandboxUser, SandboxApi } from './options.js';
export { ACR_CUSTOMER_AUTHENTICATION, ACR_STRONG_CUSTOMER_AUTHENTICATION, SANDBOX_ACR_VALUES } from './sca.js';
export { BANK_NAME } from './views.js';
