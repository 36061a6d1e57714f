// One HTTP(S) origin: requests go over its transport (HTTP/1.1, or HTTP/2 with http2Origin), WebSockets over HTTP/1.1.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { MaybePromise, Origin, RequestContext, StreamRequest } from 'burrow';
import { Http1Transport } from './http1-transport.ts';
import { Http2Transport } from './http2-transport.ts';
import type { HttpOriginOptions } from './options.ts';

export interface HttpOriginTarget {
  /** `http://host:port` or `https://host:port`; for unix sockets the scheme picks TLS or not. */
  readonly url: URL;
  /** Set for unix-socket origins. */
  readonly socketPath?: string;
  /**
   * `user:password` from the service URL (`http://user:pass@host`), decoded: the origin gets it as Basic
   * auth on every request, in place of any Authorization header the visitor sent.
   */
  readonly auth?: string;
}

/** How requests reach the origin; resolves when the response is complete, rejects with OriginError. */
export interface HttpTransport {
  serve(ctx: RequestContext): Promise<void>;
  close(): MaybePromise<void>;
}

export class HttpOrigin implements Origin {
  readonly relaysContinue = true;
  private readonly transport: HttpTransport;
  /** Upgrades always speak HTTP/1.1, as cloudflared's do. */
  private readonly http1: Http1Transport;
  /** The router's lighter way in, for requests no middleware sees: over HTTP/1.1 only. */
  readonly serveStream?: (request: StreamRequest) => Promise<void>;

  constructor(
    target: HttpOriginTarget,
    private readonly options: HttpOriginOptions,
    configDir: string,
  ) {
    const ca = options.caPool ? readFileSync(path.resolve(configDir, options.caPool)) : undefined;
    this.http1 = new Http1Transport(target, options, ca);
    this.transport = options.http2Origin && target.url.protocol === 'https:' ? new Http2Transport(target, options, ca) : this.http1;
    if (this.transport === this.http1) this.serveStream = (request) => this.http1.serveStream(request);
  }

  serve(ctx: RequestContext): Promise<void> {
    if (this.options.disableChunkedEncoding && lengthUnknown(ctx)) return refuseUnknownLength(ctx);
    return this.transport.serve(ctx);
  }

  /** WebSocket (ws://, wss://, and upgrades to http:// services, as in cloudflared); other protocols are plain requests. */
  upgrade(ctx: RequestContext): Promise<void> {
    if (ctx.upgrade?.toLowerCase() !== 'websocket') return this.serve(ctx);
    return this.http1.upgrade(ctx);
  }

  async close(): Promise<void> {
    this.http1.close();
    if (this.transport !== this.http1) await this.transport.close();
  }
}

/** True when the request has a body whose length the visitor did not declare (it arrived chunked). */
function lengthUnknown({ req }: RequestContext): boolean {
  return !req.stream.endAfterHeaders && req.headers['content-length'] === undefined;
}

/**
 * disableChunkedEncoding: the origin must get a Content-Length, and bodies are never buffered to learn it,
 * so a body of unknown length is refused with 411 (the visitor can resend it with Content-Length).
 */
async function refuseUnknownLength({ req, res }: RequestContext): Promise<void> {
  req.resume();
  const body = 'Length Required: this origin needs a Content-Length (originRequest.disableChunkedEncoding is on)\n';
  res.writeHead(411, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}
