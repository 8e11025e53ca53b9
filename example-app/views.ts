import { documentOf, html } from './html.js';
import type { Html } from './html.js';
import type { DemoAccount } from './api.js';

/**
 * The demo app's pages. Plain functions returning HTML strings: the point
 * of the demo is the sign-in flow, not a template engine. Nothing here ever
 * prints a token: the profile shows the *claims* of the ID token and the
 * access token's metadata, never the tokens themselves.
 */

const APP_NAME = 'Relying Party Demo';

/** What the pages need to know about the visitor and the setup. */
export interface PageContext {
  /** Display name of the signed-in user; `undefined` when signed out. */
  readonly userName: string | undefined;
  /** Name of the provider, e.g. "Sandbox Bank" or the issuer's host. */
  readonly providerName: string;
  /** True when running against the embedded sandbox. */
  readonly sandbox: boolean;
}

function layout(ctx: PageContext, title: string, content: Html): string {
  const signedIn = ctx.userName !== undefined;
  return documentOf(html`<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${title} – ${APP_NAME}</title>
    <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
    <link rel="stylesheet" href="/static/app.css">
  </head>
  <body>
    <a class="skip-link" href="#main">Skip to content</a>
    <header class="site-header">
      <a class="brand" href="/">${APP_NAME}</a>
      <nav aria-label="Main">
        <ul>
          <li><a href="/">Home</a></li>
          <li><a href="/profile">Profile</a></li>
          <li><a href="/accounts">Accounts</a></li>
          <li><a href="/payments">Payments</a></li>
        </ul>
      </nav>
      <div class="session">
        ${
          signedIn
            ? html`<span class="who">Signed in as <strong>${ctx.userName}</strong></span>
              <form method="post" action="/logout"><button type="submit" class="link-button">Sign out</button></form>`
            : html`<a class="button small" href="/login">Sign in</a>`
        }
      </div>
    </header>
    <main id="main">
      ${content}
    </main>
    <footer class="site-footer">
      <p>An <a href="https://openid.net/specs/openid-connect-core-1_0.html">OpenID Connect</a> relying party built with
        <code>express-relying-party</code>. Provider: ${ctx.providerName}${ctx.sandbox ? ' (sandbox on your machine)' : ''}.</p>
    </footer>
  </body>
</html>`);
}

/** `/`: what the demo shows, and a sign-in button (or a greeting). */
export function homePage(ctx: PageContext): string {
  if (ctx.userName !== undefined) {
    return layout(
      ctx,
      'Home',
      html`<section class="hero">
        <h1>Hello, ${ctx.userName}!</h1>
        <p>You are signed in with ${ctx.providerName}. The app keeps your tokens in its server-side session; your browser only holds a session cookie.</p>
        <p class="actions">
          <a class="button" href="/profile">See your profile</a>
          <a class="button secondary" href="/accounts">See your accounts</a>
          <a class="button secondary" href="/payments">Make a payment</a>
        </p>
      </section>`,
    );
  }
  return layout(
    ctx,
    'Home',
    html`<section class="hero">
      <h1>Sign in with OpenID Connect</h1>
      <p>This app is an OpenID Connect <em>relying party</em>: it lets ${ctx.providerName} sign you in, then calls an API on
        your behalf with the access token it received. Click through the whole authorization code flow:</p>
      <ol class="flow">
        <li>The app sends your browser to ${ctx.providerName} with a <code>state</code>, a <code>nonce</code> and a PKCE
          <code>code_challenge</code>.</li>
        <li>You sign in, approve what the app asks for, and confirm with Strong Customer Authentication.</li>
        <li>${ctx.providerName} sends you back to <code>/callback</code> with a one-time authorization code.</li>
        <li>The app exchanges the code, its PKCE verifier and its client secret for tokens, and checks the ID token.</li>
        <li>The app calls the accounts API with the access token; the API verifies it and returns your data.</li>
      </ol>
      ${
        ctx.sandbox
          ? html`<p class="note">Sandbox: any username and password work. On the one-time code page, leave the field empty
              or type any 6 digits.</p>`
          : ''
      }
      <p class="actions"><a class="button" href="/login">Sign in</a></p>
    </section>`,
  );
}

