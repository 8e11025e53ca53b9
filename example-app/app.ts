import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import express from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import session from 'express-session';
import type { Store } from 'express-session';
import helmet from 'helmet';
import { RelyingPartyError, relyingParty, requiresAuth } from 'express-relying-party';
import type { PrivateKeyInput, RelyingPartyOptions } from 'express-relying-party';
import type { StepUpChallenge } from 'express-relying-party';
import { paymentScope } from 'express-relying-party/sandbox';
import { accountsApi } from './api.js';
import type { DemoAccount, DemoPaymentReceipt } from './api.js';
import { accountsPage, errorPage, homePage, paymentPage, paymentsPage, profilePage, signedOutPage } from './views.js';
import type { AccountsResult, PageContext, PaymentView } from './views.js';

/**
 * The demo app: an ordinary Express app that becomes an OpenID Connect
 * relying party with two middleware calls (`relyingParty()` and
 * `requiresAuth()`), plus a small "bank accounts" API it calls with the
 * access token. `server.ts` starts it (and the sandbox provider); tests
 * import `createApp()` directly.
 */
export interface DemoAppOptions {
  /** The provider's issuer URL. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Public origin of the app, e.g. `http://127.0.0.1:3000`. */
  readonly baseUrl: string;
  readonly sessionSecret: string;
  /** Scopes to ask for. Default is `'openid profile email accounts:read'`. */
  readonly scope?: string;
  /** Resource indicator and audience of the accounts API. Default is `<baseUrl>/api`. */
  readonly apiAudience?: string;
  /** How the pages name the provider. Default is the issuer's host. */
  readonly providerName?: string;
  /** Running against the embedded sandbox: the pages show its hints. Default is `false`. */
  readonly sandbox?: boolean;
  /** Session store. Default is express-session's MemoryStore, fine for a demo, not for production. */
  readonly sessionStore?: Store;
  /** Receives server-side failures (5xx) with their stack and cause. Default is `console.error`. */
  readonly logError?: (err: unknown) => void;
  /** The `acr` a payment needs (page and API). Default is `'urn:openbanking:psd2:sca'`, Sandbox Bank's Strong Customer Authentication. */
  readonly paymentAcr?: string;
  /** Seconds: how recent the authentication behind a payment must be, for the demo API. Default is `300`, as for the payment page. */
  readonly apiPaymentMaxAge?: number;
  /**
   * FAPI 2.0 mode: the app authenticates with `private_key_jwt` (its public
   * key served at `/jwks`), pushes its authorization requests, binds its
   * tokens with DPoP, and the API accepts DPoP-bound tokens only. The
   * client secret is then not used. Default: a confidential client with
   * bearer tokens.
   */
  readonly fapi?: { readonly clientPrivateKey: PrivateKeyInput; readonly dpopKey: PrivateKeyInput } | undefined;
}

/** The relyingParty() options of the client: the FAPI 2.0 ones, or the client secret. */
function clientOptions(options: DemoAppOptions): Partial<RelyingPartyOptions> {
  if (options.fapi === undefined) return { clientSecret: options.clientSecret };
  return {
    profile: 'fapi2',
    clientAuthMethod: 'private_key_jwt',
    clientPrivateKey: options.fapi.clientPrivateKey,
    dpop: true,
    dpopKey: options.fapi.dpopKey,
    // the provider reads the app's public key here (the client's jwks_uri)
    routes: { jwks: '/jwks' },
  };
}

/** A payment the user started: pending until the demo API accepts it. Kept in the session. */
export interface DemoPayment {
  readonly id: string;
  /** The `sub` of the user who started it: the session outlives a sign-out (`keepSessionData`), the payments are only theirs. */
  readonly owner: string;
  readonly payee: string;
  readonly currency: 'GBP';
  /** Two decimals: `25.00`. */
  readonly amount: string;
  receipt?: DemoPaymentReceipt;
}

declare module 'express-session' {
  interface SessionData {
    /** The demo's payments, newest last. */
    payments?: DemoPayment[];
  }
}

/** Who the demo can pay. */
export const PAYEES: readonly { id: string; name: string }[] = Object.freeze([
  { id: 'acme-energy', name: 'Acme Energy' },
  { id: 'city-water', name: 'City Water' },
  { id: 'northwind-broadband', name: 'Northwind Broadband' },
]);

/** The payment page needs an authentication at most this old (seconds). */
const PAYMENT_MAX_AGE = 300;
/** Payments kept in a session at most; the oldest go first. */
const MAX_PAYMENTS = 10;

