// originRequest.http2Origin: requests to a TLS origin over HTTP/2 (undici, ALPN h2 with HTTP/1.1 fallback).
import { isIP } from 'node:net';
import tls from 'node:tls';
import { Pool } from 'undici';
import type { Http2ServerRequest } from 'node:http2';
import { OriginError, endToEndHeaders, type RequestContext } from 'burrow';
import type { HttpOriginOptions } from './options.ts';
import type { HttpOriginTarget, HttpTransport } from './origin.ts';

const CONNECT_TIMEOUT = 'BURROW_ORIGIN_CONNECT_TIMEOUT';
const TLS_TIMEOUT = 'BURROW_ORIGIN_TLS_TIMEOUT';
// Request headers an HTTP/2 request cannot carry, besides the hop-by-hop ones (host is one: undici gets it set below).
const TO_ORIGIN = { drop: new Set(['expect']) } as const;
const FROM_ORIGIN = {};

/** Plain requests over HTTP/2 when the origin offers it in ALPN (upgrades stay on HTTP/1.1, as in cloudflared). */
export class Http2Transport implements HttpTransport {
  private readonly pool: Pool;
  private readonly target: HttpOriginTarget;
  private readonly options: HttpOriginOptions;

  constructor(target: HttpOriginTarget, options: HttpOriginOptions, ca: Buffer | undefined) {
    this.target = target;
    this.options = options;
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

  async serve(ctx: RequestContext): Promise<void> {
    const { req, res } = ctx;
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
      const headers = endToEndHeaders(answer.headers, FROM_ORIGIN);
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
      throw this.classify(error as Error & { code?: string });
    } finally {
      res.off('close', onVisitorGone);
    }
  }

  private requestHeaders(req: Http2ServerRequest): Record<string, string | string[]> {
    const headers = endToEndHeaders(req.headers, TO_ORIGIN);
    if (/\btrailers\b/.test(String(req.headers.te ?? ''))) headers.te = 'trailers';
    // undici takes the authority (HTTP/2) or Host (HTTP/1.1) from the host header.
    headers.host = this.options.httpHostHeader ?? String(req.headers[':authority'] ?? req.headers.host ?? this.target.url.host);
    if (this.target.auth !== undefined) headers.authorization = `Basic ${Buffer.from(this.target.auth).toString('base64')}`;
    return headers;
  }

  private classify(error: Error & { code?: string }): OriginError {
    const service = this.target.socketPath ?? this.target.url.host;
    const { connectTimeout, tlsTimeout, responseTimeout } = this.options;
    const code = error.code ?? '';
    if (code === CONNECT_TIMEOUT) return new OriginError(504, `the origin ${service} did not accept the connection within ${connectTimeout} ms`);
    if (code === TLS_TIMEOUT) return new OriginError(504, `the origin ${service} did not complete the TLS handshake within ${tlsTimeout} ms (originRequest.tlsTimeout)`);
    if (code === 'UND_ERR_HEADERS_TIMEOUT') return new OriginError(504, `the origin ${service} did not answer within ${responseTimeout} ms`);
    if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code) || /certificate/i.test(error.message)) {
      return new OriginError(502, `the origin ${service} failed TLS verification (${code || error.message}); set originRequest.caPool or noTLSVerify`, { cause: error });
    }
    return new OriginError(502, `the origin ${service} could not be reached over HTTP/2: ${code || error.message}`, { cause: error });
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
