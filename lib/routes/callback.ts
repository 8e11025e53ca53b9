import type { NextFunction, Request, Response } from 'express';
import * as client from 'openid-client';
import createDebug from 'debug';
import { RelyingPartyError } from '../errors.js';
import { authRouteHeaders, searchOf } from '../http.js';
import type { Config, LoginDetails } from '../options.js';
import { providerError } from '../provider.js';
import type { Provider } from '../provider.js';
import { requestUserInfo } from '../context.js';
import { rememberSession } from '../logout-index.js';
import type { PendingLogin, RequestSession } from '../session.js';
import { clearAuth, regenerateSession, requireSession, saveSession, takePendingLogin } from '../session.js';
import { signedOutAt } from '../sign-out.js';
import { checkLoginAnswer } from '../step-up.js';
import { toAuthRecord } from '../tokens.js';

const debug = createDebug('express-relying-party:callback');

/** Authorization response parameters that may appear once at most. */
const SINGLE_VALUED = ['code', 'iss', 'error', 'error_description', 'error_uri'];
/** Parameters of response types this client never asks for (implicit, hybrid, JARM). */
const UNEXPECTED = ['id_token', 'token', 'response'];

/** The callback's query is shaped like an answer to this client's code-flow request, or `callback_invalid`. */
function checkCallbackShape(parameters: URLSearchParams): void {
  const invalid = (why: string) => new RelyingPartyError('callback_invalid', `The callback is invalid: ${why}.`);
  const repeated = SINGLE_VALUED.find((name) => parameters.getAll(name).length > 1);
  if (repeated) throw invalid(`\`${repeated}\` appears more than once`);
  const unexpected = UNEXPECTED.find((name) => parameters.has(name));
  if (unexpected) throw invalid(`\`${unexpected}\` belongs to a response type this client does not use`);
  if (!parameters.has('error') && !parameters.get('code')) throw invalid('it carries no `code`');
}

type TokenResponse = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

/** How long the back-channel logout index keeps a session when neither `absoluteLifetime` nor the cookie bound it. */
const DEFAULT_INDEX_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** How long a successful callback is remembered, so that the same callback sent again gets the same answer. */
const SETTLED_CALLBACK_MS = 10 * 1000;

/** A callback being handled, or just handled, in this process: by its `state`. */
interface Exchange {
  readonly code: string;
  /** The session ids of the browser that sent it: before and (once signed in) after. */
  readonly sessionIds: Set<string>;
  /** The `returnTo` of the login it completed; rejects when it failed. */
  readonly done: Promise<string>;
}

const stateUnknown = (why: string) =>
  new RelyingPartyError(
    'state_unknown',
    `No login is pending in this session for this \`state\`: ${why}.`,
  );

/** The provider's answers to `prompt=none` that mean "the user would have to interact": not an error for a silent login. */
const INTERACTION_NEEDED = new Set(['login_required', 'consent_required', 'interaction_required', 'account_selection_required']);

function isNotSignedInAtProvider(err: unknown): boolean {
  return err instanceof RelyingPartyError && err.code === 'authorization_error' && INTERACTION_NEEDED.has(err.providerError ?? '');
}

/**
 * Runs the app's `onLogin` hook with the new session in place. If it
 * throws, the new session is destroyed (nothing it stored survives, nobody
 * is signed in) and the login fails: `login_refused` as thrown, anything
 * else as `login_hook_failed`.
 */
async function runLoginHook(req: Request, config: Config, details: LoginDetails): Promise<void> {
  try {
    await config.onLogin?.(req, details);
  } catch (err) {
    const session = req.session as RequestSession | undefined;
    await new Promise<void>((resolve) => (session ? session.destroy(() => resolve()) : resolve()));
    if (err instanceof RelyingPartyError && err.code === 'login_refused') throw err;
    throw new RelyingPartyError('login_hook_failed', 'The app\'s onLogin hook failed: nobody was signed in.', { cause: err });
  }
}

/**
 * The redirect_uri endpoint: checks the callback against the pending login,
 * exchanges the code, and signs the session in under a new session id.
 */
