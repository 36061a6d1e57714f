// HTTP/1.1 to the origin with http-proxy-3 over a keep-alive pool, WebSocket upgrades included; maps failures to 502/504.
import http from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Duplex, Stream } from 'node:stream';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { OriginError, endToEndHeaders, relay, type RequestContext, type StreamRequest } from 'burrow';
import type { HttpOriginOptions } from './options.ts';
import type { HttpOriginTarget, HttpTransport } from './origin.ts';
import { TunnelSocket, upgradeRequest } from './tunnel-socket.ts';

/** What an upgrade brings besides the socket: nothing, since the tunnel stream carries the visitor's bytes. */
const NO_HEAD = Buffer.alloc(0);
/** Response headers as they come from the origin: nothing beyond the hop-by-hop ones is dropped. */
const AS_SENT = {};

interface Pending {
  resolve: () => void;
  reject: (error: OriginError) => void;
  /** The tunnel stream of a plain request (none for upgrades, whose socket stands in for it). */
  stream?: ServerHttp2Stream;
  timedOut?: 'connect' | 'tls' | 'response';
  /** Where `serveStream` counts the response body bytes, when something observes them. */
  sent?: { bytes: number };
  /** Runs from the moment the outgoing request has a socket until the origin starts its answer. */
  responseTimer?: NodeJS.Timeout;
}

/**
 * The request as http-proxy-3 reads it: an HTTP/1.1 request with the visitor's headers as the middleware left
 * them, without the HTTP/2 pseudo-headers, and with Host (`:authority`, or `httpHostHeader`) last, where
 * http-proxy-3 puts it. Given the compat request instead, http-proxy-3 copies its headers and deletes the
 * pseudo-headers from the copy twice over, which leaves an object V8 handles slowly all the way through
 * http.request.
 */
class OutgoingRequest {
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor = 1;
  readonly httpVersion = '1.1';
  readonly headers: Record<string, string | string[]>;

  constructor(
    readonly method: string,
    readonly url: string,
    headers: IncomingHttpHeaders,
    hostHeader: string | undefined,
    /** What http-proxy-3 listens on for the request's errors: the compat request, or the stream itself. */
    private readonly source: Http2ServerRequest | ServerHttp2Stream,
    /**
     * What http-proxy-3 reads `destroyed` on, to tell a visitor who left from an origin that failed: the compat
     * request's socket, or the stream itself (never the session's socket, which throws once the session is gone).
     */
    readonly socket: unknown,
  ) {
    this.headers = outgoingHeaders(headers, hostHeader);
  }

  get connection(): unknown {
    return this.socket;
  }

  /** http-proxy-3 listens for the request's errors. */
  on(event: string, listener: (...args: unknown[]) => void): this {
    this.source.on(event, listener);
    return this;
  }
}

/**
 * The response as http-proxy-3 sees it when the answer is left to us (selfHandleResponse): for `serveStream`, the
 * stream it is answered on.
 */
class StreamResponse {
  headersSent = false;
  finished = false;
  constructor(readonly stream: ServerHttp2Stream) {}

  get writableFinished(): boolean {
    return this.stream.writableFinished;
  }

  on(event: string, listener: (...args: unknown[]) => void): this {
    this.stream.on(event, listener);
    return this;
  }
}

function outgoingHeaders(headers: IncomingHttpHeaders, hostHeader: string | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */ || name === 'host') continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  const host = hostHeader ?? headers[':authority'] ?? headers.host;
  if (host !== undefined) out.host = host;
  return out;
}

/** The body of a request without one: the outgoing request ends as soon as http-proxy-3 hands it over. */
const NO_BODY = {
  pipe(proxyReq: http.ClientRequest): http.ClientRequest {
    proxyReq.end();
    return proxyReq;
  },
} as unknown as Stream;

function cancelUnfinished(proxyReq: http.ClientRequest): void {
  if (!proxyReq.destroyed && !(proxyReq as { res?: http.IncomingMessage }).res?.complete) proxyReq.destroy();
}

function expireResponse(pending: Pending, proxyReq: http.ClientRequest): void {
  pending.timedOut = 'response';
  proxyReq.destroy(new Error('origin response timeout'));
}

export class Http1Transport implements HttpTransport {
  private readonly proxy: ProxyServer;
  private readonly agent: http.Agent;
  /** Keyed by the request object handed to http-proxy-3 (an OutgoingRequest, or an upgrade's UpgradeRequest). */
  private readonly pending = new WeakMap<object, Pending>();
  private readonly target: HttpOriginTarget;
  private readonly options: HttpOriginOptions;

