/**
 * Typings for the parts of `oidc-provider` v9 that the test fixtures and the
 * example sandbox use: the package ships none, and `@types/oidc-provider`
 * describes a CommonJS module that does not type-check under NodeNext ESM.
 */
declare module 'oidc-provider' {
  export const errors: {
    /** `invalid_target` (RFC 8707): the requested resource indicator is unknown. */
    InvalidTarget: new (description?: string) => Error;
  };

  /** What an interaction policy check sees of the request being authorized. */
  export interface PolicyContext {
    oidc: {
      params: Record<string, unknown>;
      session: { accountId?: string; acr?: string };
      /** The interaction result just submitted, while the authorization resumes. */
      result?: InteractionResults;
    };
  }

  export class Check {
    constructor(reason: string, description: string, check: (ctx: PolicyContext) => Awaitable<boolean>);
    static readonly REQUEST_PROMPT: true;
    static readonly NO_NEED_TO_PROMPT: false;
    readonly reason: string;
  }

  export class Prompt {
    constructor(options: { name: string; requestable?: boolean }, ...checks: Check[]);
    readonly name: string;
    readonly checks: Check[] & { get(reason: string): Check | undefined };
  }

  /** The prompts in order; `base()` is oidc-provider's default policy (login, then consent). */
  export type Policy = Prompt[] & { get(name: string): Prompt | undefined; add(prompt: Prompt, index?: number): void };

  export const interactionPolicy: {
    Check: typeof Check;
    Prompt: typeof Prompt;
    base(): Policy;
  };

  import type { IncomingMessage, ServerResponse } from 'node:http';

