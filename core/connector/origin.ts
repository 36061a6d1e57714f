// What an origin adapter implements, and the per-request context it and middleware receive.
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Logger } from '../kernel/logger.ts';
import type { MaybePromise } from '../kernel/plugin.ts';
import type { IngressRule } from './ingress.ts';

/** One visitor request as the connector handles it. */
export interface RequestContext {
  readonly req: Http2ServerRequest;
  readonly res: Http2ServerResponse;
  readonly ray: string;
  readonly rule: IngressRule;
  /** The visitor's hostname (no port, lowercase). */
  readonly hostname: string;
  /** Path with query: as matched, until a middleware rewrites it (it then sets `req.url` too, which origins use). */
  path: string;
  readonly clientIp: string;
  readonly log: Logger;
}

/** An HTTP origin: answers a request on `ctx.res`; resolves when the response is complete. */
export interface Origin {
  serve(ctx: RequestContext): Promise<void>;
  /** Frees pooled connections when the connector stops. */
  close?(): MaybePromise<void>;
}

/** Where an origin adapter is being created: the rule it serves and the config file's folder. */
export interface OriginEnvironment {
  readonly rule: IngressRule;
  readonly configDir: string;
  readonly log: Logger;
}

/** An origin failure the edge renders as an error page with the ray id (502, 504 ...). */
export class OriginError extends Error {
  readonly code = 'BURROW_ERR_ORIGIN';
  constructor(
    readonly status: 502 | 503 | 504,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
