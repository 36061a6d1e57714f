// The edge's API listener: a small router that plugins add routes to (login, tunnels, metrics, pages).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { ApiError, BurrowError, type ApiAuth, type ApiHandler, type ApiRequest, type ApiResult, type ApiRouteOptions, type ApiRouter, type HttpMethod, type Logger, type Principal } from 'burrow';

interface Route {
  method: HttpMethod;
  pattern: RegExp;
  keys: string[];
  handler: ApiHandler;
  options: ApiRouteOptions;
}

const MAX_BODY = 1024 * 1024;

export class ApiServer implements ApiRouter {
  private readonly routes: Route[] = [];
  readonly server: http.Server;

  constructor(
    /** The token-signer role's service, looked up once plugins are set up. */
    private readonly auth: () => ApiAuth,
    private readonly log: Logger,
  ) {
    this.server = http.createServer((req, res) => void this.dispatch(req, res));
  }

  route(method: HttpMethod, path: string, handler: ApiHandler, options: ApiRouteOptions): void {
    const keys: string[] = [];
    const source = path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:([a-zA-Z]+)/g, (_, key: string) => {
      keys.push(key);
      return '([^/]+)';
    });
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), keys, handler, options });
  }

  private async dispatch(raw: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(raw.url ?? '/', 'http://api.local');
    let pathMatched = false;
    for (const route of this.routes) {
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== raw.method && !(route.method === 'GET' && raw.method === 'HEAD')) continue;
      try {
        const principal = this.authorize(raw, route.options);
        const params = Object.fromEntries(route.keys.map((key, i) => [key, decodeParam(match[i + 1]!)]));
        const request: ApiRequest = { method: route.method, path: url.pathname, params, query: url.searchParams, raw, principal, json: () => readJson(raw) };
        const result = await route.handler(request, res);
        if (result && !res.headersSent) send(res, result);
      } catch (error) {
        if (error instanceof ApiError) {
          // A body refused part-way is not read to its end: the connection closes after the answer.
          const headers: Record<string, string> = error.status === 413 ? { connection: 'close' } : {};
          send(res, { status: error.status, json: { error: error.message, hint: error.hint }, headers });
        } else if (error instanceof BurrowError && error.code === 'BURROW_ERR_REGISTRY') {
          // An outage of the shared registry is not a bug here: say which registry, so the operator can act.
          send(res, { status: 503, json: { error: error.message, hint: error.hint } });
        } else {
          this.log.error({ err: error, path: url.pathname }, 'API handler failed');
          send(res, { status: 500, json: { error: 'internal error; see the edge log' } });
        }
      }
      return;
    }
    if (!pathMatched) return send(res, { status: 404, json: { error: `no API route ${url.pathname}` } });
    const allowed = [...new Set(this.routes.filter((route) => route.pattern.test(url.pathname)).map((route) => route.method))];
    send(res, { status: 405, json: { error: `${raw.method} not allowed on ${url.pathname}` }, headers: { allow: allowed.join(', ') } });
  }

  private authorize(raw: IncomingMessage, options: ApiRouteOptions): Principal {
    const principal = this.auth().authenticate(raw.headers.authorization);
    if (options.auth === 'none') return principal ?? { admin: false, zones: [] };
    if (!principal) throw new ApiError(401, 'missing or invalid API token', 'run `burrow login --edge URL` again, or pass the admin token as Authorization: Bearer <token>');
    if (options.auth === 'admin' && !principal.admin) throw new ApiError(403, 'this call needs the edge admin token');
    return principal;
  }
}

function send(res: ServerResponse, result: Exclude<ApiResult, void>): void {
  if (res.headersSent) return;
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...result.headers };
  let body: string | undefined;
  if (result.json !== undefined) {
    body = JSON.stringify(result.json);
    headers['content-type'] = 'application/json';
  } else if (result.html !== undefined) {
    body = result.html;
    headers['content-type'] = 'text/html; charset=utf-8';
  } else if (result.text !== undefined) {
    body = result.text;
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  }
  headers['content-length'] = String(body ? Buffer.byteLength(body) : 0);
  res.writeHead(result.status ?? 200, headers);
  res.end(body);
}

/** A path parameter as written, percent-decoded; a malformed escape (a lone `%`) is a 400, not a failure. */
function decodeParam(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ApiError(400, `the path has a malformed percent escape: ${JSON.stringify(value.slice(0, 100))}`);
  }
}

/**
 * The JSON body, at most MAX_BODY bytes: a larger Content-Length is refused before any of it is read, and a body
 * without one stops being read at the limit. A declared type other than JSON is a 415.
 */
async function readJson<T>(req: IncomingMessage): Promise<T> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(type)) {
    throw new ApiError(415, `the request body must be JSON (Content-Type: application/json), not ${JSON.stringify(type.slice(0, 100))}`);
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY) throw new ApiError(413, `request body too large (at most ${MAX_BODY} bytes)`);
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        req.off('data', onData);
        req.pause();
        reject(new ApiError(413, `request body too large (at most ${MAX_BODY} bytes)`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
  if (body.length === 0) return {} as T;
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch (error) {
    throw new ApiError(400, `request body is not valid JSON: ${(error as Error).message.slice(0, 200)}`);
  }
}