  type Awaitable<T> = T | Promise<T>;
  type TtlFunction = (ctx: unknown, token: unknown, client: ClientInstance) => number;

  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    token_endpoint_auth_method?: string;
    grant_types?: string[];
    response_types?: string[];
    redirect_uris?: string[];
    post_logout_redirect_uris?: string[];
    backchannel_logout_uri?: string;
    backchannel_logout_session_required?: boolean;
    id_token_signed_response_alg?: string;
    [key: string]: unknown;
  }

  export interface ClientInstance {
    clientId: string;
    grantTypeAllowed(type: string): boolean;
  }

  export interface AccountClaims {
    sub: string;
    [key: string]: unknown;
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string): Awaitable<AccountClaims>;
  }

  /** What `extraTokenClaims` and `getResourceServerInfo` see of the request issuing a token. */
  export interface TokenContext {
    oidc: {
      params?: Record<string, unknown>;
      entities: {
        AuthorizationCode?: { acr?: string; authTime?: number; scope?: string };
        RefreshToken?: { acr?: string; authTime?: number; scope?: string };
      };
    };
  }

  export interface KoaContextWithOIDC {
    type: string;
    body: unknown;
    status: number;
  }

  export interface ErrorOut {
    error: string;
    error_description?: string;
    [key: string]: unknown;
  }

  /** A storage adapter factory, called once per model name. */
  export type AdapterFactory = (model: string) => unknown;

  export interface Configuration {
    adapter?: AdapterFactory;
    clients?: ClientMetadata[];
    jwks?: { keys: Record<string, unknown>[] };
    findAccount?: (ctx: unknown, id: string) => Awaitable<Account | undefined>;
    claims?: Record<string, string[] | null>;
    scopes?: string[];
    acrValues?: string[];
    conformIdTokenClaims?: boolean;
    issueRefreshToken?: (ctx: unknown, client: ClientInstance, code: unknown) => Awaitable<boolean>;
    rotateRefreshToken?: boolean | ((ctx: unknown) => Awaitable<boolean>);
    pkce?: { required?: (ctx: unknown, client: ClientInstance) => boolean };
    interactions?: { url?: (ctx: unknown, interaction: Interaction) => Awaitable<string>; policy?: Policy };
    /** Claims added to access tokens (JWT ones carry them as they are). */
    extraTokenClaims?: (ctx: TokenContext, token: unknown) => Awaitable<Record<string, unknown> | undefined>;
    cookies?: { keys?: string[] };
    clientBasedCORS?: (ctx: unknown, origin: string, client: ClientInstance) => boolean;
    renderError?: (ctx: KoaContextWithOIDC, out: ErrorOut, error: Error) => Awaitable<void>;
    /** The fetch oidc-provider uses for client `jwks_uri` and the like. */
    fetch?: (url: URL | string, options: Record<string, unknown>) => Promise<Response>;
    /** Allowed JWS algorithms per use (FAPI profiles narrow them). */
    enabledJWA?: Partial<Record<
      'clientAuthSigningAlgValues' | 'idTokenSigningAlgValues' | 'requestObjectSigningAlgValues'
      | 'dPoPSigningAlgValues' | 'userinfoSigningAlgValues',
      string[]
    >>;
    ttl?: Partial<Record<
      'AccessToken' | 'AuthorizationCode' | 'IdToken' | 'RefreshToken'
      | 'Interaction' | 'Session' | 'Grant',
      number | TtlFunction
    >>;
    features?: {
      devInteractions?: { enabled: boolean };
      revocation?: { enabled: boolean; allowedPolicy?: (ctx: unknown, client: ClientInstance, token: { clientId?: string }) => Awaitable<boolean> };
      userinfo?: { enabled: boolean };
      resourceIndicators?: {
        enabled: boolean;
        defaultResource?: (ctx: unknown) => Awaitable<string | undefined>;
        useGrantedResource?: (ctx: unknown) => Awaitable<boolean>;
        getResourceServerInfo?: (ctx: TokenContext, resourceIndicator: string, client: ClientInstance) => Awaitable<{
          scope: string;
          audience: string;
          accessTokenFormat: 'jwt' | 'opaque';
          accessTokenTTL?: number;
          jwt?: { sign: { alg: string } };
        }>;
      };
      backchannelLogout?: { enabled: boolean };
      /** FAPI profile, for every client or per client. */
      fapi?: { enabled: boolean; profile?: '2.0' | '1.0 Final' | ((ctx: unknown, client: ClientInstance) => '2.0' | '1.0 Final' | undefined) };
      pushedAuthorizationRequests?: { enabled: boolean; requirePushedAuthorizationRequests?: boolean };
      requestObjects?: { enabled: boolean; requireSignedRequestObject?: boolean };
      /** RFC 9449; `nonceSecret` (32 bytes) enables server-issued nonces. */
      dPoP?: { enabled: boolean; nonceSecret?: Buffer; requireNonce?: (ctx: unknown) => boolean };
      rpInitiatedLogout?: {
        enabled: boolean;
        logoutSource?: (ctx: KoaContextWithOIDC, form: string) => Awaitable<void>;
        postLogoutSuccessSource?: (ctx: KoaContextWithOIDC) => Awaitable<void>;
      };
    };
  }

  export interface PromptDetails {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
    [key: string]: unknown;
  }

  export interface Interaction {
    uid: string;
    prompt: { name: string; reasons: string[]; details: PromptDetails };
    params: Record<string, unknown> & { client_id: string };
    session?: { accountId: string; uid: string; acr?: string };
    grantId?: string;
  }

  export interface InteractionResults {
    /** `ts`: when the user authenticated (epoch seconds, the ID token's `auth_time`); default now. */
    login?: { accountId: string; acr?: string; amr?: string[]; remember?: boolean; ts?: number };
    consent?: { grantId?: string };
    error?: string;
    error_description?: string;
  }

  export class Grant {
    constructor(properties: { accountId: string; clientId: string });
    static find(id: string): Promise<Grant | undefined>;
    addOIDCScope(scope: string): void;
    rejectOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    rejectResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    readonly Grant: typeof Grant;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export default Provider;
}

declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  import type { AdapterFactory } from 'oidc-provider';

  /** oidc-provider's default in-memory adapter with its own store (internal module). */
  export function createMemoryAdapter(clockTolerance?: number): AdapterFactory;
}