  /** The target as http-proxy-3 takes it. */
  private readonly proxyTarget: never;

  constructor(target: HttpOriginTarget, options: HttpOriginOptions, ca: Buffer | undefined) {
    this.target = target;
    this.proxyTarget = proxyTargetOf(target);
    this.options = options;
    const secure = target.url.protocol === 'https:';
    // Verify the origin's own name (as cloudflared does), never the visitor's Host, which node would use by default.
    // SNI cannot carry an IP address: '' sends none, and verification then checks the address.
    const hostname = target.url.hostname.replace(/^\[|\]$/g, '');
    const servername = options.originServerName ?? (isIP(hostname) ? '' : hostname);
    const agentOptions = {
      // keepAliveConnections: 0 keeps no idle connections: each request opens its own.
      keepAlive: options.keepAliveConnections > 0,
      maxFreeSockets: options.keepAliveConnections,
      scheduling: 'lifo' as const,
      // An idle pooled connection closes after keepAliveTimeout (or sooner, if the origin's Keep-Alive hint says so).
      timeout: options.keepAliveTimeout,
      // TCP keep-alive probes after tcpKeepAlive of silence; node re-arms them with this when a socket returns to the pool.
      keepAliveMsecs: options.tcpKeepAlive,
      // Happy Eyeballs (RFC 8305) for origin names with both IPv4 and IPv6 addresses, unless noHappyEyeballs.
      autoSelectFamily: !options.noHappyEyeballs,
      ...(secure ? { rejectUnauthorized: !options.noTLSVerify, ca, servername } : {}),
    };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.proxy = createProxyServer({
      agent: this.agent,
      selfHandleResponse: true,
      xfwd: false,
      secure: !options.noTLSVerify,
      ca: ca?.toString(),
      ...(secure ? { ssl: { servername } } : {}),
    });
    this.proxy.on('proxyReq', (proxyReq, req, _res, _options, socket) => this.watch(proxyReq, req, socket));
    this.proxy.on('proxyRes', (proxyRes, req, res) =>
      res instanceof StreamResponse ? this.respondOnStream(proxyRes, req, res.stream) : this.respond(proxyRes, req, res as unknown as Http2ServerResponse),
    );
    this.proxy.on('proxyReqWs', (proxyReq, req, socket) => this.watchUpgrade(proxyReq, req, socket as Duplex));
    // Errors of the visitor's side of a WebSocket; the tunnel stream's own teardown handles them.
    this.proxy.on('error', () => undefined);
  }