const staticDir = fileURLToPath(new URL('./public/', import.meta.url));

/**
 * Sign out in two steps. The library's `POST /logout` signs the user out of
 * the app, then answers with a redirect to the provider's end-session page.
 * This handler, mounted before the library, turns that redirect into one to
 * the demo's own "signed out" page, which says the user left the app and
 * offers the provider's sign-out as a button. The session is gone by then
 * (a sign-out ends it), so the provider's address travels in the redirect's
 * query, without the `id_token_hint` (`client_id` identifies the app): no
 * token outlives the sign-out. The page shows it only when it points at the
 * provider.
 */
function signOutInTwoSteps(issuer: string) {
  const providerOrigin = new URL(issuer).origin;
  return function holdProviderSignOut(req: Request, res: Response, next: NextFunction): void {
    const redirect = res.redirect.bind(res) as (status: number, url: string) => void;
    const redirectToSignedOutPage = (...args: [string] | [number, string]): void => {
      const target = new URL(args.length === 1 ? args[0] : args[1], 'http://app.invalid');
      if (target.origin !== providerOrigin) return redirect(303, '/signed-out');
      target.searchParams.delete('id_token_hint');
      redirect(303, `/signed-out?${new URLSearchParams({ provider: target.href }).toString()}`);
    };
    res.redirect = redirectToSignedOutPage as Response['redirect'];
    next();
  };
}

