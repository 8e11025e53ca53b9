import { Html, documentOf, html } from '../html.js';

/**
 * The sandbox provider's pages. They stand for the bank's own pages: the
 * relying party never sees the password or the one-time code, only the
 * outcome, in the ID token.
 */

export const BANK_NAME = 'Sandbox Bank';
const ASSETS = '/sandbox-assets';

const steps = ['Sign in', 'Consent', 'Confirm'] as const;
type Step = (typeof steps)[number];

function progress(current: Step): Html {
  return html`<ol class="steps" aria-label="Progress">
      ${steps.map((step, i) =>
        step === current
          ? html`<li aria-current="step"><span class="step-number">${i + 1}</span> ${step}</li>`
          : html`<li><span class="step-number">${i + 1}</span> ${step}</li>`,
      )}
    </ol>`;
}

function page(title: string, content: Html, step?: Step): string {
  return documentOf(html`<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="robots" content="noindex">
    <title>${title} – ${BANK_NAME}</title>
    <link rel="icon" href="${ASSETS}/favicon.svg" type="image/svg+xml">
    <link rel="stylesheet" href="${ASSETS}/sandbox.css">
  </head>
  <body>
    <header class="bank-header">
      <span class="bank-logo" aria-hidden="true">SB</span>
      <span class="bank-name">${BANK_NAME}</span>
      <span class="badge">Sandbox – test provider</span>
    </header>
    <main class="card">
      ${step === undefined ? '' : progress(step)}
      ${content}
    </main>
    <footer class="bank-footer">
      <p>This OpenID provider runs on your machine for the express-relying-party demo. Nothing you enter is checked or stored beyond this process.</p>
    </footer>
  </body>
</html>`);
}

function errorBox(message: string | undefined): Html {
  return message === undefined
    ? html``
    : html`<div class="alert" role="alert" id="form-error"><strong>Please check:</strong> ${message}</div>`;
}

/** Step 1: the login form. Any username and password are accepted. */
export function loginPage(args: { uid: string; clientName: string; username?: string; error?: string }): string {
  const { uid, clientName, username = '', error } = args;
  return page(
    'Sign in',
    html`<h1>Sign in to ${BANK_NAME}</h1>
      <p><strong>${clientName}</strong> wants you to sign in with your ${BANK_NAME} account.</p>
      <p class="hint">Sandbox: any username and password work. The username becomes your name in the demo.</p>
      ${errorBox(error)}
      <form method="post" action="/interaction/${uid}/login" class="form">
        <label for="username">Username</label>
        <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false"
          required autofocus value="${username}"${error === undefined ? '' : html` aria-invalid="true" aria-describedby="form-error"`}>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <button type="submit" class="primary">Sign in</button>
      </form>`,
    'Sign in',
  );
}

/** A requested scope, described the way a bank would put it to its customer. */
export interface ScopeDescription {
  readonly scope: string;
  readonly text: string;
}

/** Step 2: what the app asks for, with Approve / Deny. */
export function consentPage(args: {
  uid: string;
  clientName: string;
  username: string;
  scopes: readonly ScopeDescription[];
  resource: string | undefined;
}): string {
  const { uid, clientName, username, scopes, resource } = args;
  return page(
    'Consent',
    html`<h1>Allow ${clientName} to access your data?</h1>
      <p>Signed in as <strong>${username}</strong>.</p>
      <h2>${clientName} is asking to</h2>
      <ul class="scopes">
        ${scopes.map(({ scope, text }) => html`<li>${text} <code>${scope}</code></li>`)}
      </ul>
      ${resource === undefined ? '' : html`<p class="hint">The access token will be valid only for <code>${resource}</code>.</p>`}
      <p>You will confirm this with your authenticator app on the next page.</p>
      <form method="post" action="/interaction/${uid}/consent" class="actions">
        <button type="submit" name="decision" value="approve" class="primary">Approve</button>
        <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
      </form>`,
    'Consent',
  );
}

/** Step 3: Strong Customer Authentication with a one-time code. */
export function scaPage(args: { uid: string; clientName: string; error?: string }): string {
  const { uid, clientName, error } = args;
  return page(
    'Confirm it’s you',
    html`<h1>Confirm it’s you</h1>
      <p>To let <strong>${clientName}</strong> read your account data, enter the 6-digit one-time code shown in your authenticator app.</p>
      <p class="hint">Sandbox: there is no authenticator app. Leave the field empty to continue with your password only,
        or type any 6 digits to complete Strong Customer Authentication.</p>
      ${errorBox(error)}
      <form method="post" action="/interaction/${uid}/sca" class="form">
        <label for="otp">One-time code <span class="optional">(optional in the sandbox)</span></label>
        <input id="otp" name="otp" type="text" inputmode="numeric" autocomplete="one-time-code" class="otp" size="8"
          aria-describedby="otp-help${error === undefined ? '' : ' form-error'}"${error === undefined ? '' : html` aria-invalid="true"`}>
        <p id="otp-help" class="field-help">6 digits, for example 123456.</p>
        <button type="submit" class="primary">Confirm</button>
      </form>`,
    'Confirm',
  );
}

/** oidc-provider's RP-initiated logout confirmation; `form` is its hidden form carrying the anti-CSRF token. */
export function logoutPage(form: string): string {
  return page(
    'Sign out',
    html`<h1>Sign out of ${BANK_NAME} too?</h1>
      <p>You signed out of the app, but you are still signed in at ${BANK_NAME}. If you stay signed in here, your next
        sign-in to the app goes through without asking for your password again.</p>
      ${trustedProviderMarkup(form)}
      <div class="actions">
        <button type="submit" form="op.logoutForm" name="logout" value="yes" class="primary" autofocus>Yes, sign me out</button>
        <button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>
      </div>`,
  );
}

/** Shown after logout when the app gave no `post_logout_redirect_uri`. */
export function loggedOutPage(): string {
  return page('Signed out', html`<h1>You are signed out</h1><p>You can close this window.</p>`);
}

/** Errors at the provider (expired interaction, bad authorization request, …). */
export function providerErrorPage(args: { status: number; error: string; description?: string }): string {
  const { status, error, description } = args;
  const expired = error === 'invalid_request' && /expired|not found/i.test(description ?? '');
  return page(
    'Something went wrong',
    html`<h1>${expired ? 'This sign-in request has expired' : 'Sign-in cannot continue'}</h1>
      <p>${expired ? 'Go back to the app and start signing in again.' : (description ?? 'The request could not be processed.')}</p>
      <p class="hint">Error <code>${error}</code> (HTTP ${status})</p>`,
  );
}

/** oidc-provider builds the logout form itself: trusted markup from the provider, not user input. */
function trustedProviderMarkup(markup: string): Html {
  return new Html(markup);
}
