// Tees a request and its response into an exchange while they flow: the first bytes of each body, headers, timing.
import type { Http2ServerRequest, Http2ServerResponse, OutgoingHttpHeaders } from 'node:http2';
import type { RequestContext } from 'burrow';
import type { ExchangeStore, HeaderMap } from './store.ts';

/**
 * Keeps a copy of the first `limit` bytes that pass and counts the rest. Copies, so a kept slice never pins
 * a larger chunk in memory; `release` drops the copy when the exchange leaves the store.
 */
export class BodyTap {
  private chunks: Buffer[] = [];
  private kept = 0;
  private released = false;
  /** Bytes seen in all. */
  size = 0;
  /** Whether the body's end was seen (a request body that ended, a response that finished). */
  ended = false;

  constructor(private readonly limit: number) {}

  observe(chunk: unknown, encoding?: unknown): void {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const isText = typeof chunk === 'string';
    if (!isText && !(chunk instanceof Uint8Array)) return;
    const textEncoding = typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8';
    const length = isText ? Buffer.byteLength(chunk, textEncoding) : chunk.byteLength;
    this.size += length;
    const room = this.limit - this.kept;
    if (room <= 0 || this.released || length === 0) return;
    const bytes = isText ? Buffer.from(chunk, textEncoding) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const copy = Buffer.from(bytes.subarray(0, room));
    this.chunks.push(copy);
    this.kept += copy.byteLength;
  }

  /** The kept bytes (at most `limit`). */
  get preview(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** True when the preview is the whole body: it ended and nothing was cut. */
  get complete(): boolean {
    return this.ended && this.size <= this.limit && !this.released;
  }

  release(): void {
    this.released = true;
    this.chunks = [];
    this.kept = 0;
  }
}

/** Node's compat request reads its body from the HTTP/2 stream with `push`; `end` says it has ended. */
type PushFn = (chunk: unknown, encoding?: BufferEncoding) => boolean;

/**
 * Records one request into the store and watches it to the end. The request body is seen in `push`, where the
 * HTTP/2 stream hands it to the request object, so the request's flow (paused or flowing, back-pressure) is
 * untouched; the response body is seen in `write` and `end`, and the headers where the response sends them.
 */
export function capture(ctx: RequestContext, store: ExchangeStore, bodyBytes: number, replayOf: number | undefined): void {
  const { req, res } = ctx;
  const started = performance.now();
  const request = new BodyTap(bodyBytes);
  const response = new BodyTap(bodyBytes);
  const exchange = store.add({
    ray: ctx.ray,
    method: req.method,
    host: ctx.hostname,
    path: req.url || '/',
    authority: String(req.headers[':authority'] ?? req.headers.host ?? ''),
    scheme: String(req.headers[':scheme'] ?? 'https'),
    rule: ctx.rule.index,
    startedAt: Date.now(),
    requestHeaders: plainHeaders(req.headers),
    request,
    response,
    replayOf,
    state: 'pending',
  });
  tapRequest(req, request);
  tapResponse(res, response, (headers) => {
    exchange.firstByteMs ??= round(performance.now() - started);
    exchange.responseHeaders = plainHeaders(headers);
  });
  res.once('close', () => {
    exchange.totalMs = round(performance.now() - started);
    exchange.firstByteMs ??= exchange.totalMs;
    exchange.status = res.statusCode;
    response.ended = res.writableFinished;
    exchange.state = res.writableFinished ? 'complete' : 'aborted';
    store.finished(exchange);
  });
}

function tapRequest(req: Http2ServerRequest, tap: BodyTap): void {
  // A request without a body has ended before any middleware runs.
  if (req.stream.endAfterHeaders || req.readableEnded) {
    tap.ended = true;
    return;
  }
  const target = req as unknown as { push: PushFn };
  const push = target.push;
  target.push = function (this: unknown, chunk, encoding) {
    if (chunk === null) tap.ended = true;
    else tap.observe(chunk, encoding);
    return push.call(this, chunk, encoding);
  };
}

function tapResponse(res: Http2ServerResponse, tap: BodyTap, onHeaders: (headers: OutgoingHttpHeaders) => void): void {
  // Every way of answering (writeHead, an implicit head on the first write, the connector's error answers) ends
  // in one `respond` on the stream, with the headers as they leave.
  const stream = res.stream as unknown as { respond: (headers?: OutgoingHttpHeaders, options?: unknown) => void };
  const respond = stream.respond;
  stream.respond = function (this: unknown, headers, options) {
    onHeaders(headers ?? {});
    return respond.call(this, headers, options);
  };
  const write = res.write;
  const end = res.end;
  // Node's `end(chunk)` hands its chunk to `write`; a chunk is counted once, wherever it passes.
  let ending = false;
  let writtenWhileEnding = false;
  res.write = function (this: typeof res, chunk: unknown, ...rest: unknown[]) {
    tap.observe(chunk, rest[0]);
    if (ending) writtenWhileEnding = true;
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  res.end = function (this: typeof res, chunk?: unknown, ...rest: unknown[]) {
    ending = true;
    writtenWhileEnding = false;
    try {
      return (end as (...args: unknown[]) => typeof res).call(this, chunk, ...rest);
    } finally {
      ending = false;
      if (!writtenWhileEnding) tap.observe(chunk, rest[0]);
    }
  } as typeof res.end;
}

/** Header fields without HTTP/2 pseudo-headers, values as strings. */
function plainHeaders(headers: OutgoingHttpHeaders): HeaderMap {
  const plain: HeaderMap = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    plain[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return plain;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
