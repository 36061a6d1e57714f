// originRequest.http2Origin: requests to a TLS origin over HTTP/2 (undici, ALPN h2 with HTTP/1.1 fallback).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { Pool } from 'undici';
import type { Http2ServerRequest } from 'node:http2';
import { OriginError, type RequestContext } from '../../core/connector/origin.ts';
import type { OriginRequestOptions } from '../../core/connector/origin-request.ts';
import { HOP_BY_HOP } from '../../core/transport/hop-by-hop.ts';
import { HttpOrigin, lengthUnknown, refuseUnknownLength, type HttpOriginTarget } from './http-origin.ts';

const CONNECT_TIMEOUT = 'BURROW_ORIGIN_CONNECT_TIMEOUT';
const TLS_TIMEOUT = 'BURROW_ORIGIN_TLS_TIMEOUT';
// Request headers an HTTP/2 request cannot carry (besides the hop-by-hop ones).
const DROPPED = new Set(['host', 'expect', 'http2-settings']);

/**
 * Plain requests go over HTTP/2 when the origin offers it in ALPN; everything else (upgrades) stays with
 * HttpOrigin over HTTP/1.1, as cloudflared does.
 */
export class Http2Origin extends HttpOrigin {
  private readonly pool: Pool;
  private readonly h2Target: HttpOriginTarget;
  private readonly h2Options: OriginRequestOptions;

  constructor(target: HttpOriginTarget, options: OriginRequestOptions, configDir: string) {
    super(target, options, configDir);
    this.h2Target = target;
    this.h2Options = options;
    const ca = options.caPool ? readFileSync(path.resolve(configDir, options.caPool)) : undefined;
    const { hostname, port } = target.url;
    const host = hostname.replace(/^\[|\]$/g, '');
    // SNI cannot name an IP address; verification then checks the address itself.
    const servername = options.originServerName ?? (isIP(host) ? undefined : host);
    this.pool = new Pool(target.url.origin, {
      allowH2: true,
      keepAliveTimeout: options.keepAliveTimeout,
      keepAliveMaxTimeout: Math.max(options.keepAliveTimeout, 1_000),
      headersTimeout: options.responseTimeout,
      bodyTimeout: 0,
      connect: (_opts, callback) => {
        const socket = tls.connect({
          ...(target.socketPath ? { path: target.socketPath } : { host, port: Number(port || 443) }),
          servername,
          ca,
          rejectUnauthorized: !options.noTLSVerify,
          ALPNProtocols: ['h2', 'http/1.1'],
          // Happy Eyeballs unless noHappyEyeballs (node's tls.connect takes net's connect options; its types omit this one).
          ...({ autoSelectFamily: !options.noHappyEyeballs } as object),
        });
        socket.setKeepAlive(true, options.tcpKeepAlive);
        let settled = false;
        const settle = (error: Error | null) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (error) {
            socket.destroy();
            callback(error, null);
          } else callback(null, socket);
        };
        const expire = (code: string, message: string) => () => settle(Object.assign(new Error(message), { code }));
        let timer = setTimeout(expire(CONNECT_TIMEOUT, 'connect timeout'), options.connectTimeout);
        socket.once('connect', () => {
          clearTimeout(timer);
          timer = setTimeout(expire(TLS_TIMEOUT, 'TLS handshake timeout'), options.tlsTimeout);
        });
        socket.once('secureConnect', () => settle(null));
        socket.once('error', (error) => settle(error));
      },
    });
  }

  override async serve(ctx: RequestContext): Promise<void> {
    const { req, res } = ctx;
    if (this.h2Options.disableChunkedEncoding && lengthUnknown(ctx)) return refuseUnknownLength(ctx);
    const abort = new AbortController();
    const onVisitorGone = () => abort.abort();
    res.once('close', onVisitorGone);
    try {
      const answer = await this.pool.request({
        method: req.method as 'GET',
        path: req.url || '/',
        headers: this.requestHeaders(req),
        body: req.stream.endAfterHeaders ? null : req,
        signal: abort.signal,
      });
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name)) continue;
        headers[name] = value;
      }
      if (res.stream.destroyed) {
        answer.body.destroy();
        return;
      }
      res.writeHead(answer.statusCode, headers);
      await new Promise<void>((resolve) => {
        answer.body.on('end', () => {
          if (Object.keys(answer.trailers).length) res.addTrailers(answer.trailers as Record<string, string>);
        });
        answer.body.pipe(res);
        res.once('finish', resolve);
        res.once('close', resolve);
        answer.body.once('error', () => {
          if (!res.stream.destroyed) res.stream.close(2 /* INTERNAL_ERROR */);
          resolve();
        });
      });
    } catch (error) {
      if (abort.signal.aborted) return;
      throw this.classifyH2(error as Error & { code?: string });
    } finally {
      res.off('close', onVisitorGone);
    }
  }

  private requestHeaders(req: Http2ServerRequest): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = {};
    const connectionTokens = String(req.headers.connection ?? '').split(',').map((t) => t.trim().toLowerCase());
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name.startsWith(':') || HOP_BY_HOP.has(name) || DROPPED.has(name) || connectionTokens.includes(name)) continue;
      headers[name] = value;
    }
    if (/\btrailers\b/.test(String(req.headers.te ?? ''))) headers.te = 'trailers';
    // undici takes the authority (HTTP/2) or Host (HTTP/1.1) from the host header.
    headers.host = this.h2Options.httpHostHeader ?? String(req.headers[':authority'] ?? req.headers.host ?? this.h2Target.url.host);
    return headers;
  }

  private classifyH2(error: Error & { code?: string }): OriginError {
    const service = this.h2Target.socketPath ?? this.h2Target.url.host;
    const { connectTimeout, tlsTimeout, responseTimeout } = this.h2Options;
    const code = error.code ?? '';
    if (code === CONNECT_TIMEOUT) return new OriginError(504, `the origin ${service} did not accept the connection within ${connectTimeout} ms`);
    if (code === TLS_TIMEOUT) return new OriginError(504, `the origin ${service} did not complete the TLS handshake within ${tlsTimeout} ms (originRequest.tlsTimeout)`);
    if (code === 'UND_ERR_HEADERS_TIMEOUT') return new OriginError(504, `the origin ${service} did not answer within ${responseTimeout} ms`);
    if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code) || /certificate/i.test(error.message)) {
      return new OriginError(502, `the origin ${service} failed TLS verification (${code || error.message}); set originRequest.caPool or noTLSVerify`, { cause: error });
    }
    return new OriginError(502, `the origin ${service} could not be reached over HTTP/2: ${code || error.message}`, { cause: error });
  }

  override async close(): Promise<void> {
    super.close();
    await this.pool.destroy();
  }
}

/** The HTTP origin for a target and its options: HTTP/2 for TLS origins when http2Origin is set. */
export function createHttpOrigin(target: HttpOriginTarget, options: OriginRequestOptions, configDir: string): HttpOrigin {
  const secure = target.url.protocol === 'https:';
  return options.http2Origin && secure ? new Http2Origin(target, options, configDir) : new HttpOrigin(target, options, configDir);
}
