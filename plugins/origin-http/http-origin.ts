// An HTTP(S) origin proxied with http-proxy-3 over a keep-alive pool; maps failures to 502/504.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isIP, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { OriginError, type Origin, type RequestContext } from '../../core/connector/origin.ts';
import type { OriginRequestOptions } from '../../core/connector/origin-request.ts';
import { HOP_BY_HOP } from '../../core/transport/protocol.ts';

export interface HttpOriginTarget {
  /** `http://host:port` or `https://host:port`; for unix sockets the scheme picks TLS or not. */
  url: URL;
  /** Set for unix-socket origins. */
  socketPath?: string;
}

interface Pending {
  ctx: RequestContext;
  resolve: () => void;
  reject: (error: OriginError) => void;
  timedOut?: 'connect' | 'tls' | 'response';
}

export class HttpOrigin implements Origin {
  private readonly proxy: ProxyServer;
  private readonly agent: http.Agent;
  private readonly pending = new WeakMap<Http2ServerRequest, Pending>();
  private readonly target: HttpOriginTarget;
  private readonly options: OriginRequestOptions;

  constructor(target: HttpOriginTarget, options: OriginRequestOptions, configDir: string) {
    this.target = target;
    this.options = options;
    const secure = target.url.protocol === 'https:' || target.url.protocol === 'wss:';
    const ca = options.caPool ? readFileSync(path.resolve(configDir, options.caPool)) : undefined;
    // Verify the origin's own name (as cloudflared does), never the visitor's Host, which node would use by default.
    // SNI cannot carry an IP address: '' sends none, and verification then checks the address.
    const hostname = target.url.hostname.replace(/^\[|\]$/g, '');
    const servername = options.originServerName ?? (isIP(hostname) ? '' : hostname);
    const agentOptions = {
      // keepAliveConnections: 0 keeps no idle connections: each request opens its own.
      keepAlive: options.keepAliveConnections > 0,
      maxFreeSockets: options.keepAliveConnections,
      scheduling: 'lifo' as const,
      ...(secure ? { rejectUnauthorized: !options.noTLSVerify, ca, servername } : {}),
    };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.agent.on('free', (socket: Socket) => socket.setTimeout(options.keepAliveTimeout));
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
  }

  serve(ctx: RequestContext): Promise<void> {
    if (this.options.disableChunkedEncoding && lengthUnknown(ctx)) return refuseUnknownLength(ctx);
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = { ctx, resolve, reject };
      this.pending.set(ctx.req, pending);
      const { url, socketPath } = this.target;
      const target = socketPath
        ? ({ socketPath, protocol: url.protocol, host: 'localhost', port: 0 } as never)
        : url;
      this.proxy.web(
        ctx.req as never,
        ctx.res as never,
        {
          target,
          headers: this.options.httpHostHeader ? { host: this.options.httpHostHeader } : undefined,
        },
        (error: Error) => reject(this.classify(error, pending)),
      );
    });
  }

  /** Starts the connect and response timers once the outgoing request has a socket. */
  private watch(proxyReq: http.ClientRequest, req: Http2ServerRequest, socket: Socket): void {
    const pending = this.pending.get(req);
    if (!pending) return;
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
    proxyReq.once('response', () => clearTimeout(responseTimer));
    // The visitor went away (or the tunnel connection died) before the origin finished: cancel the origin
    // request so a long poll or an event stream does not hold the origin's connection open forever.
    const stream = req.stream;
    let complete = false;
    proxyReq.once('response', (proxyRes: http.IncomingMessage) => proxyRes.once('end', () => (complete = true)));
    const cancel = () => {
      if (!complete && !proxyReq.destroyed) proxyReq.destroy();
    };
    stream.once('close', cancel);
    proxyReq.once('close', () => {
      clearTimeout(responseTimer);
      stream.off('close', cancel);
    });
  }

  private respond(proxyRes: http.IncomingMessage, req: Http2ServerRequest, res: Http2ServerResponse): void {
    const pending = this.pending.get(req);
    const headers: Record<string, string | string[]> = {};
    const connectionTokens = proxyRes.headers.connection?.split(',').map((t) => t.trim().toLowerCase());
    for (const name in proxyRes.headers) {
      if (HOP_BY_HOP.has(name) || connectionTokens?.includes(name)) continue;
      headers[name] = proxyRes.headers[name]!;
    }
    if (res.stream.destroyed) {
      proxyRes.destroy();
      pending?.resolve();
      return;
    }
    res.writeHead(proxyRes.statusCode ?? 502, headers);
    proxyRes.on('end', () => {
      const trailers = proxyRes.trailers;
      if (Object.keys(trailers).length) res.addTrailers(trailers);
    });
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

/** True when the request has a body whose length the visitor did not declare (it arrived chunked). */
export function lengthUnknown({ req }: RequestContext): boolean {
  return !req.stream.endAfterHeaders && req.headers['content-length'] === undefined;
}

/**
 * disableChunkedEncoding: the origin must get a Content-Length, and bodies are never buffered to learn it,
 * so a body of unknown length is refused with 411 (the visitor can resend it with Content-Length).
 */
export async function refuseUnknownLength({ req, res }: RequestContext): Promise<void> {
  req.resume();
  const body = 'Length Required: this origin needs a Content-Length (originRequest.disableChunkedEncoding is on)\n';
  res.writeHead(411, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}
