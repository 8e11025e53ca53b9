/**
 * `express-relying-party/sandbox`: Sandbox Bank, an OpenID provider with
 * real login, consent and Strong Customer Authentication pages, for
 * developing and testing an app on one machine. Needs the `oidc-provider`
 * package (an optional peer dependency). It honours `acr_values` and
 * `max_age` (step-up) and takes payment consents as `payments:…` scopes. The command
 * `express-relying-party-sandbox` starts one from a terminal.
 */
export { startSandbox, generateSigningKey } from './start.js';
export type { Sandbox } from './start.js';
export type { SandboxOptions, SandboxUser, SandboxApi } from './options.js';
export { ACR_CUSTOMER_AUTHENTICATION, ACR_STRONG_CUSTOMER_AUTHENTICATION, SANDBOX_ACR_VALUES } from './sca.js';
export { paymentScope, parsePaymentScope, describePaymentScope } from './payment-scopes.js';
export type { PaymentScope } from './payment-scopes.js';
export { BANK_NAME } from './views.js';