/** The provider sign-out address from `/signed-out?provider=…`, only when it is the provider's. */
function providerSignOutUrl(value: unknown, issuer: string): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    return url.origin === new URL(issuer).origin && !url.searchParams.has('id_token_hint') ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** Builds the demo app. It does not listen: see `server.ts`. */
export function createApp(options: DemoAppOptions): Express {
  const { issuer, clientId, sessionSecret, sessionStore, logError = console.error } = options;
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const scope = options.scope ?? 'openid profile email accounts:read';
  const apiAudience = options.apiAudience ?? `${baseUrl}/api`;
  const apiUrl = `${baseUrl}/api/accounts`;
  const https = baseUrl.startsWith('https:');
  const providerName = options.providerName ?? new URL(issuer).host;
  const sandbox = options.sandbox ?? false;
  const paymentAcr = options.paymentAcr ?? 'urn:openbanking:psd2:sca';
  const paymentsUrl = `${baseUrl}/api/payments`;

  const app = express();
  app.disable('x-powered-by');

  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'"],
          // "Sign out" is a form whose POST /logout answers with a redirect to
          // the provider's end_session endpoint; browsers apply form-action to
          // that redirect too, so the provider's origin must be allowed
          formAction: ["'self'", new URL(issuer).origin],
          ...(https ? {} : { upgradeInsecureRequests: null }),
        },
      },
      // HSTS only means something over https
      strictTransportSecurity: https,
    }),
  );
  app.use('/static', express.static(staticDir, { maxAge: '1h' }));

  // The accounts API comes before the session: it is a separate resource
  // server that trusts the bearer token only, never the app's cookie.
  // In FAPI mode it accepts DPoP-bound tokens only, with a proof of their key.
  app.use(
    '/api',
    accountsApi({
      issuer,
      audience: apiAudience,
      paymentAcr,
      paymentMaxAge: options.apiPaymentMaxAge ?? PAYMENT_MAX_AGE,
      ...(options.fapi ? { dpop: { publicUrl: `${baseUrl}/api` } } : {}),
    }),
  );

  app.use(
    session({
      name: 'demo.sid',
      secret: sessionSecret,
      ...(sessionStore === undefined ? {} : { store: sessionStore }),
      resave: false,
      // no cookie until there is something to keep (a pending login)
      saveUninitialized: false,
      cookie: {
        httpOnly: true,
        // lax, not strict: the provider's redirect back to /callback is a
        // cross-site navigation and must carry the cookie of the session
        // that holds the pending login (its state, nonce and PKCE verifier)
        sameSite: 'lax',
        // behind a TLS-terminating proxy, also set app.set('trust proxy', 1)
        secure: https,
      },
    }),
  );

  app.all('/logout', signOutInTwoSteps(issuer));

  // /login, /callback and /logout, and req.auth on every request. Per login
  // the library keeps three one-time values in the session:
  // - state: the callback must carry it back, so a forged or replayed
  //   callback (login CSRF) is refused;
  // - nonce: echoed inside the ID token, so an ID token from another login
  //   cannot be replayed;
  // - the PKCE code_verifier: only its hash travels in the browser, and the
  //   token endpoint wants the verifier itself, so a code stolen from the
  //   redirect (history, logs, a malicious app on the device) is useless.
  // After the code exchange the session gets a new id: an id planted in the
  // browser before the login (session fixation) is worthless afterwards.
  app.use(
    relyingParty({
      issuer,
      clientId,
      ...clientOptions(options),
      baseUrl,
      scope,
      // RFC 8707: name the API the access token is for; the provider puts it
      // in the token's `aud`, and the API accepts nothing else
      authorizationParams: { resource: apiAudience },
      // a payment started before a step-up is still there after it (a sign-in starts a new session)
      keepSessionData: ['payments'],
    }),
  );

  function pageContext(req: Request): PageContext {
    const user = req.auth?.user;
    const name = [user?.name, user?.preferred_username, user?.sub].find((value) => typeof value === 'string');
    return { userName: typeof name === 'string' ? name : undefined, providerName, sandbox };
  }

  app.get('/', function home(req, res) {
    res.type('html').send(homePage(pageContext(req)));
  });

  app.get('/signed-out', function signedOut(req, res) {
    const providerSignOut = req.auth.isAuthenticated() ? undefined : providerSignOutUrl(req.query.provider, issuer);
    res.set('Cache-Control', 'no-store').type('html').send(signedOutPage(pageContext(req), { providerSignOut }));
  });

  // requiresAuth(): signed-out browsers go to the provider and come back here
  app.get('/profile', requiresAuth(), function profile(req, res) {
    const token = req.auth?.accessToken;
    res.type('html').send(
      profilePage(pageContext(req), {
        claims: req.auth?.user ?? {},
        accessToken: token && { type: token.type, expiresAt: token.expiresAt, scope: token.scope, expired: token.isExpired(), jkt: token.jkt },
        requestedScope: scope,
        authorizationRequest: req.auth.authorizationRequest,
      }),
    );
  });

  app.get('/accounts', requiresAuth(), async function accounts(req, res) {
    const result = await fetchAccounts(req.auth, apiUrl);
    res.status(result.ok ? 200 : result.status).type('html').send(accountsPage(pageContext(req), result));
  });

  // Payments: the form (a plain sign-in is enough), then the payment page,
  // which needs Strong Customer Authentication in the last five minutes and
  // the user's consent to this very payment (a dynamic scope). A sign-in
  // without them is stepped up: the provider asks for the one-time code and
  // the payment consent, and the browser comes back here.
  const paymentsOf = (req: Request): DemoPayment[] => (req.session.payments ?? []).filter((payment) => payment.owner === req.auth.user?.sub);
  const paymentOf = (req: Request): DemoPayment | undefined => paymentsOf(req).find((payment) => payment.id === req.params.id);

  app.get('/payments', requiresAuth(), function payments(req, res) {
    res.type('html').send(paymentsPage(pageContext(req), { payees: PAYEES, payments: paymentsOf(req).map(paymentView), maxAgeMinutes: PAYMENT_MAX_AGE / 60 }));
  });

  app.post('/payments', requiresAuth(), express.urlencoded({ extended: false, limit: '2kb' }), function startPayment(req, res) {
    const form = (req.body ?? {}) as Record<string, unknown>;
    const payee = PAYEES.find((candidate) => candidate.id === form.payee);
    const amount = typeof form.amount === 'string' ? normaliseAmount(form.amount) : undefined;
    if (payee === undefined || amount === undefined) {
      const values = { ...(typeof form.payee === 'string' ? { payee: form.payee } : {}), ...(typeof form.amount === 'string' ? { amount: form.amount } : {}) };
      const error = payee === undefined ? 'Choose someone to pay.' : 'Enter an amount between 0.01 and 10000.00, like 25.00.';
      res.status(400).type('html').send(paymentsPage(pageContext(req), { payees: PAYEES, payments: paymentsOf(req).map(paymentView), maxAgeMinutes: PAYMENT_MAX_AGE / 60, error, values }));
      return;
    }
    const payment: DemoPayment = { id: randomBytes(12).toString('base64url'), owner: String(req.auth.user?.sub), payee: payee.id, currency: 'GBP', amount };
    req.session.payments = [...paymentsOf(req), payment].slice(-MAX_PAYMENTS);
    res.redirect(303, `/payments/${payment.id}/pay`);
  });

  app.get(
    '/payments/:id/pay',
    requiresAuth({
      acr: paymentAcr,
      maxAge: PAYMENT_MAX_AGE,
      // the dynamic scope: consent to this payment, `payments:acme-energy:GBP:25.00`
      scopes: (req) => {
        const payment = paymentOf(req);
        return payment === undefined || payment.receipt !== undefined ? [] : [paymentScope(payment)];
      },
    }),
    async function pay(req, res) {
      const payment = paymentOf(req);
      if (payment === undefined) return notFound(req, res);
      if (payment.receipt === undefined) {
        const result = await sendPayment(req.auth, paymentsUrl, payment);
        // the API itself asked for a stronger or fresher sign-in (RFC 9470): step up with what it asked,
        // and this payment's consent again (a step-up replaces the tokens, and comes back here)
        if (result.kind === 'step_up') return req.auth.login({ ...result.stepUp, scope: paymentScope(payment) });
        if (result.kind === 'failed') {
          res.status(result.status).type('html').send(paymentPage(pageContext(req), { payment: paymentView(payment), apiUrl: paymentsUrl, problem: result }));
          return;
        }
        payment.receipt = result.receipt;
      }
      res.redirect(303, `/payments/${payment.id}`);
    },
  );

  app.get('/payments/:id', requiresAuth(), function showPayment(req, res) {
    const payment = paymentOf(req);
    if (payment === undefined) return notFound(req, res);
    res.type('html').send(paymentPage(pageContext(req), { payment: paymentView(payment), apiUrl: paymentsUrl }));
  });

  app.use(notFound);
  function notFound(req: Request, res: Response): void {
    res.status(404).type('html').send(
      errorPage(pageContext(req), {
        status: 404,
        title: 'Page not found',
        message: 'There is no page at this address.',
        code: 'not_found',
        retry: false,
      }),
    );
  }

  // The library never renders errors: a failed login reaches this handler
  // as a RelyingPartyError. Its `code` says what happened, its `status` what
  // to answer; the stack and the cause go to the log, never to the browser.
  app.use(function errorHandler(err: unknown, req: Request, res: Response, next: NextFunction) {
    if (res.headersSent) return next(err);
    // Back after signing in replays the callback: its login is complete and
    // this browser is signed in, so there is nothing to report
    if (err instanceof RelyingPartyError && err.code === 'state_unknown' && req.auth?.isAuthenticated()) {
      res.redirect(303, '/');
      return;
    }
    const page = describeError(err, providerName);
    if (page.status >= 500) logError(err);
    res.status(page.status).type('html').send(errorPage(pageContext(req), page));
  });

  return app;
}