export function createCallback(config: Config, provider: Provider) {
  // one code exchange per callback in this process, however often the browser sends it
  const exchanges = new Map<string, Exchange>();

  async function signIn(req: Request, login: PendingLogin, state: string, search: string, parameters: URLSearchParams): Promise<string> {
    const sessionId = req.sessionID;
    if (Date.now() - login.createdAt >= config.loginTimeout) {
      throw new RelyingPartyError('login_expired', `The login took longer than ${config.loginTimeout / 1000} s; start again.`);
    }

    checkCallbackShape(parameters);

    const configuration = await provider.get();
    // redirect_uri is rebuilt from baseUrl, never from Host or X-Forwarded-* headers
    const callbackUrl = new URL(config.redirectUri + search);
    let tokens: TokenResponse;
    try {
      tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
        expectedState: state,
        expectedNonce: login.nonce,
        pkceCodeVerifier: login.codeVerifier,
        idTokenExpected: config.openid,
      }, undefined, await provider.dpop());
    } catch (err) {
      throw providerError(err, 'The token exchange failed');
    }
    const record = toAuthRecord(tokens, config);
    if (login.authorizationRequest !== undefined) record.authorizationRequest = login.authorizationRequest;
    const claims = tokens.claims();
    if (config.openid && (claims === undefined || record.idToken === undefined)) {
      throw new RelyingPartyError('id_token_invalid', 'The provider returned no ID token for an `openid` login.');
    }
    await checkLoginAnswer(req, login, record, claims, config);
    if (config.fetchUserInfo) record.userinfo = await requestUserInfo(provider, record, record.accessToken);

    // a sign-out while the code was being exchanged (another tab, back-channel logout) wins
    const endedAt = await signedOutAt(req.sessionStore, sessionId);
    if (endedAt !== undefined && endedAt >= login.createdAt) throw stateUnknown('the session was signed out while this login was in progress');

    // a new session id at sign-in defeats session fixation; only keepSessionData survives
    const signedIn = await regenerateSession(req, config.keepSessionData, true);
    if (config.onLogin) await runLoginHook(req, config, { claims, tokens: { ...tokens }, userinfo: record.userinfo, provider: config.name });
    (signedIn.relyingParty ??= {}).auth = record;
    try {
      await saveSession(signedIn);
    } catch (err) {
      // express-session would save again at the end of the response: leave nothing logged in half
      clearAuth(signedIn);
      throw err;
    }
    if (config.routes.backchannelLogout && claims) {
      const ttl = config.absoluteLifetime === false ? Math.max(signedIn.cookie.originalMaxAge ?? 0, DEFAULT_INDEX_TTL_MS) : config.absoluteLifetime;
      await rememberSession(req.sessionStore, configuration.serverMetadata().issuer, claims, req.sessionID, ttl).catch((err: unknown) => {
        debug('could not index the session for back-channel logout: %s', err instanceof Error ? err.message : String(err));
      });
    }
    debug('login completed');
    return login.returnTo;
  }

  return async function callbackHandler(req: Request, res: Response, next: NextFunction): Promise<void> {
    authRouteHeaders(res);
    let login: PendingLogin | undefined;
    try {
      const session = requireSession(req);
      const search = searchOf(req);
      const parameters = new URLSearchParams(search);
      const states = parameters.getAll('state');
      const state = states[0];
      if (states.length !== 1 || !state) {
        throw new RelyingPartyError('state_missing', 'The callback has no single `state` parameter: it was not sent by the provider for a login of this app.');
      }
      const code = parameters.get('code') ?? '';

      const earlier = exchanges.get(state);
      if (earlier) {
        // the same callback again (a double click, a reload): no second code exchange
        if (earlier.code !== code || !earlier.sessionIds.has(req.sessionID)) throw stateUnknown('this `state` was already used');
        const returnTo = await earlier.done.catch(() => undefined);
        if (returnTo === undefined) throw stateUnknown('the callback was already used');
        debug('the same callback again: back to where the first one went');
        return res.redirect(returnTo);
      }

      // taken out before any check: whatever happens next, this state can't be used again
      login = takePendingLogin(session, state, config.name);
      if (!login) {
        throw stateUnknown(
          `the callback was already used, belongs to another browser, came after the login's ${config.loginTimeout / 1000} s had run out, or the session cookie did not come back (check its SameSite and Secure settings)`,
        );
      }
      const sessionIds = new Set([req.sessionID]);
      const done = signIn(req, login, state, search, parameters).then((returnTo) => {
        sessionIds.add(req.sessionID);
        return returnTo;
      });
      exchanges.set(state, { code, sessionIds, done });
      // a failed one is forgotten at once (its pending login is gone anyway), a successful one a little later
      done.then(
        () => setTimeout(() => exchanges.delete(state), SETTLED_CALLBACK_MS).unref(),
        () => exchanges.delete(state),
      );
      res.redirect(await done);
    } catch (err) {
      if (login?.silent && isNotSignedInAtProvider(err)) {
        // silentLogin: the user is not signed in at the provider, which is no error; back to the page
        debug('silent login: not signed in at the provider');
        return res.redirect(login.returnTo);
      }
      debug('callback failed: %s', err instanceof RelyingPartyError ? err.code : 'unexpected error');
      next(err);
    }
  };
}
