export { relyingParty } from './middleware.js';
export { requiresAuth } from './requires-auth.js';
export { RelyingPartyError, ErrorCodes } from './errors.js';
export type { ErrorCode, RelyingPartyErrorOptions } from './errors.js';
export type { RequiresAuthOptions } from './requires-auth.js';
export type { LoginDetails, RelyingPartyOptions, RoutesOptions, ClientAuthMethod, IdTokenSigningAlg } from './options.js';
export type { ClientAssertionSigningAlg, FapiOptions, PrivateKeyInput, SecurityProfile, SigningAlg } from './options.js';
export type { RequestAuth, AccessToken } from './context.js';
export type { AuthRecord, AuthorizationRequestKind, PendingLogin, RelyingPartySessionData } from './session.js';
