/**
 * A tiny HTML template tag for the demo app's pages.
 * Every interpolated value is escaped unless it is already `Html` (the
 * result of another `html` template), so a claim such as
 * `name: "<script>…"` typed at the sandbox login page shows up as text, not
 * markup. No template engine, no inline scripts or styles: the pages only
 * link a stylesheet, which keeps them working under a strict CSP.
 */

/** Markup that is already safe to insert as is. */
export class Html {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  toString(): string {
    return this.#value;
  }
}

const entities: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for use in element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => entities[char] ?? char);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/** Template tag: `html\`<p>${text}</p>\`` escapes `text`; arrays are joined; `undefined`, `null` and `false` render nothing. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** A whole HTML document as a string, ready for `res.send()`. */
export function documentOf(body: Html): string {
  return `<!doctype html>\n${body.toString()}\n`;
}
