// HTTP/1.1 to the origin with http-proxy-3 over a keep-alive pool, WebSocket upgrades included; maps failures to 502/504.
import http from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Duplex, Stream } from 'node:stream';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { OriginError, endToEndHeaders, type RequestContext } from 'burrow';
import type { HttpOriginOptions } from './options.ts';
import type { HttpOriginTarget, HttpTransport } from './origin.ts';
import { TunnelSocket, upgradeRequest } from './tunnel-socket.ts';

/** What an upgrade brings besides the socket: nothing, since the tunnel stream carries the visitor's bytes. */
const NO_HEAD = Buffer.alloc(0);
/** Response headers as they come from the origin: nothing beyond the hop-by-hop ones is dropped. */
const AS_SENT = {};

interface Pending {
  ctx: RequestContext;
  resolve: () => void;
  reject: (error: OriginError) => void;
  timedOut?: 'connect' | 'tls' | 'response';
}

export class Http1Transport implements HttpTransport {
  private readonly proxy: ProxyServer;
  private readonly agent: http.Agent;
  private readonly pending = new WeakMap<Http2ServerRequest, Pending>();
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
    this.proxy.on('proxyReq', (proxyReq, req, _res, _options, socket) => this.watch(proxyReq, req as unknown as Http2ServerRequest, socket));
    this.proxy.on('proxyRes', (proxyRes, req, res) => this.respond(proxyRes, req as unknown as Http2ServerRequest, res as unknown as Http2ServerResponse));
    this.proxy.on('proxyReqWs', (proxyReq, req, socket) => this.watchUpgrade(proxyReq, req as unknown as Http2ServerRequest, socket as Duplex));
    // Errors of the visitor's side of a WebSocket; the tunnel stream's own teardown handles them.
    this.proxy.on('error', () => undefined);
  }

  serve(ctx: RequestContext): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = { ctx, resolve, reject };
      this.pending.set(ctx.req, pending);
      const target = this.proxyTarget;
      this.proxy.web(
        ctx.req as never,
        ctx.res as never,
        {
          target,
          headers: this.options.httpHostHeader ? { host: this.options.httpHostHeader } : undefined,
          auth: this.target.auth,
          buffer: relaysBody(ctx.req) ? this.requestBody(ctx) : undefined,
        },
        (error: Error) => reject(this.classify(error, pending)),
      );
    });
  }

  /**
   * Stands in for the request body http-proxy-3 pipes to the origin, to get hold of the outgoing
   * request it would not show us: to relay the origin's 100 Continue (http-proxy-3 emits no
   * `proxyReq` for Expect requests) and to send the visitor's request trailers before the end.
   */
  private requestBody(ctx: RequestContext): Stream {
    const { req, res } = ctx;
    const pipe = (proxyReq: http.ClientRequest) => {
      if (req.headers.expect !== undefined) {
        proxyReq.once('continue', () => res.writeContinue());
        proxyReq.once('socket', (socket: Socket) => this.watch(proxyReq, req, socket));
      }
      req.pipe(proxyReq, { end: false });
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
      const pending: Pending = { ctx, resolve, reject };
      this.pending.set(req as never, pending);
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
  private watchUpgrade(proxyReq: http.ClientRequest, req: Http2ServerRequest, socket: Duplex): void {
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
  private watch(proxyReq: http.ClientRequest, req: Http2ServerRequest, socket: Socket): void {
    const pending = this.pending.get(req);
    if (!pending) return;
    if (!proxyReq.reusedSocket) socket.setKeepAlive(true, this.options.tcpKeepAlive);
    const expire = (kind: 'connect' | 'tls' | 'response') => () => {
      pending.timedOut = kind;
      proxyReq.destroy(new Error(`origin ${kind} timeout`));
    };
    if (socket.connecting) {
      const connectTimer = setTimeout(expire('connect'), this.options.connectTimeout);
      socket.once('connect', () => clearTimeout(connectTimer));
      socket.once('close', () => clearTimeout(connectTimer));
    }
    // A fresh TLS socket must finish its handshake within tlsTimeout once TCP is up; pooled ones already did.
    if (socket instanceof TLSSocket && !proxyReq.reusedSocket) {
      let tlsTimer: NodeJS.Timeout | undefined;
      const startHandshakeTimer = () => (tlsTimer = setTimeout(expire('tls'), this.options.tlsTimeout));
      if (socket.connecting) socket.once('connect', startHandshakeTimer);
      else startHandshakeTimer();
      socket.once('secureConnect', () => clearTimeout(tlsTimer));
      socket.once('close', () => clearTimeout(tlsTimer));
    }
    const responseTimer = setTimeout(expire('response'), this.options.responseTimeout);
    const answered = () => clearTimeout(responseTimer);
    proxyReq.once('response', answered);
    // The visitor went away (or the tunnel connection died) before the origin finished: cancel the origin
    // request so a long poll or an event stream does not hold the origin's connection open forever.
    // Upgrades have no tunnel stream here (watchUpgrade ties both sockets together) and may answer with 101.
    const stream = req.stream as Http2ServerRequest['stream'] | undefined;
    const cancel = () => {
      if (!proxyReq.destroyed && !(proxyReq as { res?: http.IncomingMessage }).res?.complete) proxyReq.destroy();
    };
    if (stream) stream.once('close', cancel);
    else proxyReq.once('upgrade', answered);
    proxyReq.once('close', () => {
      clearTimeout(responseTimer);
      stream?.off('close', cancel);
    });
  }

  private respond(proxyRes: http.IncomingMessage, req: Http2ServerRequest, res: Http2ServerResponse): void {
    const pending = this.pending.get(req);
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
    const done = () => pending?.resolve();
    res.once('finish', done);
    res.once('close', done);
    proxyRes.once('error', () => {
      if (!res.stream.destroyed) res.stream.close(2 /* INTERNAL_ERROR */);
      done();
    });
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

/** Requests whose body needs `requestBody`: Expect: 100-continue, or a body of unknown length (it may end in trailers). */
function relaysBody(req: Http2ServerRequest): boolean {
  return req.headers.expect !== undefined || (req.headers['content-length'] === undefined && !req.stream.endAfterHeaders);
}

function proxyTargetOf({ url, socketPath }: HttpOriginTarget): never {
  if (socketPath) return { socketPath, protocol: url.protocol, host: 'localhost', port: 0 } as never;
  if (url.port) return url as never;
  // http-proxy-3 reads an empty URL.port (the scheme's default) as port 0.
  return { protocol: url.protocol, hostname: url.hostname, host: url.hostname, port: url.protocol === 'https:' ? 443 : 80 } as never;
}
