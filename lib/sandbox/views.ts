import { Html, documentOf, html } from './html.js';

/**
 * The sandbox provider's pages. They stand for the bank's own pages: the
 * relying party never sees the password or the one-time code, only the
 * outcome, in the ID token.
 */

export const BANK_NAME = 'Sandbox Bank';

const steps = ['Sign in', 'Consent', 'Confirm'] as const;
type Step = (typeof steps)[number];

/** A requested scope, described the way a bank would put it to its customer. */
export interface ScopeDescription {
  readonly scope: string;
  readonly text: string;
  /** The scope cannot be declined (`openid`: without it there is no sign-in). */
  readonly required: boolean;
}

/** The pages of one sandbox; `basePath` is the issuer's path (`''` or e.g. `/oidc`). */
export type SandboxViews = ReturnType<typeof sandboxViews>;

/** Builds the pages for a sandbox whose issuer has the path `basePath`. */
export function sandboxViews(basePath: string) {
  const assets = `${basePath}/sandbox-assets`;
  const interactionAction = (uid: string, step: string) => `${basePath}/interaction/${uid}/${step}`;

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
    <link rel="icon" href="${assets}/favicon.svg" type="image/svg+xml">
    <link rel="stylesheet" href="${assets}/sandbox.css">
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
      <p>This OpenID provider runs on your machine for development and tests with express-relying-party. Nothing you enter is checked or stored beyond this process.</p>
    </footer>
  </body>
</html>`);
  }

  function errorBox(message: string | undefined): Html {
    return message === undefined
      ? html``
      : html`<div class="alert" role="alert" id="form-error"><strong>Please check:</strong> ${message}</div>`;
  }

  return {
    /** Step 1: the login form. Any username and password are accepted. `again`: the app asked for a recent sign-in (`max_age`). */
    loginPage(args: { uid: string; clientName: string; knownUsers: readonly string[]; username?: string; error?: string; again?: boolean }): string {
      const { uid, clientName, knownUsers, username = '', error, again = false } = args;
      return page(
        'Sign in',
        html`<h1>${again ? 'Sign in again' : html`Sign in to ${BANK_NAME}`}</h1>
      ${
        again
          ? html`<p><strong>${clientName}</strong> needs you to have signed in recently, and your last sign-in at ${BANK_NAME} was a while ago: enter your password again.</p>`
          : html`<p><strong>${clientName}</strong> wants you to sign in with your ${BANK_NAME} account.</p>`
      }
      <p class="hint">Sandbox: any username and password work. The username becomes your name in the app.${
        knownUsers.length === 0 ? '' : html` Test users: ${knownUsers.map((user, i) => html`${i === 0 ? '' : ', '}<code>${user}</code>`)}.`
      }</p>
      ${errorBox(error)}
      <form method="post" action="${interactionAction(uid, 'login')}" class="form">
        <label for="username">Username</label>
        <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false"
          required autofocus value="${username}"${error === undefined ? '' : html` aria-invalid="true" aria-describedby="form-error"`}>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <button type="submit" class="primary">Sign in</button>
      </form>`,
        'Sign in',
      );
    },

    /** Step 2: what the app asks for, each optional scope with a checkbox, and Approve / Deny. */
    consentPage(args: { uid: string; clientName: string; username: string; scopes: readonly ScopeDescription[]; resource: string | undefined }): string {
      const { uid, clientName, username, scopes, resource } = args;
      return page(
        'Consent',
        html`<h1>Allow ${clientName} to access your data?</h1>
      <p>Signed in as <strong>${username}</strong>.</p>
      <form method="post" action="${interactionAction(uid, 'consent')}">
        <fieldset class="scopes">
          <legend>${clientName} is asking to</legend>
          <ul>
            ${scopes.map(
              ({ scope, text, required }) => html`<li><label><input type="checkbox" name="scope" value="${scope}" checked${required ? ' disabled' : ''}>
              <span>${text} <code>${scope}</code>${required ? html` <span class="optional">(required)</span>` : ''}</span></label></li>`,
            )}
          </ul>
        </fieldset>
        ${resource === undefined ? '' : html`<p class="hint">The access token will be valid only for <code>${resource}</code>.</p>`}
        <p>Untick what you do not want to share. You will confirm this with your authenticator app on the next page.</p>
        <div class="actions">
          <button type="submit" name="decision" value="approve" class="primary">Approve</button>
          <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
        </div>
      </form>`,
        'Consent',
      );
    },

    /**
     * Step 3: Strong Customer Authentication with a one-time code; `required`
     * when the app asked for SCA (an empty code is then refused), `payments`
     * what the user confirms, in words.
     */
    scaPage(args: { uid: string; clientName: string; required?: boolean; payments?: readonly string[]; error?: string }): string {
      const { uid, clientName, required = false, payments = [], error } = args;
      const purpose =
        payments.length > 0
          ? html`To confirm ${payments.map((payment, i) => html`${i === 0 ? '' : ', '}<strong>${payment}</strong>`)} for <strong>${clientName}</strong>`
          : html`To let <strong>${clientName}</strong> read your account data`;
      return page(
        'Confirm it’s you',
        html`<h1>Confirm it’s you</h1>
      <p>${purpose}, enter the 6-digit one-time code shown in your authenticator app.</p>
      ${
        required
          ? html`<p class="hint">${clientName} asked for Strong Customer Authentication, so the code is required. Sandbox: there is no
              authenticator app; type any 6 digits.</p>`
          : html`<p class="hint">Sandbox: there is no authenticator app. Leave the field empty to continue with your password only,
              or type any 6 digits to complete Strong Customer Authentication.</p>`
      }
      ${errorBox(error)}
      <form method="post" action="${interactionAction(uid, 'sca')}" class="form">
        <label for="otp">One-time code <span class="optional">(${required ? 'required' : 'optional in the sandbox'})</span></label>
        <input id="otp" name="otp" type="text" inputmode="numeric" autocomplete="one-time-code" class="otp" size="8"${required ? ' required' : ''}
          aria-describedby="otp-help${error === undefined ? '' : ' form-error'}"${error === undefined ? '' : html` aria-invalid="true"`}>
        <p id="otp-help" class="field-help">6 digits, for example 123456.</p>
        <button type="submit" class="primary">Confirm</button>
      </form>`,
        'Confirm',
      );
    },

    /** oidc-provider's RP-initiated logout confirmation; `form` is its hidden form carrying the anti-CSRF token. */
    logoutPage(form: string): string {
      return page(
        'Sign out',
        html`<h1>Sign out of ${BANK_NAME}?</h1>
      <p>You are signed in at ${BANK_NAME}. While you stay signed in here, your next sign-in to an app goes through without
        asking for your password again.</p>
      ${trustedProviderMarkup(form)}
      <div class="actions">
        <button type="submit" form="op.logoutForm" name="logout" value="yes" class="primary" autofocus>Yes, sign me out</button>
        <button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>
      </div>`,
      );
    },

    /** Shown after logout when the app gave no `post_logout_redirect_uri`. */
    loggedOutPage(): string {
      return page('Signed out', html`<h1>You are signed out</h1><p>You can close this window.</p>`);
    },

    /** Errors at the provider (expired interaction, bad authorization request, …). */
    providerErrorPage(args: { status: number; error: string; description?: string | undefined }): string {
      const { status, error, description } = args;
      const expired = error === 'invalid_request' && /expired|not found/i.test(description ?? '');
      return page(
        'Something went wrong',
        html`<h1>${expired ? 'This sign-in request has expired' : 'Sign-in cannot continue'}</h1>
      <p>${expired ? 'Go back to the app and start signing in again.' : (description ?? 'The request could not be processed.')}</p>
      <p class="hint">Error <code>${error}</code> (HTTP ${status})</p>`,
      );
    },
  };
}

/** oidc-provider builds the logout form itself: trusted markup from the provider, not user input. */
function trustedProviderMarkup(markup: string): Html {
  return new Html(markup);
}
