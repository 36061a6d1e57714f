// Carries a visitor's HTTP request to the tunnel that serves its hostname, one HTTP/2 stream per request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants as h2, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders as Http2Headers } from 'node:http2';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { Logger } from '../kernel/logger.ts';
import { compose } from '../kernel/middleware.ts';
import { Headers } from '../transport/protocol.ts';
import { isHopByHop } from '../transport/hop-by-hop.ts';
import { mustPause, relay } from '../transport/relay.ts';
import type { ConnectionTable } from './connections.ts';
import { performance } from 'node:perf_hooks';
import type { EdgeHooks } from './hooks.ts';
import { VISITOR_HEADERS, requestHeaders, responseHeaders } from './forwarding-headers.ts';
import { originErrorPage, rawStatusPage, statusPage } from './status-pages.ts';
import { admitVisitorRequest, type Refusal } from './visitor-admission.ts';
import type { EdgeMiddleware, OpenStream, VisitorContext, VisitorUpgrade } from './visitor-context.ts';
import { forwardUpgrade, upgradeResponse } from './visitor-upgrade.ts';

export type { EdgeMiddleware, VisitorContext } from './visitor-context.ts';


/** Ray ids: 16 hex digits then the PoP name, unique per process without a syscall per request. */
export class RayIds {
  private counter = 0;
  private readonly prefix = randomBytes(4).toString('hex');
  constructor(private readonly pop: string) {}
  next(): string {
    this.counter = (this.counter + 1) >>> 0;
    return `${this.prefix}${this.counter.toString(16).padStart(8, '0')}-${this.pop}`;
  }
}