interface ErrorCopy {
  readonly title: string;
  readonly message: string;
  readonly retry: boolean;
}

/** What the user reads for each RelyingPartyError code; `{provider}` is replaced by the provider's name. */
const errorCopy: Readonly<Record<string, ErrorCopy>> = {
  access_denied: {
    title: 'Sign-in was cancelled',
    message: 'You declined the request at {provider} (or its policy refused it), so nothing was shared with this app.',
    retry: true,
  },
  login_expired: {
    title: 'The sign-in took too long',
    message: 'A sign-in has to be finished within a few minutes. Please start again.',
    retry: true,
  },
  state_unknown: {
    title: 'This sign-in is no longer valid',
    message: 'It was already completed, started in another browser, or your session expired. Please start again.',
    retry: true,
  },
  state_missing: {
    title: 'This sign-in is no longer valid',
    message: 'The answer from {provider} was incomplete. Please start again.',
    retry: true,
  },
  authorization_error: {
    title: 'Sign-in could not be completed',
    message: '{provider} could not process the sign-in request. Please try again.',
    retry: true,
  },
  callback_invalid: {
    title: 'Sign-in could not be completed',
    message: 'The answer from {provider} did not pass the app’s security checks. Please sign in again.',
    retry: true,
  },
  token_request_rejected: {
    title: 'Sign-in could not be completed',
    message: '{provider} refused the one-time sign-in code: it expired or was already used. Please sign in again.',
    retry: true,
  },
  id_token_invalid: {
    title: 'Sign-in could not be completed',
    message: 'The identity token from {provider} did not pass the app’s security checks. Please sign in again.',
    retry: true,
  },
  provider_unreachable: {
    title: 'The sign-in service is not reachable',
    message: '{provider} cannot be reached right now. Please try again in a moment.',
    retry: true,
  },
  provider_timeout: {
    title: 'The sign-in service is not answering',
    message: '{provider} took too long to answer. Please try again in a moment.',
    retry: true,
  },
  provider_error: {
    title: 'The sign-in service has a problem',
    message: '{provider} answered with an error. Please try again in a moment.',
    retry: true,
  },
  provider_response_too_large: {
    title: 'The sign-in service has a problem',
    message: '{provider} sent an unexpected answer. Please try again in a moment.',
    retry: true,
  },
  session_store_error: {
    title: 'Temporarily unavailable',
    message: 'The app could not store your session. Please try again in a moment.',
    retry: true,
  },
  acr_not_satisfied: {
    title: 'A stronger sign-in is needed',
    message: '{provider} did not confirm your sign-in as strongly as this page needs (with your one-time code), so nothing was done. Please try again.',
    retry: true,
  },
  max_age_not_satisfied: {
    title: 'A recent sign-in is needed',
    message: '{provider} did not confirm that you signed in recently enough for this page, so nothing was done. Please try again.',
    retry: true,
  },
  scope_not_granted: {
    title: 'Not approved',
    message: 'You did not approve everything this page needs at {provider} (for a payment: the payment itself), so nothing was done.',
    retry: true,
  },
  step_up_user_mismatch: {
    title: 'Signed in as someone else',
    message: 'At {provider} you confirmed as another user than the one signed in here, so you were signed out of this app. Please sign in again.',
    retry: true,
  },
  step_up_failed: {
    title: 'This page cannot be opened now',
    message: 'Your sign-in was confirmed at {provider} moments ago, yet this page still needs more than it gave. Please try again later.',
    retry: false,
  },
  forbidden: {
    title: 'You do not have access',
    message: 'Your account cannot open this page.',
    retry: false,
  },
};