  serve(ctx: RequestContext): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { req: source } = ctx;
      const pending: Pending = { resolve, reject, stream: source.stream };
      const req = new OutgoingRequest(source.method, source.url, source.headers, this.options.httpHostHeader, source, source.socket);
      this.pending.set(req, pending);
      this.proxy.web(
        req as never,
        ctx.res as never,
        { target: this.proxyTarget, auth: this.target.auth, buffer: this.requestBody(ctx, req) },
        (error: Error) => reject(this.classify(error, pending)),
      );
    });
  }

  /**
   * A request no middleware sees, straight from its stream (no compat request and response): the router sends only
   * requests without Expect, and with no body or one of declared length, this way.
   */
  serveStream({ stream, headers, sent }: StreamRequest): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = { resolve, reject, stream, sent };
      const req = new OutgoingRequest(headers[':method']!, headers[':path']!, headers, this.options.httpHostHeader, stream, stream);
      this.pending.set(req, pending);
      const body = stream.endAfterHeaders ? NO_BODY : ({ pipe: (proxyReq: http.ClientRequest) => (relay(stream, proxyReq, { coalesce: true }), proxyReq) } as unknown as Stream);
      this.proxy.web(req as never, new StreamResponse(stream) as never, { target: this.proxyTarget, auth: this.target.auth, buffer: body }, (error: Error) =>
        reject(this.classify(error, pending)),
      );
    });
  }

  /**
   * What http-proxy-3 pipes to the origin as the request body: nothing for a request without one; for Expect:
   * 100-continue or a body of unknown length (it may end in trailers), a stand-in that gets hold of the outgoing
   * request http-proxy-3 would not show us, to relay the origin's 100 Continue (http-proxy-3 emits no `proxyReq`
   * for Expect requests) and to send the visitor's request trailers before the end; otherwise a stand-in that
   * relays the body (relay.ts).
   */
  private requestBody(ctx: RequestContext, outgoing: OutgoingRequest): Stream {
    const { req, res } = ctx;
    const expect = req.headers.expect !== undefined;
    if (!expect && req.stream.endAfterHeaders) return NO_BODY;
    const pipe = (proxyReq: http.ClientRequest) => {
      if (!expect && req.headers['content-length'] !== undefined) {
        relay(req, proxyReq, { coalesce: true });
        return proxyReq;
      }
      if (expect) {
        proxyReq.once('continue', () => res.writeContinue());
        proxyReq.once('socket', (socket: Socket) => this.watch(proxyReq, outgoing, socket));
      }
      relay(req, proxyReq, { end: false, coalesce: true });
      req.once('end', () => {
        if (Object.keys(req.trailers).length) proxyReq.addTrailers(req.trailers);
        proxyReq.end();
      });
      return proxyReq;
    };
    return { pipe } as unknown as Stream;
  }

  /**
   * A WebSocket through http-proxy-3's `proxy.ws`, on a TunnelSocket that stands in for the socket of
   * Node's `'upgrade'` event; an origin that closes without answering is a 502.
   */
  async upgrade(ctx: RequestContext): Promise<void> {
    const socket = new TunnelSocket(ctx.req, ctx.res, ctx.clientIp);
    await new Promise<void>((resolve, reject) => {
      const req = upgradeRequest(ctx, socket);
      const pending: Pending = { resolve, reject };
      this.pending.set(req, pending);
      socket.once('close', () => resolve());
      const target = this.proxyTarget;
      this.proxy.ws(
        req as never,
        socket as never,
        NO_HEAD,
        { target, headers: this.options.httpHostHeader ? { host: this.options.httpHostHeader } : undefined, auth: this.target.auth },
        (error: Error) => reject(this.classify(error, pending)),
      );
    });
    if (!socket.responded) throw new OriginError(502, `the origin ${ctx.rule.service.raw} closed the connection without answering the upgrade`);
  }

  /** Timers as for plain requests; and when either side of an upgraded connection closes, so does the other. */
  private watchUpgrade(proxyReq: http.ClientRequest, req: object, socket: Duplex): void {
    proxyReq.once('socket', (outgoing: Socket) => this.watch(proxyReq, req, outgoing));
    proxyReq.once('upgrade', (_res, proxySocket: Socket) => {
      if (socket.destroyed) proxySocket.destroy();
      else socket.once('close', () => proxySocket.destroySoon());
    });
    socket.once('close', () => {
      if (!proxyReq.destroyed) proxyReq.destroy();
    });
  }

  /** Starts the connect and response timers once the outgoing request has a socket. */
  private watch(proxyReq: http.ClientRequest, req: object, socket: Socket): void {
    const pending = this.pending.get(req);
    if (!pending) return;
    if (!proxyReq.reusedSocket) {
      socket.setKeepAlive(true, this.options.tcpKeepAlive);
      this.watchConnect(proxyReq, socket, pending);
    }
    pending.responseTimer = setTimeout(expireResponse, this.options.responseTimeout, pending, proxyReq);
    const stream = pending.stream;
    if (!stream) {
      // An upgrade may answer with 101 (no 'response'), or refuse with an ordinary response.
      const answered = () => clearTimeout(pending.responseTimer);
      proxyReq.once('response', answered);
      proxyReq.once('upgrade', answered);
      proxyReq.once('close', answered);
      return;
    }
    // The visitor went away (or the tunnel connection died) before the origin finished: cancel the origin
    // request so a long poll or an event stream does not hold the origin's connection open forever.
    // (`respond` stops the response timer when the answer starts.) A bound function, not a closure: tsx names
    // every named closure it creates, which costs more than the closure.
    const cancel = cancelUnfinished.bind(undefined, proxyReq);
    stream.once('close', cancel);
    proxyReq.once('close', () => {
      clearTimeout(pending.responseTimer);
      stream.off('close', cancel);
    });
  }

  /** A fresh connection must connect within connectTimeout, and a TLS one finish its handshake within tlsTimeout. */
  private watchConnect(proxyReq: http.ClientRequest, socket: Socket, pending: Pending): void {
    const expire = (kind: 'connect' | 'tls') => () => {
      pending.timedOut = kind;
      proxyReq.destroy(new Error(`origin ${kind} timeout`));
    };
    if (socket.connecting) {
      const connectTimer = setTimeout(expire('connect'), this.options.connectTimeout);
      socket.once('connect', () => clearTimeout(connectTimer));
      socket.once('close', () => clearTimeout(connectTimer));
    }
    if (socket instanceof TLSSocket) {
      let tlsTimer: NodeJS.Timeout | undefined;
      const startHandshakeTimer = () => (tlsTimer = setTimeout(expire('tls'), this.options.tlsTimeout));
      if (socket.connecting) socket.once('connect', startHandshakeTimer);
      else startHandshakeTimer();
      socket.once('secureConnect', () => clearTimeout(tlsTimer));
      socket.once('close', () => clearTimeout(tlsTimer));
    }
  }

  private respond(proxyRes: http.IncomingMessage, req: object, res: Http2ServerResponse): void {
    const pending = this.pending.get(req);
    if (pending) clearTimeout(pending.responseTimer);
    const headers = endToEndHeaders(proxyRes.headers, AS_SENT);
    if (res.stream.destroyed) {
      proxyRes.destroy();
      pending?.resolve();
      return;
    }
    res.writeHead(proxyRes.statusCode ?? 502, headers);
    // Trailers can only follow a chunked body.
    if (proxyRes.headers['transfer-encoding'] !== undefined) {
      proxyRes.once('end', () => {
        const trailers = proxyRes.trailers;
        if (Object.keys(trailers).length) res.addTrailers(trailers);
      });
    }
    proxyRes.pipe(res);
    if (pending) {
      res.once('finish', pending.resolve);
      res.once('close', pending.resolve);
    }
    proxyRes.once('error', () => {
      if (!res.stream.destroyed) res.stream.close(2 /* INTERNAL_ERROR */);
      pending?.resolve();
    });
  }

  /** `respond` for `serveStream`: the origin's answer goes out on the stream with `stream.respond`. */
  private respondOnStream(proxyRes: http.IncomingMessage, req: object, stream: ServerHttp2Stream): void {
    const pending = this.pending.get(req);
    if (pending) clearTimeout(pending.responseTimer);
    if (stream.destroyed) {
      proxyRes.destroy();
      pending?.resolve();
      return;
    }
    const headers: OutgoingHttpHeaders = endToEndHeaders(proxyRes.headers, AS_SENT);
    headers[':status'] = proxyRes.statusCode ?? 502;
    // Trailers can only follow a chunked body; HTTP/2 sends them as a last HEADERS frame.
    const trailers = proxyRes.headers['transfer-encoding'] !== undefined;
    stream.respond(headers, trailers ? { waitForTrailers: true } : undefined);
    if (trailers) stream.once('wantTrailers', () => stream.sendTrailers(proxyRes.trailers));
    if (pending) stream.once('close', pending.resolve);
    proxyRes.once('error', () => {
      if (!stream.destroyed) stream.close(2 /* INTERNAL_ERROR */);
      pending?.resolve();
    });
    // HEAD, 204 and 304 end the stream with the headers (respond does): the origin's (empty) body is drained.
    if (stream.writableEnded) proxyRes.resume();
    else relay(proxyRes, stream, { counter: pending?.sent });
  }

  private classify(error: Error & { code?: string }, pending: Pending): OriginError {
    const service = this.target.socketPath ?? this.target.url.host;
    if (pending.timedOut === 'connect') return new OriginError(504, `the origin ${service} did not accept the connection within ${this.options.connectTimeout} ms`);
    if (pending.timedOut === 'tls') return new OriginError(504, `the origin ${service} did not complete the TLS handshake within ${this.options.tlsTimeout} ms (originRequest.tlsTimeout)`);
    if (pending.timedOut === 'response') return new OriginError(504, `the origin ${service} did not answer within ${this.options.responseTimeout} ms`);
    const code = error.code ?? '';
    if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code) || /certificate/i.test(error.message)) {
      return new OriginError(502, `the origin ${service} failed TLS verification (${code || error.message}); set originRequest.caPool or noTLSVerify`, { cause: error });
    }
    return new OriginError(502, `the origin ${service} could not be reached: ${code || error.message}`, { cause: error });
  }

  close(): void {
    this.agent.destroy();
    this.proxy.close();
  }
}

function proxyTargetOf({ url, socketPath }: HttpOriginTarget): never {
  if (socketPath) return { socketPath, protocol: url.protocol, host: 'localhost', port: 0 } as never;
  if (url.port) return url as never;
  // http-proxy-3 reads an empty URL.port (the scheme's default) as port 0.
  return { protocol: url.protocol, hostname: url.hostname, host: url.hostname, port: url.protocol === 'https:' ? 443 : 80 } as never;
}