const claimLabels: Readonly<Record<string, string>> = {
  sub: 'Subject: your stable, opaque id at the provider',
  name: 'Name',
  preferred_username: 'Username',
  email: 'Email address',
  email_verified: 'Whether the provider verified the email address',
  acr: 'Authentication context class: how strongly you authenticated',
  amr: 'Authentication methods used',
  auth_time: 'When you authenticated at the provider',
  iss: 'Issuer: who signed this ID token',
  aud: 'Audience: the app it was issued to (our client id)',
  azp: 'Authorized party',
  iat: 'When the ID token was issued',
  exp: 'When the ID token expires',
  nonce: 'Nonce: ties the token to this very login',
  sid: 'Your session id at the provider',
  at_hash: 'Hash binding the ID token to the access token',
};

const claimOrder = Object.keys(claimLabels);
const timeClaims = new Set(['iat', 'exp', 'auth_time', 'nbf', 'updated_at']);

const acrMeanings: Readonly<Record<string, string>> = {
  'urn:openbanking:psd2:sca': 'Strong Customer Authentication: two factors',
  'urn:openbanking:psd2:ca': 'Customer authentication: one factor only',
};

const amrMeanings: Readonly<Record<string, string>> = {
  pwd: 'password',
  otp: 'one-time code',
  mfa: 'multiple factors',
  sms: 'code by SMS',
  hwk: 'hardware key',
  swk: 'software key',
  fpt: 'fingerprint',
  face: 'face recognition',
};

