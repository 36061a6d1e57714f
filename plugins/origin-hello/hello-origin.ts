// The hello_world page: the request as an origin behind the tunnel receives it, for checking a new setup.
import { Headers, type Origin, type RequestContext } from 'burrow';

/** What the page shows; also the JSON body for `Accept: application/json`. */
export interface HelloReport {
  message: string;
  method: string;
  path: string;
  host: string;
  ray: string;
  pop: string;
  clientIp: string;
  rule: number;
  bodyBytes: number;
  headers: Record<string, string>;
}

export const helloOrigin: Origin = {
  async serve(ctx: RequestContext): Promise<void> {
    const { req, res } = ctx;
    let bodyBytes = 0;
    // Count the body without keeping it, so the page can show that a body arrived.
    for await (const chunk of req) bodyBytes += (chunk as Buffer).length;
    const report = describe(ctx, bodyBytes);
    const accept = String(req.headers.accept ?? '');
    const json = /\bapplication\/json\b/i.test(accept) && !/\btext\/html\b/i.test(accept);
    const body = json ? `${JSON.stringify(report, null, 2)}\n` : page(report);
    res.writeHead(200, {
      'content-type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    });
    if (req.method === 'HEAD') res.end();
    else res.end(body);
  },
};

function describe(ctx: RequestContext, bodyBytes: number): HelloReport {
  const { req, ray } = ctx;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const host = String(req.headers[':authority'] ?? req.headers.host ?? '');
  if (headers.host === undefined && host) headers.host = host;
  return {
    message: 'Congrats! Burrow carried this request through the tunnel to the built-in hello_world origin.',
    method: req.method,
    path: req.url,
    host,
    ray,
    // Ray ids end in the name of the PoP that received the request ("<hex>-fra").
    pop: ray.includes('-') ? ray.slice(ray.indexOf('-') + 1) : '',
    clientIp: String(req.headers[Headers.connectingIp] ?? ''),
    rule: ctx.rule.index + 1,
    bodyBytes,
    headers,
  };
}

function page(report: HelloReport): string {
  const rows = (pairs: Array<[string, string]>) =>
    pairs.map(([name, value]) => `<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hello from Burrow</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; vertical-align: top; padding: .3rem .6rem; border-bottom: 1px solid #ddd; }
th { width: 14rem; font-weight: 600; } td { font-family: ui-monospace, monospace; word-break: break-all; }
</style>
</head>
<body>
<h1>Hello from Burrow</h1>
<p>${escapeHtml(report.message)}</p>
<h2>Request</h2>
<table>
${rows([
  ['Method', report.method],
  ['Path', report.path],
  ['Host', report.host],
  ['Ray ID', report.ray],
  ['PoP', report.pop],
  ['Visitor IP', report.clientIp],
  ['Ingress rule', `#${report.rule}`],
  ['Body', `${report.bodyBytes} bytes`],
])}
</table>
<h2>Headers the origin received</h2>
<table>
${rows(Object.entries(report.headers))}
</table>
</body>
</html>
`;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);
}
