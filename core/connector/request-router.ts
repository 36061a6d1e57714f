// Routes each request stream from the edge through ingress matching and middleware to its origin.
import http2, { constants as h2, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { SyncHook } from 'tapable';
import type { Logger } from '../kernel/logger.ts';
import { compose, type Middleware } from '../kernel/middleware.ts';
import { PluginError } from '../kernel/plugin.ts';
import { redactText } from '../kernel/redact.ts';
import { normalizeHost } from '../transport/host.ts';
import { Headers } from '../transport/protocol.ts';
import type { RequestRecord } from './hooks.ts';
import type { Ingress, IngressRule } from './ingress.ts';
import { OriginError, type Origin, type RequestContext, type StreamRequest } from './origin.ts';
import type { RequestHandler } from './tunnel-connection.ts';

export type ConnectorMiddleware = Middleware<RequestContext>;
export type RequestHandlerFn = RequestHandler;

const MAX_HOSTS = 1024;

/** How one rule serves: through its middleware chain (compat request and response), or straight to the origin's stream way. */
interface Route {
  readonly chain: (ctx: RequestContext) => Promise<void>;
  /** The origin's `serveStream`, when the rule has no middleware to run. */
  readonly direct?: Origin & { serveStream: NonNullable<Origin['serveStream']> };
}

export class RequestRouter {
  private readonly routes = new Map<IngressRule, Route>();
  private readonly hostnames = new Map<string, string>();

  constructor(
    private readonly ingress: Ingress,
    origins: ReadonlyMap<IngressRule, Origin>,
    middlewareFor: (rule: IngressRule) => readonly ConnectorMiddleware[],
    private readonly log: Logger,
    private readonly done?: SyncHook<[RequestRecord]>,
  ) {
    for (const rule of ingress.rules) {
      const origin = origins.get(rule)!;
      const middleware = middlewareFor(rule);
      const chain = compose(middleware, (ctx) => {
        if (ctx.upgrade && origin.upgrade) return origin.upgrade(ctx);
        if (!origin.relaysContinue && ctx.req.headers.expect !== undefined && /^100-continue$/i.test(String(ctx.req.headers.expect))) ctx.res.writeContinue();
        return origin.serve(ctx);
      });
      const direct = middleware.length === 0 && origin.serveStream ? (origin as Route['direct']) : undefined;
      this.routes.set(rule, { chain, direct });
    }
  }

  readonly handle = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]): void => {
    const method = headers[':method'];
    const expect = headers.expect;
    // What Node's compat server answers by itself: CONNECT (which the edge never sends) and expectations other than 100-continue.
    if (method === 'CONNECT' || (expect !== undefined && expect !== '100-continue')) {
      if (!stream.destroyed) stream.respond({ ':status': method === 'CONNECT' ? 405 : 417, 'content-length': '0' }, { endStream: true });
      return;
    }
    const hostname = this.hostnameOf(String(headers[':authority'] ?? headers.host ?? ''));
    const path = headers[':path'] || '/';
    const query = path.indexOf('?');
    const rule = this.ingress.match(hostname, query < 0 ? path : path.slice(0, query));
    const ray = String(headers[Headers.ray] ?? '');
    const clientIp = String(headers[Headers.connectingIp] ?? '');
    const sent = this.done?.isUsed() ? this.observe(stream, headers, rule, ray, hostname, path, clientIp) : undefined;
    const route = this.routes.get(rule)!;
    const upgradeProtocol = headers[Headers.upgrade];
    if (route.direct && !upgradeProtocol && expect === undefined && (stream.endAfterHeaders || headers['content-length'] !== undefined)) {
      const request: StreamRequest = { stream, headers, ray, rule, hostname, path, clientIp, log: this.log, sent };
      route.direct.serveStream(request).catch((error) => this.fail(stream, ray, rule, error));
      return;
    }
    if (sent) countWrites(stream, sent);
    const req = new http2.Http2ServerRequest(stream, headers, undefined as never, rawHeaders);
    const res = new http2.Http2ServerResponse(stream);
    const ctx: RequestContext = { req, res, ray, rule, hostname, path, clientIp, log: this.log };
    if (upgradeProtocol) (ctx as { upgrade?: string }).upgrade = String(upgradeProtocol);
    route.chain(ctx).catch((error) => this.fail(stream, ray, rule, error));
  };

  /**
   * Reports the request to `requestDone` when its stream closes, with the body bytes counted in what it returns (by
   * the origin's `serveStream`, or by countWrites for the compat response).
   */
  private observe(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rule: IngressRule, ray: string, hostname: string, path: string, clientIp: string): { bytes: number } {
    const started = performance.now();
    const sent = { bytes: 0 };
    stream.once('close', () => {
      const response = stream.sentHeaders as IncomingHttpHeaders | undefined;
      this.done!.call({
        ray,
        method: String(headers[':method']),
        hostname,
        path,
        rule: rule.index,
        status: Number(response?.[':status'] ?? 0),
        bytes: sent.bytes,
        ms: Math.round((performance.now() - started) * 10) / 10,
        completed: stream.writableFinished,
        originFailed: response?.[Headers.originError] !== undefined,
        clientIp,
        headers,
      });
    });
    return sent;
  }

  /** normalizeHost, remembered for the few authorities a tunnel serves (bounded: forgets all past MAX_HOSTS). */
  private hostnameOf(authority: string): string {
    let hostname = this.hostnames.get(authority);
    if (hostname === undefined) {
      if (this.hostnames.size >= MAX_HOSTS) this.hostnames.clear();
      hostname = normalizeHost(authority);
      this.hostnames.set(authority, hostname);
    }
    return hostname;
  }

  private fail(stream: ServerHttp2Stream, ray: string, rule: IngressRule, error: unknown): void {
    const status = error instanceof OriginError ? error.status : 502;
    const message = error instanceof OriginError ? error.message : 'A connector plugin failed while handling this request.';
    if (error instanceof OriginError) this.log.warn({ ray, status, err: error.message, service: rule.service.raw }, 'origin request failed');
    else this.log.error({ ray, err: error, plugin: error instanceof PluginError ? error.pluginId : undefined }, 'request failed in the connector');
    if (stream.headersSent || stream.destroyed) {
      if (!stream.destroyed) stream.close(h2.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    // The message reaches the visitor's error page: never with the service URL's credentials.
    stream.respond({ ':status': status, [Headers.originError]: redactText(message).replace(/[\r\n]+/g, ' ').slice(0, 300), 'content-length': '0' }, { endStream: true });
  }
}

/** Counts what the compat response (or an origin) writes to the stream: every write passes the stream's own `write`. */
function countWrites(stream: ServerHttp2Stream, sent: { bytes: number }): void {
  const write = stream.write;
  stream.write = function (this: ServerHttp2Stream, chunk: unknown, ...rest: unknown[]) {
    sent.bytes += sizeOf(chunk);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof stream.write;
}

function sizeOf(chunk: unknown): number {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return 0;
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
