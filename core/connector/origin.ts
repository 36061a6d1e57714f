// What an origin adapter implements and declares, and the per-request context it and middleware receive.
import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { z } from 'zod';
import type { Logger } from '../kernel/logger.ts';
import type { MaybePromise } from '../kernel/plugin.ts';
import type { IngressRule, ServiceSpec } from './ingress.ts';

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

/**
 * One visitor request as the raw HTTP/2 stream the edge opened: what an origin's `serveStream` gets for a request that
 * no middleware sees, so no compat request and response are built for it.
 */
export interface StreamRequest {
  readonly stream: ServerHttp2Stream;
  /** The request's HTTP/2 headers (`:method`, `:path`, `:authority`, the visitor's, and the edge's `burrow-*`). */
  readonly headers: IncomingHttpHeaders;
  readonly ray: string;
  readonly rule: IngressRule;
  readonly hostname: string;
  readonly path: string;
  readonly clientIp: string;
  readonly log: Logger;
  /**
   * While something observes requests (`requestDone`): add the response body bytes written to the stream here
   * (a `relay` with `counter` does). Undefined when nothing counts.
   */
  readonly sent?: { bytes: number };
}

/** An HTTP origin: answers a request on `ctx.res`; resolves when the response is complete. */
export interface Origin {
  serve(ctx: RequestContext): Promise<void>;
  /**
   * Upgraded requests (`ctx.upgrade` is set): the visitor's connection is the request stream
   * (`ctx.req` in, `ctx.res` out), which carries a `200` with the origin's headers for a switch, or an
   * ordinary response for a refusal. Resolves when the connection is over; rejects with OriginError if
   * the origin failed before answering. Origins without it answer upgrades with `serve`.
   */
  upgrade?(ctx: RequestContext): Promise<void>;
  /**
   * True if the origin answers `Expect: 100-continue` itself (its 100 relayed with
   * `res.writeContinue()`); otherwise the connector sends 100 Continue before `serve`.
   */
  readonly relaysContinue?: boolean;
  /**
   * The lighter way in, for the hot path: answers on `request.stream` itself (`stream.respond`). The router calls it in
   * place of `serve` when the rule has no middleware and the request has no upgrade, no `Expect`, and no body or one
   * with a Content-Length; everything else goes to `serve`. Rejects with OriginError as `serve` does.
   */
  serveStream?(request: StreamRequest): Promise<void>;
  /** Frees pooled connections when the connector stops. */
  close?(): MaybePromise<void>;
}

/** Where an origin is being created: the rule it serves, its options, and the config file's folder. */
export interface OriginEnvironment<RequestOptions = Readonly<Record<string, unknown>>, PluginOptions = unknown> {
  readonly rule: IngressRule;
  /** The rule's `originRequest` as the adapter's `options` schema parsed it (defaults filled in). */
  readonly originRequest: RequestOptions;
  /** The options of the plugin that declared the adapter. */
  readonly pluginOptions: PluginOptions;
  readonly configDir: string;
  /** The config file, for ConfigErrors about the rule (absent when the config did not come from a file). */
  readonly configFile?: string;
  readonly log: Logger;
}

/**
 * The `originRequest` keys an adapter reads: an object schema whose fields are all optional or have
 * defaults. A field's `.meta({ hint })` is the fix shown when a value does not fit; its own error
 * message, if it sets one, says what is wrong (otherwise "<value> is not a valid value").
 */
export type OriginOptionsSchema<RequestOptions> = z.ZodType<RequestOptions, any> & { readonly shape: Readonly<Record<string, z.ZodType>> };

/**
 * An origin scheme a plugin serves, declared statically on the plugin (`origins: [...]`), so the
 * connector checks services and `originRequest` before any setup runs and tools read it without running
 * anything.
 */
export interface OriginAdapter<Target = ServiceSpec, RequestOptions = Readonly<Record<string, unknown>>, PluginOptions = any> {
  /** Lower-case schemes: `http` serves `http://...`, `hello_world` the bare word, `echo` `echo:label`. */
  readonly schemes: readonly string[];
  /** How its services are written (`unix:/path`), for hints and the editor schema. */
  readonly examples?: readonly string[];
  readonly options?: OriginOptionsSchema<RequestOptions>;
  /**
   * Checks a service and turns it into what `create` needs, at config time and without side effects;
   * `fail` reports at the rule's `service` key. Without it, `create` gets the ServiceSpec.
   */
  parse?(service: ServiceSpec, fail: (problem: string, hint: string) => never): Target;
  /** The origin for one rule, once per rule at startup. */
  create(target: Target, env: OriginEnvironment<RequestOptions, PluginOptions>): Origin;
}

/** Identity function that gives an origin adapter its types (the target from `parse`, the options from `options`). */
export function defineOrigin<Target = ServiceSpec, RequestOptions = Readonly<Record<string, unknown>>, PluginOptions = any>(
  adapter: OriginAdapter<Target, RequestOptions, PluginOptions>,
): OriginAdapter<Target, RequestOptions, PluginOptions> {
  return adapter;
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
