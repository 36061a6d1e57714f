// Server-rendered pages of the login approval flow: self-contained HTML, no scripts, no external assets.
import type { LoginRequest } from './pending.ts';

/** No scripts at all, forms may only post back here, and no other site may frame the page (clickjacking). */
export const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  // Keeps the code out of other sites' logs, yet lets the browser send Origin on our own form posts.
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
};

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34em;margin:3em auto;padding:0 1em;color:#1d2433}
h1{font-size:1.4em}.code{font:600 1.6em ui-monospace,monospace;letter-spacing:.1em;background:#f1f3f7;padding:.2em .5em;border-radius:.3em}
dl{display:grid;grid-template-columns:auto 1fr;gap:.3em 1em}dt{color:#5b6478}dd{margin:0;font-family:ui-monospace,monospace}
input[type=password]{font:inherit;width:100%;padding:.4em;box-sizing:border-box}button{font:inherit;padding:.45em 1.2em;margin:.8em .6em 0 0;border-radius:.3em;border:1px solid #8a93a6;cursor:pointer}
.approve{background:#1d6b3a;color:#fff;border-color:#1d6b3a}.deny{background:#fff;color:#9b1c1c;border-color:#9b1c1c}.error{color:#9b1c1c}.row{display:flex}`;

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escape(title)} · Burrow</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

function details(request: LoginRequest): string {
  return `<p>Code <span class="code" id="code">${escape(request.code)}</span></p>
<p>Check that this is the code <code>burrow login</code> printed. Approving gives that machine a certificate for:</p>
<dl><dt>Zone</dt><dd id="zones">${request.zones.map(escape).join(', ')}</dd>
<dt>Requested by</dt><dd>${escape(request.requestedBy)}</dd>
<dt>Expires</dt><dd>${escape(request.expiresAt.toISOString())}</dd></dl>`;
}

export function signInPage(request: LoginRequest, error?: string): string {
  return layout(
    'Sign in to approve a login',
    `<h1>Approve a Burrow login</h1>${details(request)}
<form method="post" action="/login/${encodeURIComponent(request.code)}/session">
<p><label for="token">Sign in with the edge admin token</label></p>
${error ? `<p class="error" role="alert">${escape(error)}</p>` : ''}
<input type="password" id="token" name="token" autocomplete="current-password" required autofocus>
<button type="submit" id="sign-in">Sign in</button></form>`,
  );
}

export function approvalPage(request: LoginRequest, csrf: string): string {
  const action = (verb: string) => `/login/${encodeURIComponent(request.code)}/${verb}`;
  return layout(
    'Approve a login',
    `<h1>Approve a Burrow login</h1>${details(request)}
<div class="row"><form method="post" action="${action('approve')}"><input type="hidden" name="csrf" value="${escape(csrf)}"><button type="submit" class="approve" id="approve">Approve</button></form>
<form method="post" action="${action('deny')}"><input type="hidden" name="csrf" value="${escape(csrf)}"><button type="submit" class="deny" id="deny">Deny</button></form></div>`,
  );
}

export function resultPage(title: string, message: string): string {
  return layout(title, `<h1 id="result">${escape(title)}</h1><p>${escape(message)}</p>`);
}

export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
