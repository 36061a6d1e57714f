// The inspector's web server: the static UI, the JSON API and live updates, for this machine's browser only.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { formatHostPort, isWildcardHost, splitHostPort } from 'burrow';
import { ReplayRefused, type Replayer } from './replay.ts';
import { statusMatcher, type Exchange, type ExchangeStore } from './store.ts';
import type { BodyTap } from './capture.ts';

export const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const UI_DIR = path.join(import.meta.dirname, 'ui');
const ASSETS: ReadonlyMap<string, { file: string; type: string }> = new Map([
  ['/', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/app.js', { file: 'app.js', type: 'text/javascript; charset=utf-8' }],
  ['/app.css', { file: 'app.css', type: 'text/css; charset=utf-8' }],
]);

/**
 * The Host values a request may carry: the address itself, and this machine's loopback names on its port (for a
 * wildcard address, also this machine's interface addresses). Anything else is a page on another site whose
 * name was pointed at this address (DNS rebinding), and is refused.
 */
export function allowedHosts(address: string): Set<string> {
  const { host, port } = splitHostPort(address);
  const names = new Set([host, 'localhost', '127.0.0.1', '::1']);
  if (isWildcardHost(host)) for (const entry of Object.values(os.networkInterfaces()).flat()) if (entry) names.add(entry.address);
  return new Set([...names].map((name) => formatHostPort(name, port).toLowerCase()));
}

export function createInspectorServer(address: string, store: ExchangeStore, replayer: Replayer): http.Server {
  const hosts = allowedHosts(address);
  const assets = new Map([...ASSETS].map(([url, asset]) => [url, { body: readFileSync(path.join(UI_DIR, asset.file)), type: asset.type }]));
  const events = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!hosts.has(host)) return send(res, 403, { error: `the inspector answers only to ${[...hosts][0]} and localhost, not to Host ${JSON.stringify(req.headers.host ?? '')}` });
    const url = new URL(req.url ?? '/', `http://${host}`);
    const asset = assets.get(url.pathname);
    if (asset) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'use GET' }, { allow: 'GET, HEAD' });
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type, 'content-length': asset.body.byteLength });
      return res.end(req.method === 'HEAD' ? undefined : asset.body);
    }
    if (url.pathname === '/api/requests') {
      if (req.method !== 'GET') return send(res, 405, { error: 'use GET' }, { allow: 'GET' });
      const status = url.searchParams.get('status') ?? '';
      if (status && !statusMatcher(status)) return send(res, 400, { error: `status filter ${JSON.stringify(status)}: expected a status like 404 or a class like 5xx` });
      return send(res, 200, { requests: store.list({ host: url.searchParams.get('host') ?? '', status }).map(summary) });
    }
    if (url.pathname === '/api/events') {
      if (req.method !== 'GET') return send(res, 405, { error: 'use GET' }, { allow: 'GET' });
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
      res.write('retry: 2000\n\n');
      events.add(res);
      res.once('close', () => events.delete(res));
      return;
    }
    const match = /^\/api\/requests\/(\d+)(\/replay)?$/.exec(url.pathname);
    const exchange = match ? store.get(Number(match[1])) : undefined;
    if (match && !exchange) return send(res, 404, { error: `no request ${match[1]}: the inspector keeps the last ${store.max} requests` });
    if (exchange && !match![2]) {
      if (req.method !== 'GET') return send(res, 405, { error: 'use GET' }, { allow: 'GET' });
      return send(res, 200, detail(exchange));
    }
    if (exchange) {
      if (req.method !== 'POST') return send(res, 405, { error: 'replay takes POST' }, { allow: 'POST' });
      const refusal = crossSite(req, host);
      if (refusal) return send(res, 403, { error: refusal });
      req.resume();
      replayer.replay(exchange).then(
        ({ exchange: replayed, status }) => send(res, 201, { ...summary(replayed), status: status ?? null }),
        (error: unknown) => send(res, error instanceof ReplayRefused ? error.status : 502, { error: error instanceof Error ? error.message : String(error) }),
      );
      return;
    }
    send(res, 404, { error: 'not found' });
  });

  // Browsers reconnect by themselves; one event per change is enough for the page to fetch what it shows.
  const onChange = (id: number) => {
    for (const res of events) res.write(`event: change\ndata: ${id}\n\n`);
  };
  store.on('change', onChange);
  server.once('close', () => {
    store.off('change', onChange);
    for (const res of events) res.destroy();
  });
  return server;
}

/** A replay must come from the inspector's own page (or a client that sends no Origin, like curl). */
function crossSite(req: http.IncomingMessage, host: string): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) return `replay refused: the request came from ${origin}, not from the inspector's page`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `replay refused: a ${site} request`;
  return undefined;
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function summary(exchange: Exchange) {
  return {
    id: exchange.id,
    ray: exchange.ray,
    method: exchange.method,
    host: exchange.host,
    path: exchange.path,
    status: exchange.status ?? null,
    state: exchange.state,
    startedAt: new Date(exchange.startedAt).toISOString(),
    firstByteMs: exchange.firstByteMs ?? null,
    totalMs: exchange.totalMs ?? null,
    replayOf: exchange.replayOf ?? null,
  };
}

function detail(exchange: Exchange) {
  return {
    ...summary(exchange),
    rule: exchange.rule,
    replayable: exchange.request.complete,
    request: { headers: exchange.requestHeaders, body: body(exchange.request, exchange.requestHeaders['content-type']) },
    response: { headers: exchange.responseHeaders ?? null, body: body(exchange.response, exchange.responseHeaders?.['content-type']) },
  };
}

/** A body preview: its size, what was kept, and the kept bytes as text when they read as text, else as base64. */
function body(tap: BodyTap, contentType: string | string[] | undefined) {
  const kept = tap.preview;
  const text = asText(kept, typeof contentType === 'string' ? contentType : undefined);
  return {
    size: tap.size,
    kept: kept.byteLength,
    truncated: tap.size > kept.byteLength,
    complete: tap.complete,
    ...(text === undefined ? { encoding: 'binary', base64: kept.toString('base64') } : { encoding: 'text', text }),
  };
}

const TEXT_TYPE = /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded|graphql)\b)/i;

/** UTF-8 text without control characters (besides tab and line breaks); a cut at the end may split one character. */
function asText(bytes: Buffer, contentType: string | undefined): string | undefined {
  if (bytes.byteLength === 0) return '';
  if (contentType && !TEXT_TYPE.test(contentType) && !/charset=/i.test(contentType)) {
    // A declared binary type is shown as binary even when its first bytes happen to be ASCII.
    if (/^(image|audio|video|font)\/|octet-stream|zip|gzip|pdf|protobuf|grpc/i.test(contentType)) return undefined;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(trimPartialCharacter(bytes));
  } catch {
    return undefined;
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(text) ? undefined : text;
}

/** Drops a UTF-8 sequence cut short at the end of a preview. */
function trimPartialCharacter(bytes: Buffer): Buffer {
  for (let back = 1; back <= Math.min(3, bytes.byteLength); back++) {
    const byte = bytes[bytes.byteLength - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    if (byte >= 0xc0) {
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return length > back ? bytes.subarray(0, bytes.byteLength - back) : bytes;
    }
    return bytes;
  }
  return bytes;
}
