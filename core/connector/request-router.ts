// Routes each request stream from the edge through ingress matching and middleware to its origin.
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { constants as h2 } from 'node:http2';
import type { Logger } from '../kernel/logger.ts';
import { compose, type Middleware } from '../kernel/middleware.ts';
import { PluginError } from '../kernel/plugin.ts';
import { redactText } from '../kernel/redact.ts';
import { normalizeHost } from '../transport/host.ts';
import { Headers } from '../transport/protocol.ts';
import type { Ingress, IngressRule } from './ingress.ts';
import { OriginError, type Origin, type RequestContext } from './origin.ts';

export type ConnectorMiddleware = Middleware<RequestContext>;
export type RequestHandlerFn = (req: Http2ServerRequest, res: Http2ServerResponse) => void;

const MAX_HOSTS = 1024;

export class RequestRouter {
  private readonly chains = new Map<IngressRule, (ctx: RequestContext) => Promise<void>>();
  private readonly hostnames = new Map<string, string>();

  constructor(
    private readonly ingress: Ingress,
    origins: ReadonlyMap<IngressRule, Origin>,
    middlewareFor: (rule: IngressRule) => readonly ConnectorMiddleware[],
    private readonly log: Logger,
  ) {
    for (const rule of ingress.rules) {
      const origin = origins.get(rule)!;
      this.chains.set(
        rule,
        compose(middlewareFor(rule), (ctx) => {
          if (ctx.upgrade && origin.upgrade) return origin.upgrade(ctx);
          if (!origin.relaysContinue && ctx.req.headers.expect !== undefined && /^100-continue$/i.test(String(ctx.req.headers.expect))) ctx.res.writeContinue();
          return origin.serve(ctx);
        }),
      );
    }
  }

  readonly handle = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
    const hostname = this.hostnameOf(String(req.headers[':authority'] ?? req.headers.host ?? ''));
    const path = req.url || '/';
    const query = path.indexOf('?');
    const rule = this.ingress.match(hostname, query < 0 ? path : path.slice(0, query));
    const ray = String(req.headers[Headers.ray] ?? '');
    const ctx: RequestContext = {
      req,
      res,
      ray,
      rule,
      hostname,
      path,
      clientIp: String(req.headers[Headers.connectingIp] ?? ''),
      log: this.log,
    };
    const upgradeProtocol = req.headers[Headers.upgrade];
    if (upgradeProtocol) (ctx as { upgrade?: string }).upgrade = String(upgradeProtocol);
    this.chains.get(rule)!(ctx).catch((error) => this.fail(ctx, error));
  };

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

  private fail(ctx: RequestContext, error: unknown): void {
    const status = error instanceof OriginError ? error.status : 502;
    const message = error instanceof OriginError ? error.message : 'A connector plugin failed while handling this request.';
    if (error instanceof OriginError) ctx.log.warn({ ray: ctx.ray, status, err: error.message, service: ctx.rule.service.raw }, 'origin request failed');
    else ctx.log.error({ ray: ctx.ray, err: error, plugin: error instanceof PluginError ? error.pluginId : undefined }, 'request failed in the connector');
    const { res } = ctx;
    if (res.headersSent || res.stream.destroyed) {
      if (!res.stream.destroyed) res.stream.close(h2.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    // The message reaches the visitor's error page: never with the service URL's credentials.
    res.writeHead(status, { [Headers.originError]: redactText(message).replace(/[\r\n]+/g, ' ').slice(0, 300), 'content-length': '0' });
    res.end();
  }
}
