// What an origin adapter implements, and the per-request context it and middleware receive.
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
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
  /** The protocol the visitor asked to switch to (its `Upgrade` header, e.g. `websocket`), if any. */
  readonly upgrade?: string;
}

/** An HTTP origin: answers a request on `ctx.res`; resolves when the response is complete. */
export interface Origin {
  serve(ctx: RequestContext): Promise<void>;
  /**
   * Upgraded requests (WebSocket), with Node's `'upgrade'` contract: `socket` is the visitor's
   * connection (a TunnelSocket); write an HTTP/1.1 response head to it (101 to accept, anything
   * else to refuse), then bytes. Resolves when the connection is over; rejects with OriginError
   * if the origin failed before answering. Origins without it answer upgrades with `serve`.
   */
  upgrade?(ctx: RequestContext, socket: Duplex, head: Buffer): Promise<void>;
  /**
   * True if the origin answers `Expect: 100-continue` itself (its 100 relayed with
   * `res.writeContinue()`); otherwise the connector sends 100 Continue before `serve`.
   */
  readonly relaysContinue?: boolean;
  /** Frees pooled connections when the connector stops. */
  close?(): MaybePromise<void>;
}

/** Where an origin adapter is being created: the rule it serves and the config file's folder. */
export interface OriginEnvironment {
  readonly rule: IngressRule;
  readonly configDir: string;
  /** The config file, for ConfigErrors about the rule (absent when the config did not come from a file). */
  readonly configFile?: string;
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