const misconfigured: ErrorCopy = {
  title: 'This app is misconfigured',
  message: 'The app cannot sign you in because of a problem on our side. The details are in the server log.',
  retry: false,
};

/** Turns any error into what the error page shows; only the status is taken from the error. */
export function describeError(err: unknown, providerName: string): ErrorCopy & { status: number; code: string } {
  if (err instanceof RelyingPartyError) {
    const copy = errorCopy[err.code] ?? misconfigured;
    return { ...copy, message: copy.message.replaceAll('{provider}', providerName), status: err.status, code: err.code };
  }
  // errors of other middleware (a malformed request body, an unavailable
  // session store, …) may carry a status and a code of their own
  const { status: rawStatus, code: rawCode } = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  const status = typeof rawStatus === 'number' && rawStatus >= 400 && rawStatus <= 599 ? rawStatus : 500;
  const fallbackCode = status < 500 ? 'bad_request' : 'server_error';
  const code = typeof rawCode === 'string' && /^[a-z][a-z0-9_]*$/.test(rawCode) ? rawCode : fallbackCode;
  if (status < 500) {
    return { title: 'Bad request', message: 'The app could not understand this request.', retry: false, status, code };
  }
  if (status === 503) {
    return { title: 'Temporarily unavailable', message: 'The app cannot serve this page right now. Please try again in a moment.', retry: false, status, code };
  }
  return {
    title: 'Something went wrong',
    message: 'An unexpected error happened on our side. Please try again later.',
    retry: false,
    status,
    code,
  };
}

/** `25` → `25.00`, `1,000.5` → `1000.50`; `undefined` unless between 0.01 and 10000.00. */
function normaliseAmount(input: string): string | undefined {
  const text = input.trim().replace(/^£/, '').replace(/,/g, '');
  if (!/^\d{1,5}(?:\.\d{1,2})?$/.test(text)) return undefined;
  const pence = Math.round(Number(text) * 100);
  return pence >= 1 && pence <= 1_000_000 ? (pence / 100).toFixed(2) : undefined;
}

function paymentView(payment: DemoPayment): PaymentView {
  const payee = PAYEES.find((candidate) => candidate.id === payment.payee)?.name ?? payment.payee;
  const amountText = new Intl.NumberFormat('en-GB', { style: 'currency', currency: payment.currency }).format(Number(payment.amount));
  return { id: payment.id, payeeName: payee, amountText, scope: paymentScope(payment), reference: payment.receipt?.id };
}

function isReceipt(value: unknown, payment: DemoPayment): value is DemoPaymentReceipt {
  if (typeof value !== 'object' || value === null) return false;
  const { id, payee, currency, amount, status } = value as Record<string, unknown>;
  return typeof id === 'string' && payee === payment.payee && currency === payment.currency && amount === payment.amount && status === 'accepted';
}