/** `12:03:04 UTC, 22 Nov 2025 (in 59 minutes)` for epoch seconds. */
export function describeTime(epochSeconds: number, now = Date.now()): string {
  const date = new Date(epochSeconds * 1000);
  const absolute = `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  const minutes = Math.round((epochSeconds * 1000 - now) / 60_000);
  let relative: string;
  if (minutes === 0) relative = 'now';
  else if (Math.abs(minutes) < 120) relative = minutes > 0 ? `in ${minutes} min` : `${-minutes} min ago`;
  else relative = minutes > 0 ? `in ${Math.round(minutes / 60)} h` : `${Math.round(-minutes / 60)} h ago`;
  return `${absolute} (${relative})`;
}

function claimValue(name: string, value: unknown): Html {
  if (timeClaims.has(name) && typeof value === 'number') return html`${describeTime(value)}`;
  if (name === 'acr' && typeof value === 'string') {
    const meaning = acrMeanings[value];
    return html`<code>${value}</code>${meaning === undefined ? '' : html`<br><span class="muted">${meaning}</span>`}`;
  }
  if (name === 'amr' && Array.isArray(value)) {
    return html`${value.map((method) => html`<code>${String(method)}</code> `)}<br><span class="muted">${value
      .map((method) => amrMeanings[String(method)] ?? String(method))
      .join(' + ')}</span>`;
  }
  if (typeof value === 'boolean') return html`${value ? 'yes' : 'no'}`;
  if (typeof value === 'string' || typeof value === 'number') return html`${String(value)}`;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return html`${value.join(', ')}`;
  return html`<code>${JSON.stringify(value)}</code>`;
}

/** What the profile page shows about the access token: metadata only, never its value. */
export interface AccessTokenSummary {
  readonly type: string;
  readonly expiresAt: number | undefined;
  readonly scope: string | undefined;
  readonly expired: boolean;
  /** RFC 7638 thumbprint of the DPoP key a bound token is tied to. */
  readonly jkt: string | undefined;
}

/** How the sign-in's authorization request went to the provider. */
export interface AuthorizationRequestSummary {
  readonly pushed: boolean;
  readonly signed: boolean;
}

function describeRequest(request: AuthorizationRequestSummary | undefined): string {
  if (request === undefined) return 'not recorded';
  if (request.pushed) return `pushed by the app to the provider first (PAR)${request.signed ? ', as a signed request object' : ''}; the browser carried only a reference to it`;
  return request.signed ? 'a signed request object, in the browser URL' : 'in the browser URL (no PAR)';
}

/** `/profile`: the ID token claims, the token expiry and the scopes granted. */
export function profilePage(
  ctx: PageContext,
  args: { claims: Record<string, unknown>; accessToken: AccessTokenSummary | undefined; requestedScope: string; authorizationRequest?: AuthorizationRequestSummary | undefined },
): string {
  const { claims, accessToken, requestedScope, authorizationRequest } = args;
  const names = Object.keys(claims).sort((a, b) => {
    const rank = (name: string) => (claimOrder.includes(name) ? claimOrder.indexOf(name) : claimOrder.length);
    return rank(a) - rank(b) || a.localeCompare(b);
  });
  const granted = accessToken?.scope?.split(' ').filter((scope) => scope !== '') ?? [];
  return layout(
    ctx,
    'Profile',
    html`<h1>Your profile</h1>
      <p>These are the claims of the ID token ${ctx.providerName} issued at sign-in, after the app verified its signature,
        issuer, audience, expiry and nonce. The tokens themselves stay on the server.</p>
      <table class="claims">
        <caption>ID token claims</caption>
        <thead><tr><th scope="col">Claim</th><th scope="col">Value</th></tr></thead>
        <tbody>
          ${names.map(
            (name) => html`<tr>
              <th scope="row"><code>${name}</code>${claimLabels[name] === undefined ? '' : html`<span class="claim-label">${claimLabels[name]}</span>`}</th>
              <td>${claimValue(name, claims[name])}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <h2>Access token</h2>
      ${
        accessToken === undefined
          ? html`<p>The provider issued no access token.</p>`
          : html`<dl class="facts">
              <dt>Type</dt><dd>${accessToken.type}</dd>
              <dt>Bound to</dt><dd>${
                accessToken.jkt === undefined
                  ? 'nothing: a bearer token, usable by whoever holds it'
                  : html`DPoP, key thumbprint <code>${accessToken.jkt}</code>: useless without the app’s private key`
              }</dd>
              <dt>Sign-in request</dt><dd>${describeRequest(authorizationRequest)}</dd>
              <dt>Expires</dt><dd>${accessToken.expiresAt === undefined ? 'not stated by the provider' : describeTime(accessToken.expiresAt)}${
                accessToken.expired ? html` <strong class="warning">expired</strong>` : ''
              }</dd>
              <dt>Scopes granted</dt><dd>${granted.length === 0 ? 'not stated by the provider' : granted.map((scope) => html`<code class="chip">${scope}</code> `)}</dd>
              <dt>Scopes requested</dt><dd>${requestedScope.split(' ').map((scope) => html`<code class="chip">${scope}</code> `)}</dd>
            </dl>
            <p class="muted">The OpenID scopes (<code>openid</code>, <code>profile</code>, <code>email</code>) decide which claims are
              in the ID token above; the access token carries the API's scopes.</p>`
      }`,
  );
}

/** What the accounts page shows: the API's data, or why there is none. */
export type AccountsResult =
  | { readonly ok: true; readonly owner: string; readonly accounts: readonly DemoAccount[]; readonly apiUrl: string }
  | { readonly ok: false; readonly status: number; readonly title: string; readonly message: string; readonly signInAgain: boolean };

function money(minor: number, currency: string): string {
  return new Intl.NumberFormat('en-GB', { style: 'currency', currency }).format(minor / 100);
}

/** `/accounts`: data from the demo API, fetched with the access token. */
export function accountsPage(ctx: PageContext, result: AccountsResult): string {
  if (!result.ok) {
    return layout(
      ctx,
      'Accounts',
      html`<h1>Your accounts</h1>
        <div class="alert" role="alert"><h2>${result.title}</h2><p>${result.message}</p></div>
        ${result.signInAgain ? html`<p class="actions"><a class="button" href="/login?returnTo=/accounts">Sign in again</a></p>` : ''}`,
    );
  }
  return layout(
    ctx,
    'Accounts',
    html`<h1>Your accounts</h1>
      <table class="accounts">
        <caption>Returned by the accounts API for <code>${result.owner}</code></caption>
        <thead><tr><th scope="col">Account</th><th scope="col">IBAN</th><th scope="col" class="number">Balance</th></tr></thead>
        <tbody>
          ${result.accounts.map(
            (account) => html`<tr>
              <th scope="row">${account.name}</th>
              <td><code>${account.iban}</code></td>
              <td class="number">${money(account.balanceMinor, account.currency)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <h2>How this page got its data</h2>
      <ol class="flow">
        <li>The app took the access token from your session on the server.</li>
        <li>It called <code>GET ${result.apiUrl}</code> with <code>Authorization: Bearer …</code>.</li>
        <li>The API verified the token on its own: signature (with the provider's published keys), issuer, audience,
          expiry, and the <code>accounts:read</code> scope.</li>
        <li>The API returned the accounts of the token's subject, which the app shows here.</li>
      </ol>`,
  );
}

/** `/signed-out`: the app's session has ended; the provider's sign-out is offered as a second step. */
export function signedOutPage(ctx: PageContext, args: { providerSignOut: string | undefined }): string {
  const { providerSignOut } = args;
  return layout(
    ctx,
    'Signed out',
    html`<section class="hero">
      <h1>You are signed out of ${APP_NAME}</h1>
      <p>The app ended your session and no longer holds your tokens.</p>
      ${
        providerSignOut === undefined
          ? html`<p class="actions"><a class="button" href="/">Back to the home page</a></p>`
          : html`<h2>You may still be signed in at ${ctx.providerName}</h2>
            <p>While you are, signing in to this app again will not ask for your password. On a shared computer, sign out
              there too.</p>
            <p class="actions">
              <a class="button" href="${providerSignOut}">Sign out of ${ctx.providerName} too</a>
              <a class="button secondary" href="/">Back to the home page</a>
            </p>`
      }
    </section>`,
  );
}

/** A friendly error page: what happened, what to do, and the code for support. No stack trace, ever. */
export function errorPage(ctx: PageContext, args: { status: number; title: string; message: string; code: string; retry: boolean }): string {
  const { status, title, message, code, retry } = args;
  return layout(
    ctx,
    title,
    html`<section class="error">
      <h1>${title}</h1>
      <p>${message}</p>
      <p class="actions">
        ${retry ? html`<a class="button" href="/login">Try signing in again</a>` : ''}
        <a class="button ${retry ? 'secondary' : ''}" href="/">Back to the home page</a>
      </p>
      <p class="muted">Error code <code>${code}</code> · HTTP ${status}</p>
    </section>`,
  );
}

/** A payment as the pages show it. */
export interface PaymentView {
  readonly id: string;
  /** "Acme Energy" */
  readonly payeeName: string;
  /** "£25.00" */
  readonly amountText: string;
  /** The scope that asks for consent to it, e.g. `payments:acme-energy:GBP:25.00`. */
  readonly scope: string;
  /** The API's receipt id, once it accepted the payment. */
  readonly reference: string | undefined;
}

/** `/payments`: the form that starts a payment, and the payments made so far. */
export function paymentsPage(
  ctx: PageContext,
  args: { payees: readonly { id: string; name: string }[]; payments: readonly PaymentView[]; maxAgeMinutes: number; error?: string; values?: { payee?: string; amount?: string } },
): string {
  const { payees, payments, maxAgeMinutes, error, values = {} } = args;
  return layout(
    ctx,
    'Payments',
    html`<h1>Make a payment</h1>
      <p>A payment needs more than the sign-in you have: Strong Customer Authentication (your one-time code) within the last
        ${maxAgeMinutes} minutes, and your consent to this very payment at ${ctx.providerName}. The payment page asks for both
        when it needs them: it is guarded by <code>requiresAuth({ acr, maxAge, scopes })</code>, which steps your sign-in up.</p>
      ${error === undefined ? '' : html`<div class="alert" role="alert" id="form-error"><p>${error}</p></div>`}
      <form method="post" action="/payments" class="form">
        <label for="payee">Pay to</label>
        <select id="payee" name="payee">
          ${payees.map((payee) => html`<option value="${payee.id}"${payee.id === values.payee ? html` selected` : ''}>${payee.name}</option>`)}
        </select>
        <label for="amount">Amount in pounds</label>
        <input id="amount" name="amount" type="text" inputmode="decimal" required value="${values.amount ?? '25.00'}"${
          error === undefined ? '' : html` aria-invalid="true" aria-describedby="form-error"`
        }>
        <button type="submit">Continue to pay</button>
      </form>
      ${
        payments.length === 0
          ? ''
          : html`<h2>Your payments</h2>
            <table class="payments">
              <thead><tr><th scope="col">To</th><th scope="col" class="number">Amount</th><th scope="col">Status</th></tr></thead>
              <tbody>
                ${payments.map(
                  (payment) => html`<tr>
                    <th scope="row"><a href="/payments/${payment.id}">${payment.payeeName}</a></th>
                    <td class="number">${payment.amountText}</td>
                    <td>${payment.reference === undefined ? 'not sent' : 'sent'}</td>
                  </tr>`,
                )}
              </tbody>
            </table>`
      }`,
  );
}

/** `/payments/:id`: one payment, sent (with the API's receipt) or not yet. */
export function paymentPage(ctx: PageContext, args: { payment: PaymentView; apiUrl: string; problem?: { title: string; message: string } }): string {
  const { payment, apiUrl, problem } = args;
  const sent = payment.reference !== undefined;
  return layout(
    ctx,
    sent ? 'Payment sent' : 'Payment not sent',
    html`<h1>${sent ? 'Payment sent' : 'Payment not sent yet'}</h1>
      ${problem === undefined ? '' : html`<div class="alert" role="alert"><h2>${problem.title}</h2><p>${problem.message}</p></div>`}
      <dl class="facts">
        <dt>To</dt><dd>${payment.payeeName}</dd>
        <dt>Amount</dt><dd>${payment.amountText}</dd>
        <dt>Consent</dt><dd><code>${payment.scope}</code></dd>
        ${sent ? html`<dt>Reference</dt><dd><code>${payment.reference}</code></dd>` : ''}
      </dl>
      ${
        sent
          ? html`<h2>How this payment was made</h2>
            <ol class="flow">
              <li>The payment page needs Strong Customer Authentication in the last few minutes and the consent
                <code>${payment.scope}</code>: the app sent you to ${ctx.providerName} with <code>acr_values</code>,
                <code>max_age</code> and that scope.</li>
              <li>You approved the payment and confirmed it with your one-time code (or had just done so).</li>
              <li>The app checked the new ID token (its <code>acr</code> and <code>auth_time</code>, the same user) and the
                granted scope before using the new tokens.</li>
              <li>It called <code>POST ${apiUrl}</code> with the access token. The API checked the token's <code>acr</code>,
                <code>auth_time</code> and scope itself: without them it answers with a step-up challenge (RFC 9470) or
                <code>insufficient_scope</code>.</li>
            </ol>
            <p class="actions"><a class="button" href="/payments">Make another payment</a></p>`
          : html`<p class="actions"><a class="button" href="/payments/${payment.id}/pay">Pay now</a>
              <a class="button secondary" href="/payments">Back to payments</a></p>`
      }`,
  );
}
