// The dashboard's HTML: the sign-in page and the page the script fills. No inline script or style, so the CSP stays strict.

/** Scripts, styles and live updates come only from this API; nothing may frame the page. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
};

function layout(title: string, pop: string, body: string, script = false): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escape(title)} · ${escape(pop)} · Burrow</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/dashboard/app.css">${script ? '<script src="/dashboard/app.js" defer></script>' : ''}</head>
<body>${body}</body></html>`;
}

export function signInPage(pop: string, error?: string): string {
  return layout(
    'Sign in',
    pop,
    `<main class="sign-in"><h1>Burrow dashboard</h1><p>PoP <strong>${escape(pop)}</strong>. Sign in with the edge admin token.</p>
<form method="post" action="/dashboard/session">
<p><label for="token">Admin token</label></p>
${error ? `<p class="error" role="alert">${escape(error)}</p>` : ''}
<input type="password" id="token" name="token" autocomplete="current-password" required autofocus>
<button type="submit" id="sign-in">Sign in</button></form></main>`,
  );
}

export function dashboardPage(pop: string): string {
  return layout(
    'Dashboard',
    pop,
    `<header><h1>Burrow <span class="muted">PoP</span> <span id="pop">${escape(pop)}</span></h1>
<span id="live" class="live off" role="status">connecting</span>
<form method="post" action="/dashboard/sign-out"><button type="submit" id="sign-out">Sign out</button></form></header>
<main>
<section><h2>PoPs and links</h2><p id="network-note" class="muted"></p><div class="network"><div id="map"></div><table id="pops"><thead><tr><th>PoP</th><th>region</th><th>links (round trip)</th></tr></thead><tbody></tbody></table></div></section>
<section id="routes-section"><h2>Routes</h2><table id="routes"><thead></thead><tbody></tbody></table></section>
<section><h2>Tunnels</h2><p id="tunnels-note" class="muted"></p><div id="tunnels"></div></section>
</main>`,
    true,
  );
}

export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
