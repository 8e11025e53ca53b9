/**
 * Payment consents as dynamic scopes. An app that wants to make a payment
 * asks for a scope that names it, `payments:<payee>:<currency>:<amount>`
 * (`payments:acme-energy:GBP:25.00`), and the sandbox's consent page shows
 * it in plain words ("Pay £25.00 to Acme Energy"). Open-banking providers
 * do the same with a consent id or rich authorization details; a scope
 * that carries the payment keeps the sandbox self-contained.
 */

/** One payment, as a payment scope names it. */
export interface PaymentScope {
  /** The payee, lower-case words joined by hyphens: `acme-energy`. */
  readonly payee: string;
  /** ISO 4217 code: `GBP`. */
  readonly currency: string;
  /** The amount with two decimals: `25.00`. */
  readonly amount: string;
}

const PAYMENT_SCOPE = /^payments:([a-z0-9]+(?:-[a-z0-9]+)*):([A-Z]{3}):(\d{1,9}\.\d{2})$/;
const MAX_PAYEE_LENGTH = 60;

/**
 * The scope that asks for consent to `payment`. Throws a `TypeError` for a
 * payee, currency or amount a payment scope cannot carry.
 *
 * @example
 * paymentScope({ payee: 'acme-energy', currency: 'GBP', amount: '25.00' }) // 'payments:acme-energy:GBP:25.00'
 */
export function paymentScope(payment: PaymentScope): string {
  const scope = `payments:${payment.payee}:${payment.currency}:${payment.amount}`;
  if (parsePaymentScope(scope) === undefined) {
    throw new TypeError(`paymentScope(): the payee must be lower-case words joined by hyphens (at most ${MAX_PAYEE_LENGTH} characters), the currency three capital letters and the amount have two decimals, such as { payee: 'acme-energy', currency: 'GBP', amount: '25.00' }.`);
  }
  return scope;
}

/** The payment a scope asks for, or `undefined` when it is not a payment scope. */
export function parsePaymentScope(scope: string): PaymentScope | undefined {
  const match = PAYMENT_SCOPE.exec(scope);
  if (match === null) return undefined;
  const [, payee = '', currency = '', amount = ''] = match;
  if (payee.length > MAX_PAYEE_LENGTH) return undefined;
  return { payee, currency, amount };
}

/** "Acme Energy" for `acme-energy`. */
export function payeeName(payee: string): string {
  return payee.split('-').map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join(' ');
}

/** "£25.00" for GBP 25.00. */
export function formatAmount(currency: string, amount: string): string {
  try {
    return new Intl.NumberFormat('en-GB', { style: 'currency', currency }).format(Number(amount));
  } catch {
    return `${amount} ${currency}`;
  }
}

/** "Pay £25.00 to Acme Energy" for a payment scope; `undefined` for any other scope. */
export function describePaymentScope(scope: string): string | undefined {
  const payment = parsePaymentScope(scope);
  return payment && `Pay ${formatAmount(payment.currency, payment.amount)} to ${payeeName(payment.payee)}`;
}