type PaymentResult =
  | { readonly kind: 'sent'; readonly receipt: DemoPaymentReceipt }
  | { readonly kind: 'step_up'; readonly stepUp: StepUpChallenge | undefined }
  | { readonly kind: 'failed'; readonly status: number; readonly title: string; readonly message: string };

/**
 * Sends the payment to the demo API with the access token. The API may
 * answer 401 with an RFC 9470 challenge (it wants a stronger or fresher
 * authentication than the token shows): `req.auth.fetch()` rejects with
 * `step_up_required`, carrying what it asked for, and the page steps up.
 */
async function sendPayment(auth: Request['auth'], url: string, payment: DemoPayment): Promise<PaymentResult> {
  const unavailable = { kind: 'failed', status: 502, title: 'The payments API is not available', message: 'The payment was not sent. Please try again in a moment.' } as const;
  let response: globalThis.Response;
  try {
    response = await auth.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ payee: payment.payee, currency: payment.currency, amount: payment.amount }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    if (err instanceof RelyingPartyError && err.code === 'step_up_required') return { kind: 'step_up', stepUp: err.stepUp };
    if (err instanceof RelyingPartyError && err.status === 401) {
      return { kind: 'failed', status: 401, title: 'Your access has ended', message: 'The provider no longer accepts this sign-in. Sign in again.' };
    }
    return unavailable;
  }
  if (response.status === 403) {
    return { kind: 'failed', status: 403, title: 'The API did not accept the payment', message: `It answered: ${response.headers.get('www-authenticate') ?? '403'}.` };
  }
  const body: unknown = response.status === 201 ? await response.json().catch(() => undefined) : undefined;
  return isReceipt(body, payment) ? { kind: 'sent', receipt: body } : unavailable;
}

function isDemoAccount(value: unknown): value is DemoAccount {
  if (typeof value !== 'object' || value === null) return false;
  const { id, name, iban, currency, balanceMinor } = value as Record<string, unknown>;
  return (
    typeof id === 'string' &&
    typeof name === 'string' &&
    typeof iban === 'string' &&
    typeof currency === 'string' &&
    typeof balanceMinor === 'number'
  );
}

/**
 * The last two steps of the flow: call the API with the access token, get
 * the data back. The token travels only from this server to the API, never
 * through the browser.
 */
async function fetchAccounts(auth: Request['auth'], apiUrl: string): Promise<AccountsResult> {
  const signInAgain = (status: number, title: string, message: string): AccountsResult => ({ ok: false, status, title, message, signInAgain: true });
  const unavailable: AccountsResult = {
    ok: false,
    status: 502,
    title: 'The accounts API is not available',
    message: 'The app could not get your accounts from the API. Please try again in a moment.',
    signInAgain: false,
  };
  if (auth.accessToken === undefined) return signInAgain(403, 'No access token', 'The provider issued no access token for the API.');

  // req.auth.fetch() adds `Authorization: Bearer <access token>`; an access
  // token that expired (they live 10 minutes here) is renewed first with the
  // refresh token, and an API that still says invalid_token gets one retry
  let response: globalThis.Response;
  try {
    response = await auth.fetch(apiUrl, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5000) });
  } catch (err) {
    if (err instanceof RelyingPartyError && err.status === 401) {
      return signInAgain(401, 'Your access has ended', 'The provider no longer accepts this sign-in. Sign in again.');
    }
    return unavailable;
  }
  if (response.status === 401) {
    return signInAgain(401, 'The API did not accept the access token', `It answered: ${response.headers.get('www-authenticate') ?? '401'}. Sign in again to get a new token.`);
  }
  if (response.status === 403) {
    return signInAgain(403, 'The API needs a permission you did not grant', `It answered: ${response.headers.get('www-authenticate') ?? '403'}.`);
  }
  if (!response.ok) return unavailable;
  const body: unknown = await response.json().catch(() => undefined);
  const { owner, accounts } = (body ?? {}) as Record<string, unknown>;
  if (typeof owner !== 'string' || !Array.isArray(accounts) || !accounts.every(isDemoAccount)) return unavailable;
  return { ok: true, owner, accounts, apiUrl };
}

// `tsx example-app/app.ts` works like `npm start`; importing this module never listens.
// Not awaited: server.ts imports this module, which must finish loading first.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void import('./server.js').then(({ main }) => main());
}