export class VisitorProxy {
  private chain: (ctx: VisitorContext) => Promise<void>;
  private readonly rays: RayIds;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly pop: string,
    private readonly hooks: EdgeHooks,
    private readonly table: ConnectionTable,
    private readonly log: Logger,
  ) {
    this.rays = new RayIds(pop);
    this.chain = (ctx) => this.deliver(ctx);
  }

  /** Without middleware a request goes straight to its tunnel: no chain, and no wait for the response's end. */
  useMiddleware(middleware: readonly EdgeMiddleware[]): void {
    this.chain = middleware.length === 0 ? (ctx) => this.deliver(ctx) : compose(middleware, (ctx) => this.forward(ctx));
  }

  /** Resolves once no visitor request is in flight. */
  idle(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The visitor server's `'upgrade'` event: handled like a request, answered on the socket. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: 'http' | 'https'): void {
    socket.on('error', (error) => this.log.debug({ err: error.message }, 'visitor connection failed'));
    const res = upgradeResponse(req, socket);
    // h2c would let the visitor speak HTTP/2 to the origin past the edge: the request goes as an ordinary one,
    // without its Upgrade and HTTP2-Settings (hop-by-hop), when it has no body to read off the raw socket.
    if (isH2cUpgrade(req.headers.upgrade)) {
      if (hasBody(req)) return this.refuse(req, res, this.rays.next(), H2C_WITH_BODY);
      return this.handle(req, res, protocol);
    }
    this.handle(req, res, protocol, { socket, head });
  }

  handle(req: IncomingMessage, res: ServerResponse, protocol: 'http' | 'https', upgrade?: VisitorUpgrade): void {
    // A request pipelined behind a refused one on the same connection is never answered nor forwarded.
    if ((req.socket as RefusableSocket)[REFUSED]) return;
    const ray = this.rays.next();
    res.setHeader(Headers.ray, ray);
    const admitted = admitVisitorRequest(req);
    const hostname = typeof admitted === 'string' ? admitted : '';
    const ctx: VisitorContext = { req, res, ray, hostname, clientIp: clientIpOf(req), protocol, upgrade };
    if (this.hooks.requestDone.isUsed()) this.observe(ctx);
    if (typeof admitted !== 'string') return this.refuse(req, res, ray, admitted);
    this.inFlight++;
    res.once('close', () => {
      if (--this.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
    this.chain(ctx).catch((error) => {
      this.log.error({ err: error, ray, plugin: (error as { pluginId?: string }).pluginId }, 'edge middleware failed');
      statusPage(res, 502, ray, 'An edge plugin failed while handling this request.');
    });
  }

  /** Reports the request to `requestDone` when its response closes, with the bytes its connection carried meanwhile. */
  private observe(ctx: VisitorContext): void {
    const { req, res } = ctx;
    const started = performance.now();
    const socket = (ctx.upgrade?.socket ?? req.socket) as Partial<Socket>;
    const before = socket.bytesWritten ?? 0;
    res.once('close', () => {
      this.hooks.requestDone.call({
        ray: ctx.ray,
        method: req.method ?? '',
        hostname: ctx.hostname,
        path: req.url ?? '',
        status: res.statusCode,
        bytes: (socket.bytesWritten ?? 0) - before,
        ms: Math.round((performance.now() - started) * 10) / 10,
        completed: res.writableFinished,
        clientIp: ctx.clientIp,
        protocol: ctx.protocol,
        upgrade: ctx.upgrade !== undefined,
        tunnel: ctx.tunnel?.id,
        forwardedPath: ctx.forwardedPath,
        headers: req.headers,
      });
    });
  }

  /**
   * The visitor server's `'clientError'` event: Node's parser refused the bytes (bad framing, a head too large, a
   * timeout). Answers with the status page when nothing of a response went out yet, and closes the connection.
   */
  handleClientError(error: NodeJS.ErrnoException & { reason?: string }, socket: Duplex): void {
    // Node calls this again for each later chunk the broken parser cannot read: the first answer stands.
    if ((socket as RefusableSocket)[REFUSED]) return;
    (socket as RefusableSocket)[REFUSED] = true;
    const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : timeout ? 408 : 400;
    const ray = this.rays.next();
    this.log.debug({ ray, status, code: error.code, reason: error.reason ?? error.message, client: (socket as Socket).remoteAddress }, 'visitor request refused');
    const page = rawStatusPage(status, ray, timeout ? undefined : status === 400 ? `The edge could not parse the request (${error.code ?? 'malformed'}).` : undefined);
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const pending = pendingResponse(socket);
    if (timeout || (pending && !pending.req.complete)) {
      // The request that ran out of time, or whose body broke, is the one being answered: its answer, if begun,
      // is cut short.
      if (pending?.headersSent) socket.destroy();
      else socket.end(page, () => socket.destroy());
      return;
    }
    // Otherwise the bytes the parser refused came after every request it emitted: those are answered first, in order.
    const answerWhenIdle = (): void => {
      const current = pendingResponse(socket);
      if (current && !current.writableFinished) {
        current.once('finish', () => setImmediate(answerWhenIdle));
        return;
      }
      if (!socket.writable) return void socket.destroy();
      socket.end(page);
      // Closing with the rest of a large head unread would reset the connection, and the visitor could lose the
      // answer: the socket reads (and drops) what still comes until the visitor closes, for a moment at most.
      const linger = setTimeout(() => socket.destroy(), 2_000).unref();
      socket.once('close', () => clearTimeout(linger));
    };
    answerWhenIdle();
  }

  /** Answers `refusal` and closes the connection, so nothing pipelined behind the request is read as a request. */
  private refuse(req: IncomingMessage, res: ServerResponse, ray: string, refusal: Refusal): void {
    (req.socket as RefusableSocket)[REFUSED] = true;
    this.log.debug({ ray, status: refusal.status, reason: refusal.reason, client: req.socket.remoteAddress }, 'visitor request refused');
    res.shouldKeepAlive = false;
    statusPage(res, refusal.status, ray, refusal.reason);
  }

  /** The end of the chain: resolves once the visitor's response has ended, so middleware can observe all of it. */
  private async forward(ctx: VisitorContext): Promise<void> {
    const ended = responseEnded(ctx.res);
    await this.deliver(ctx);
    return ended;
  }

  private async deliver(ctx: VisitorContext): Promise<void> {
    const { req, res, ray } = ctx;
    const tunnel = ctx.tunnel ?? (await this.hooks.resolveTunnel.promise(ctx.hostname));
    if (!tunnel) return statusPage(res, 404, ray);
    ctx.tunnel = tunnel;
    return this.dispatch(ctx, !hasBody(req) && !ctx.upgrade && RETRYABLE.has(req.method!) ? 1 : 0);
  }

  /** Where the request goes (a local connection, or another PoP by a plugin's Forwarding), decided anew on a retry. */
  private async dispatch(ctx: VisitorContext, retries: number, avoid?: ClientHttp2Session): Promise<void> {
    // Undefined: a local connection of the tunnel (the table is asked directly, without a closure per request).
    let open: OpenStream | undefined;
    if (this.hooks.resolveForwarding.isUsed()) {
      const forwarding = await this.hooks.resolveForwarding.promise(ctx);
      if (forwarding) {
        ctx.forwardedPath = forwarding.path ?? [this.pop, forwarding.via];
        open = (headers, options) => forwarding.open(headers, options);
      }
    }
    if (ctx.upgrade) return forwardUpgrade(ctx, ctx.upgrade, open ?? this.localStreams(ctx.tunnel!.id), this.log);

    const endStream = !hasBody(ctx.req);
    // A chunked request may end with trailers; HTTP/2 carries them as a last HEADERS frame.
    const waitForTrailers = !endStream && ctx.req.headers['transfer-encoding'] !== undefined;
    this.send(ctx, open, { endStream, waitForTrailers, ...DEFAULT_PRIORITY }, retries, avoid);
  }

  private localStreams(tunnelId: string): OpenStream {
    return (headers, options, avoiding) => this.table.openStream(tunnelId, headers, options, avoiding)?.stream;
  }

  /**
   * Opens the request's stream and relays both ways. An idempotent request without a body whose stream breaks before
   * any byte of the answer came back is sent `retries` more times, each on another connection than the one that broke.
   */
  private send(ctx: VisitorContext, open: OpenStream | undefined, options: { endStream: boolean; waitForTrailers: boolean }, retries: number, avoid?: ClientHttp2Session): void {
    const { req, res, ray } = ctx;
    const { endStream, waitForTrailers } = options;
    let stream: ClientHttp2Stream | undefined;
    try {
      const headers = requestHeaders(ctx);
      stream = open ? open(headers, options, avoid) : this.table.openStream(ctx.tunnel!.id, headers, options, avoid)?.stream;
    } catch (error) {
      this.log.warn({ err: (error as Error).message, ray }, 'could not open a stream toward the connector');
      return statusPage(res, 502, ray);
    }
    if (!stream) return avoid ? statusPage(res, 502, ray, BROKE) : statusPage(res, 530, ray);
    const opened = stream;
    // The session is read now: a closed stream no longer knows it.
    const attempt: Attempt = { retries, session: opened.session as ClientHttp2Session | undefined, answered: false, broken: false };

    // relay() rather than stream.pipeline(): pipeline allocates and aborts an AbortController per
    // call, which builds a DOMException with a stack trace on every request.
    if (!endStream) {
      relay(req, opened);
      req.once('error', () => {
        if (!opened.destroyed) opened.close(h2.NGHTTP2_CANCEL);
      });
    }
    if (waitForTrailers) opened.once('wantTrailers', () => opened.sendTrailers(requestTrailers(req)));
    // The origin's own 100 Continue (the visitor server leaves Expect: 100-continue to us; none comes without it).
    if (req.headers.expect !== undefined) opened.once('continue', () => res.writeContinue());
    opened.once('response', (headers) => {
      attempt.answered = true;
      if (originErrorPage(res, headers, opened, ray)) return;
      const status = Number(headers[':status']);
      res.writeHead(status, responseHeaders(headers, ray));
      if (status === 304 || status === 204 || req.method === 'HEAD') opened.resume().once('end', () => res.end());
      else relayBody(opened, res);
    });
    opened.once('trailers', (trailers) => res.addTrailers(filterTrailers(trailers)));
    opened.once('error', (error) => {
      this.log.debug({ err: error.message, ray }, 'tunnel stream failed');
      this.broke(ctx, attempt);
    });
    // A stream can also close without an error (the edge dropped the connection: missed heartbeats, a deleted
    // tunnel): answer 502 (or retry) if nothing was sent yet, otherwise cut the visitor's response short.
    opened.once('close', () => {
      if (res.writableEnded || res.destroyed || opened.readableEnded) return;
      this.broke(ctx, attempt);
    });
    // Cancel only a stream still in use: a reset on a finished stream counts as an invalid frame
    // at the connector, and nghttp2 drops the whole connection after 1000 of those.
    res.once('close', () => {
      if (!res.writableFinished && !opened.closed && !opened.destroyed) opened.close(h2.NGHTTP2_CANCEL);
    });
  }

  /** The request's stream broke (an error, or a close before the end): retry it if it may be, else answer 502. */
  private broke(ctx: VisitorContext, attempt: Attempt): void {
    if (attempt.broken) return;
    attempt.broken = true;
    const { res, ray } = ctx;
    if (!attempt.answered && attempt.retries > 0 && !res.headersSent && !res.destroyed) {
      this.log.debug({ ray }, 'tunnel stream broke before the answer; retrying on another connection');
      this.dispatch(ctx, attempt.retries - 1, attempt.session).catch((error) => {
        this.log.warn({ err: (error as Error).message, ray }, 'could not retry the request');
        statusPage(res, 502, ray, BROKE);
      });
      return;
    }
    statusPage(res, 502, ray, BROKE);
  }
}

/** One try at sending a request on a tunnel stream. */
interface Attempt {
  readonly retries: number;
  /** The session the stream runs on, which a retry avoids. */
  readonly session?: ClientHttp2Session;
  /** The connector's response headers came. */
  answered: boolean;
  broken: boolean;
}

const REFUSED = Symbol('burrow.refused');
type RefusableSocket = Socket & { [REFUSED]?: true };
const H2C_WITH_BODY: Refusal = { status: 400, reason: 'An h2c upgrade with a body is not supported; send the request without Upgrade: h2c.' };

/** The response Node is writing on a visitor socket, if any (`_httpMessage` is how its own clientError handler sees it). */
function pendingResponse(socket: Duplex): ServerResponse | undefined {
  return (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
}

function isH2cUpgrade(upgrade: string | undefined): boolean {
  return upgrade !== undefined && /(?:^|[\s,])h2c(?:$|[\s,])/i.test(upgrade);
}

const BROKE = 'The connection to the tunnel broke while handling this request.';
/**
 * HTTP/2 stream priority as Node defaults it, spelled out: `session.request()` copies its options and, when these
 * are missing, adds them to the copy, which costs more (about 15 µs a request) than checking them.
 */
const DEFAULT_PRIORITY = { weight: 16, parent: 0, exclusive: false, silent: false } as const;
/** Methods a broken stream may be retried for (with no body): sending them twice does no harm. */
const RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Resolves when the response is over: sent in full, or its connection gone. */
function responseEnded(res: ServerResponse): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => res.once('close', resolve));
}

function clientIpOf(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Visitor headers minus hop-by-hop ones and visitor-sent `burrow-*`, plus forwarding headers. */
function requestTrailers(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in req.trailers) if (!isHopByHop(name, undefined, VISITOR_HEADERS)) out[name] = req.trailers[name]!;
  return out;
}

function filterTrailers(trailers: Http2Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in trailers) if (name.charCodeAt(0) !== 58) out[name] = String(trailers[name]);
  return out;
}

/**
 * Copies the tunnel stream's body to the visitor, like `stream.pipe(res)`, except that the DATA frames decrypted in
 * one turn of the event loop leave in one socket write instead of one write (and one syscall) per 16 KiB TLS
 * record. Backpressure is kept: the stream pauses while the visitor's socket holds RELAY_BUFFER (relay.ts) or more (pausing at
 * the socket's 16 KiB high-water mark would write, and resume the stream, once per frame).
 */
export function relayBody(source: Readable, res: ServerResponse): void {
  const batch = { res, corked: false };
  source.on('data', (chunk: Buffer) => {
    if (!batch.corked) {
      batch.corked = true;
      res.cork();
      setImmediate(uncorkBatch, batch);
    }
    if (!res.write(chunk) && mustPause(res)) source.pause();
  });
  res.on('drain', () => source.resume());
  source.once('end', () => res.end());
}

function uncorkBatch(batch: { res: ServerResponse; corked: boolean }): void {
  batch.corked = false;
  batch.res.uncork();
}
