import express from 'express';
import type { NextFunction, Request, Response, Router } from 'express';
import type { Interaction, Provider } from 'oidc-provider';
import { describePaymentScope } from './payment-scopes.js';
import { checkOneTimeCode, issuableAcrValues, strongAuthenticationRequired } from './sca.js';
import type { SandboxUsers } from './users.js';
import type { SandboxViews, ScopeDescription } from './views.js';

/**
 * The sandbox's interaction pages, in the standard oidc-provider pattern:
 * when the provider needs the user (no session yet, consent missing), it
 * stores the authorization request as an "interaction", sends the browser to
 * `/interaction/:uid`, and waits. These routes render the pages and, once
 * the user is done, hand the outcome back with `interactionFinished()`,
 * which redirects the browser into the provider to finish the authorization
 * request (and on to the app's `/callback` with a code).
 *
 * The three steps (sign in, consent, then Strong Customer Authentication
 * that confirms the consent, as PSD2 banks do) are one interaction: what is
 * done so far is kept in `progress` below, and a single
 * `interactionFinished()` at the end reports the login (with `acr`/`amr`
 * telling how the user authenticated) and the consent together.
 *
 * Step-ups skip what is already done: a user signed in at the sandbox who
 * only lacks SCA (the `sca` prompt, see `sca.ts`) goes straight to the code;
 * one who already passed SCA and is asked for it again (`acr_values`) with
 * a new consent, such as a second payment, approves it without a new code.
 * A `max_age` the session is older than makes oidc-provider ask for the
 * login again.
 */

/** The one API (resource server) this sandbox issues access tokens for. */
export interface InteractionApi {
  /** Its resource indicator (RFC 8707), also the `aud` of its access tokens. */
  readonly indicator: string;
  /** The scopes it understands (payment scopes, `payments:…`, come on top). */
  readonly scopes: readonly string[];
}

export interface InteractionRoutesOptions {
  readonly provider: Provider;
  readonly users: SandboxUsers;
  readonly views: SandboxViews;
  /** The issuer's path (`''` or e.g. `/oidc`), where these routes are mounted. */
  readonly basePath: string;
  /** Display names of the registered clients, by client id. */
  readonly clientNames: ReadonlyMap<string, string>;
  /** The OpenID Connect scopes the provider supports (`openid`, `profile`, …). */
  readonly oidcScopes: ReadonlySet<string>;
  readonly api: InteractionApi | undefined;
}

const scopeTexts: Readonly<Record<string, string>> = {
  openid: 'Confirm who you are (your Sandbox Bank customer id)',
  profile: 'See your name and username',
  email: 'See your email address',
  phone: 'See your phone number',
  address: 'See your postal address',
  offline_access: 'Stay connected while you are away',
  'accounts:read': 'Read the list of your accounts and their balances',
};

interface Progress {
  accountId?: string;
  /** The user typed their password in this interaction (not merely signed in at the sandbox from before). */
  loggedIn?: boolean;
  /** The scopes the user approved at consent; `undefined` until then. */
  granted?: readonly string[];
  expiresAt: number;
}

/** How long a half-finished interaction is remembered; oidc-provider's own Interaction TTL is the same. */
const PROGRESS_TTL_MS = 10 * 60 * 1000;

function stringParam(params: Interaction['params'], name: string): string | undefined {
  const value = params[name];
  return typeof value === 'string' ? value : undefined;
}

function formValues(req: Request, name: string): string[] {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) return [];
  const value: unknown = (body as Record<string, unknown>)[name];
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function formField(req: Request, name: string): string {
  return formValues(req, name)[0] ?? '';
}

const parseForm = express.urlencoded({ extended: false, limit: '10kb' });

/** Interaction pages are per-user and one-time: never cache them. */
function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.set('Cache-Control', 'no-store');
  next();
}

