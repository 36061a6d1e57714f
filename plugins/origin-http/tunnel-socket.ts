// The visitor's upgraded (WebSocket) connection as origin-http's HTTP/1.1 transport sees it: a socket over one tunnel stream.
import { Duplex } from 'node:stream';
import { constants as h2, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { Headers, endToEndHeaders, type RequestContext } from 'burrow';

/** An origin's response head larger than this is refused (Node's own limit is 16 KiB). */
const MAX_HEAD = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
/** An origin's head must not pose as Burrow's own headers (`burrow-*`). */
const FROM_ORIGIN = { dropReserved: true } as const;

interface ResponseHead {
  status: number;
  headers: Record<string, string | string[]>;
}

/**
 * Behaves like the socket Node hands an `'upgrade'` listener, so proxies written for one work
 * unchanged (http-proxy-3's `proxy.ws(req, socket, head)`): the origin side writes an HTTP/1.1
 * response head, then raw bytes. HTTP/2 has no 101, so a `101 Switching Protocols` head goes to
 * the edge as a 200 carrying the origin's headers and `burrow-upgrade: <protocol>`, and bytes
 * then flow both ways on the stream. Any other status is a refused upgrade and travels as an
 * ordinary response (a chunked body is decoded), so the visitor sees plain HTTP.
 *
 * Until a head is written the stream is left alone: if the origin fails first, the request
 * router still answers with an error page.
 */
export class TunnelSocket extends Duplex {
  /** Bytes of the response head received so far; undefined once it was sent on. */
  private pendingHead: Buffer | undefined = Buffer.alloc(0);
  private body?: ChunkedDecoder | { remaining: number };
  private reading = false;

  constructor(
    private readonly req: Http2ServerRequest,
    private readonly res: Http2ServerResponse,
    /** The visitor's address, where a proxy looks for `socket.remoteAddress`. */
    readonly remoteAddress: string,
  ) {
    super({ allowHalfOpen: true });
    res.once('close', () => this.destroy());
  }

  /** True once the origin answered (with 101 or anything else). */
  get responded(): boolean {
    return this.pendingHead === undefined;
  }

  // Reading starts on demand, so an origin that answers the request itself may still read `req`.
  override _read(): void {
    if (!this.reading) {
      this.reading = true;
      this.req.on('data', (chunk: Buffer) => {
        if (!this.push(chunk)) this.req.pause();
      });
      this.req.once('end', () => this.push(null));
    }
    this.req.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.forward(chunk, callback);
    } catch (error) {
      callback(error as Error);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.responded && !this.res.writableEnded && !this.res.stream.destroyed) this.res.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const { stream } = this.res;
    // After a complete answer the edge closes the stream once the visitor is gone; a reset here
    // could overtake the last DATA frames (nghttp2 sends RST_STREAM ahead of queued data).
    if (this.responded && !this.res.writableEnded && !stream.closed && !stream.destroyed) stream.close(h2.NGHTTP2_CANCEL);
    callback(error);
  }

  // net.Socket methods proxies call on the socket they are given; the tunnel has no such knobs.
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  /** Ends after pending writes are flushed, then closes (net.Socket#destroySoon). */
  destroySoon(): void {
    if (this.writableFinished) this.destroy();
    else {
      this.once('finish', () => this.destroy());
      this.end();
    }
  }

  private forward(chunk: Buffer, callback: (error?: Error | null) => void): void {
    if (this.pendingHead !== undefined) {
      const buffered = Buffer.concat([this.pendingHead, chunk]);
      const end = buffered.indexOf(HEAD_END);
      if (end < 0) {
        if (buffered.length > MAX_HEAD) throw new Error('the origin sent a response head larger than 64 KiB');
        this.pendingHead = buffered;
        return callback();
      }
      const head = parseHead(buffered.subarray(0, end).toString('latin1'));
      const rest = buffered.subarray(end + HEAD_END.length);
      if (head.status < 200 && head.status !== 101) {
        // An informational answer (100 Continue, 103 Early Hints) before the real one.
        this.pendingHead = Buffer.alloc(0);
        return rest.length ? this.forward(rest, callback) : callback();
      }
      this.pendingHead = undefined;
      this.respond(head);
      if (!rest.length) return callback();
      chunk = rest;
    }
    if (this.res.writableEnded) return callback();
    if (this.body instanceof ChunkedDecoder) {
      const { data, trailers } = this.body.decode(chunk);
      if (trailers) {
        if (Object.keys(trailers).length) this.res.addTrailers(trailers);
        if (data.length) this.res.write(data);
        this.res.end();
        return callback();
      }
      chunk = data;
    } else if (this.body) {
      chunk = chunk.subarray(0, this.body.remaining);
      this.body.remaining -= chunk.length;
      if (this.body.remaining === 0) {
        this.res.end(chunk);
        return callback();
      }
    }
    if (!chunk.length || this.res.write(chunk)) return callback();
    this.res.once('drain', () => callback());
  }

  private respond({ status, headers }: ResponseHead): void {
    const out = endToEndHeaders(headers, FROM_ORIGIN);
    if (status === 101) {
      out[Headers.upgrade] = String(headers.upgrade ?? 'websocket');
      this.res.writeHead(200, out);
      return;
    }
    const encoding = String(headers['transfer-encoding'] ?? '');
    if (/chunked/i.test(encoding)) this.body = new ChunkedDecoder();
    else if (headers['content-length'] !== undefined) this.body = { remaining: Number(headers['content-length']) };
    this.res.writeHead(status, out);
    if (this.body && !(this.body instanceof ChunkedDecoder) && this.body.remaining === 0) this.res.end();
  }
}

function parseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1];
  if (!status) throw new Error(`the origin sent a malformed status line: ${JSON.stringify(lines[0]?.slice(0, 100))}`);
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else headers[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return { status: Number(status), headers };
}

/** Decodes an HTTP/1.1 chunked body incrementally; returns the data and, at the end, the trailers. */
class ChunkedDecoder {
  private state: 'size' | 'data' | 'data-end' | 'trailers' = 'size';
  private remaining = 0;
  private line = '';
  private readonly trailers: Record<string, string> = {};

  decode(input: Buffer): { data: Buffer; trailers?: Record<string, string> } {
    const out: Buffer[] = [];
    let i = 0;
    while (i < input.length) {
      if (this.state === 'data') {
        const take = Math.min(this.remaining, input.length - i);
        out.push(input.subarray(i, i + take));
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'data-end';
        continue;
      }
      const newline = input.indexOf(10, i);
      const end = newline < 0 ? input.length : newline + 1;
      this.line += input.subarray(i, end).toString('latin1');
      i = end;
      if (newline < 0) {
        if (this.line.length > 8192) throw new Error('the origin sent a malformed chunked body');
        break;
      }
      const line = this.line.replace(/\r?\n$/, '');
      this.line = '';
      if (this.state === 'data-end') {
        this.state = 'size';
      } else if (this.state === 'size') {
        const size = Number.parseInt(line.split(';', 1)[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0) throw new Error('the origin sent a malformed chunked body');
        this.remaining = size;
        this.state = size === 0 ? 'trailers' : 'data';
      } else if (line === '') {
        return { data: Buffer.concat(out), trailers: this.trailers };
      } else {
        const colon = line.indexOf(':');
        if (colon > 0) this.trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    }
    return { data: Buffer.concat(out) };
  }
}

/**
 * The upgrade request as an HTTP/1.1 proxy expects it (an `IncomingMessage` look-alike): pseudo
 * headers and `burrow-upgrade` turned back into Host, `Connection: Upgrade` and `Upgrade`.
 */
export function upgradeRequest(ctx: RequestContext, socket: Duplex): UpgradeRequest {
  const headers: Record<string, string | string[]> = {};
  for (const name in ctx.req.headers) {
    const value = ctx.req.headers[name];
    if (name.charCodeAt(0) !== 58 /* ':' */ && name !== Headers.upgrade && value !== undefined) headers[name] = value;
  }
  headers.host = String(ctx.req.headers[':authority'] ?? headers.host ?? '');
  headers.connection = 'Upgrade';
  headers.upgrade = ctx.upgrade ?? 'websocket';
  return { method: ctx.req.method, url: ctx.path, headers, httpVersion: '1.1', httpVersionMajor: 1, httpVersionMinor: 1, socket, connection: socket };
}

export interface UpgradeRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  httpVersion: '1.1';
  httpVersionMajor: 1;
  httpVersionMinor: 1;
  socket: Duplex;
  connection: Duplex;
}
