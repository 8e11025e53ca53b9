/**
 * `express-relying-party/testing`: sign a test user in to your app from
 * its own test suite (jest, node:test, …), through the real authorization
 * code flow against the sandbox provider of `express-relying-party/sandbox`,
 * with no browser and nothing of the protocol mocked.
 */
export { signIn, SignInError } from './sign-in.js';
export type { SignInOptions, SandboxLike } from './sign-in.js';
export type { SandboxUser } from '../sandbox/options.js';