/** Express router for `/interaction/:uid` and its three forms. */
export function interactionRoutes(options: InteractionRoutesOptions): Router {
  const { provider, users, views, basePath, clientNames, oidcScopes, api } = options;
  const progressByUid = new Map<string, Progress>();
  const pageOf = (uid: string) => `${basePath}/interaction/${uid}`;

  function progressOf(uid: string): Progress {
    const now = Date.now();
    for (const [key, entry] of progressByUid) if (entry.expiresAt <= now) progressByUid.delete(key);
    let progress = progressByUid.get(uid);
    if (progress === undefined) {
      progress = { expiresAt: now + PROGRESS_TTL_MS };
      progressByUid.set(uid, progress);
    }
    return progress;
  }

  /** Loads the interaction bound to this browser (oidc-provider checks its cookie) and what is done of it. */
  async function load(req: Request, res: Response) {
    const details = await provider.interactionDetails(req, res);
    const progress = progressOf(details.uid);
    // no login prompt: the user already has a session at the provider
    if (details.prompt.name !== 'login') progress.accountId ??= details.session?.accountId;
    const clientId = details.params.client_id;
    const clientName = clientNames.get(clientId) ?? clientId;
    return { details, progress, clientName };
  }

  function requestedScopes(details: Interaction): string[] {
    return (stringParam(details.params, 'scope') ?? '').split(' ').filter((scope) => scope !== '');
  }

  /** Only SCA is missing (the `sca` prompt): the user is signed in and the app's consent stands. */
  const consentAsked = (details: Interaction) => details.prompt.name !== 'sca';

  /** Payments the request asks for, in words ("Pay £25.00 to Acme Energy"). */
  const paymentsOf = (details: Interaction) => requestedScopes(details).flatMap((scope) => describePaymentScope(scope) ?? []);

  /**
   * The user passed SCA earlier in this sandbox session, and the request
   * asks for that level: a new consent (another payment) needs no new code.
   */
  function scaAlreadyDone(details: Interaction, progress: Progress): boolean {
    const acr = details.session?.acr;
    return progress.loggedIn !== true && acr !== undefined && issuableAcrValues(details.params.acr_values).includes(acr);
  }

  function isApiScope(scope: string): boolean {
    return api !== undefined && (api.scopes.includes(scope) || describePaymentScope(scope) !== undefined);
  }

  /**
   * Records the consent (when this interaction asked for one) and the login
   * (when given) with oidc-provider, which redirects the browser on to the
   * app. The consent is a Grant: OpenID scopes (which claims the app may
   * see) and, separately, the API's scopes for its resource indicator; the
   * access token is then issued for that API only. What the user unticked
   * is recorded as rejected, so it is not asked again.
   */
  async function finish(req: Request, res: Response, details: Interaction, progress: Progress, login?: { acr: string; amr: readonly string[] }): Promise<void> {
    const { accountId, granted } = progress;
    if (accountId === undefined) throw new Error('finish() before the user is known');
    let grantId: string | undefined;
    if (granted !== undefined) {
      const clientId = details.params.client_id;
      const existing = details.grantId === undefined ? undefined : await provider.Grant.find(details.grantId);
      const grant = existing ?? new provider.Grant({ accountId, clientId });
      const requested = requestedScopes(details);
      const declined = requested.filter((scope) => !granted.includes(scope));
      const oidcGranted = granted.filter((scope) => oidcScopes.has(scope));
      const oidcDeclined = declined.filter((scope) => oidcScopes.has(scope));
      if (oidcGranted.length > 0) grant.addOIDCScope(oidcGranted.join(' '));
      if (oidcDeclined.length > 0) grant.rejectOIDCScope(oidcDeclined.join(' '));
      const resource = requestedResource(details);
      if (api !== undefined && resource === api.indicator) {
        const apiGranted = granted.filter(isApiScope);
        const apiDeclined = declined.filter(isApiScope);
        if (apiGranted.length > 0) grant.addResourceScope(resource, apiGranted.join(' '));
        if (apiDeclined.length > 0) grant.rejectResourceScope(resource, apiDeclined.join(' '));
      }
      grantId = await grant.save();
    }
    progressByUid.delete(details.uid);
    await provider.interactionFinished(
      req,
      res,
      {
        // acr/amr end up in the ID token: they tell the app whether SCA happened;
        // remember: false keeps the sandbox session in a browser-session cookie
        ...(login === undefined ? {} : { login: { accountId, acr: login.acr, amr: [...login.amr], remember: false } }),
        ...(grantId === undefined ? {} : { consent: { grantId } }),
      },
      { mergeWithLastSubmission: false },
    );
  }

  function requestedResource(details: Interaction): string | undefined {
    return stringParam(details.params, 'resource') ?? api?.indicator;
  }

  const router = express.Router();
  router.use('/interaction', noStore);

  router.get('/interaction/:uid', async function showInteraction(req: Request, res: Response) {
    const { details, progress, clientName } = await load(req, res);
    const { uid } = details;
    if (progress.accountId === undefined) {
      // signed in here already, but the app wants a recent sign-in (max_age, or prompt=login)
      const again = details.session !== undefined && details.prompt.reasons.some((reason) => reason === 'max_age' || reason === 'login_prompt');
      res.type('html').send(views.loginPage({ uid, clientName, knownUsers: users.knownLogins(), again }));
    } else if (consentAsked(details) && progress.granted === undefined) {
      const scopes: ScopeDescription[] = requestedScopes(details).map((scope) => ({
        scope,
        text: scopeTexts[scope] ?? describePaymentScope(scope) ?? scope,
        required: scope === 'openid',
      }));
      const username = users.displayNameOf(progress.accountId) ?? progress.accountId;
      res.type('html').send(views.consentPage({ uid, clientName, username, scopes, resource: api === undefined ? undefined : requestedResource(details) }));
    } else {
      res.type('html').send(views.scaPage({ uid, clientName, required: strongAuthenticationRequired(details.params.acr_values), payments: paymentsOf(details) }));
    }
  });

  router.post('/interaction/:uid/login', parseForm, async function submitLogin(req: Request, res: Response) {
    const { details, progress, clientName } = await load(req, res);
    const username = formField(req, 'username').trim();
    if (username === '') {
      const error = 'Enter a username (any name works in the sandbox).';
      res.status(400).type('html').send(views.loginPage({ uid: details.uid, clientName, knownUsers: users.knownLogins(), error }));
      return;
    }
    // the sandbox convention: every username/password pair is valid
    progress.accountId = users.signIn(username);
    progress.loggedIn = true;
    // 303 See Other: the browser follows with a GET, so reloading never re-posts the form
    res.redirect(303, pageOf(details.uid));
  });

  router.post('/interaction/:uid/consent', parseForm, async function submitConsent(req: Request, res: Response) {
    const { details, progress } = await load(req, res);
    if (progress.accountId === undefined) return res.redirect(303, pageOf(details.uid));
    if (formField(req, 'decision') !== 'approve') {
      progressByUid.delete(details.uid);
      // the app receives `error=access_denied` at its callback
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user declined the consent request.' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const ticked = new Set(formValues(req, 'scope'));
    // `openid` has no checkbox to untick: without it there is no sign-in
    progress.granted = requestedScopes(details).filter((scope) => scope === 'openid' || ticked.has(scope));
    // SCA passed earlier in this sandbox session, and that is the level asked for: no new code
    if (scaAlreadyDone(details, progress)) return finish(req, res, details, progress);
    res.redirect(303, pageOf(details.uid));
  });

  router.post('/interaction/:uid/sca', parseForm, async function submitSca(req: Request, res: Response) {
    const { details, progress, clientName } = await load(req, res);
    if (progress.accountId === undefined || (consentAsked(details) && progress.granted === undefined)) return res.redirect(303, pageOf(details.uid));
    const required = strongAuthenticationRequired(details.params.acr_values);
    const sca = checkOneTimeCode(formField(req, 'otp'), required);
    if (!sca.ok) {
      res.status(400).type('html').send(views.scaPage({ uid: details.uid, clientName, required, payments: paymentsOf(details), error: sca.message }));
      return;
    }
    await finish(req, res, details, progress, sca);
  });

  return router;
}
