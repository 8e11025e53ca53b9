export { relyingParty } from './middleware.js';
export { requiresAuth } from './requires-auth.js';
export { RelyingPartyError, ErrorCodes } from './errors.js';
export type { ErrorCode, RelyingPartyErrorOptions, StepUpChallenge } from './errors.js';
export type { LoginDetails, RelyingPartyOptions, RoutesOptions, ClientAuthMethod, IdTokenSigningAlg } from './options.js';
export type { ClientAssertionSigningAlg, FapiOptions, PrivateKeyInput, SecurityProfile, SigningAlg } from './options.js';
export type { RequestAuth, AccessToken } from './context.js';
export type { RequiresAuthOptions, LoginOptions, UserClaims } from './step-up-options.js';
export type { AuthRecord, AuthorizationRequestKind, PendingLogin, AskedLogin, RelyingPartySessionData } from './session.js';
