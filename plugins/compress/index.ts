// Built-in plugin: compresses compressible responses on the fly (br or gzip, by Accept-Encoding), streaming.
import zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import type { Http2ServerResponse } from 'node:http2';
import { z } from 'zod';
import { beforeHeaders, definePlugin } from 'burrow';

const ENCODINGS = ['br', 'gzip'] as const;
type Encoding = (typeof ENCODINGS)[number];

/** Text-like types worth compressing; event streams are left alone so each event goes out as it is written. */
const DEFAULT_TYPES = [
  'text/*',
  'application/json',
  'application/*+json',
  'application/javascript',
  'application/xml',
  'application/*+xml',
  'application/wasm',
  'image/svg+xml',
  'font/ttf',
  'font/otf',
];

export const compressOptions = z.strictObject({
  /** Encodings offered, in order of preference. */
  encodings: z.array(z.enum(ENCODINGS)).min(1).default(['br', 'gzip']),
  /** Responses whose Content-Length is below this stay as they are. */
  minBytes: z.number().int().min(0).default(1024),
  /** Media types to compress; `*` matches any run of characters. */
  types: z.array(z.string().regex(/^[a-z0-9*.+-]+\/[a-z0-9*.+-]+$/i, 'expected a media type such as text/* or application/json')).default(DEFAULT_TYPES),
  /** gzip level 1-9 and brotli quality 0-11: lower is faster. */
  gzipLevel: z.number().int().min(1).max(9).default(6),
  brotliQuality: z.number().int().min(0).max(11).default(4),
});
export type CompressOptions = z.output<typeof compressOptions>;

export default definePlugin({
  id: 'compress',
  description: 'gzip and brotli compression of compressible responses',
  middlewareOnly: true,
  options: compressOptions,
  connector(api, options) {
    const compressible = typeMatcher(options.types);
    api.use(async (ctx, next) => {
      if (ctx.req.method === 'HEAD') return next();
      const encoding = negotiate(ctx.req.headers['accept-encoding'], options.encodings);
      const res = ctx.res;
      const body = new CompressedBody(res);
      beforeHeaders(res, (status) => {
        const type = String(res.getHeader('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
        if (!compressible(type)) return;
        // The body differs by Accept-Encoding from here on, whichever encoding this visitor gets.
        appendVary(res);
        if (!encoding || status < 200 || status === 204 || status === 206 || status === 304) return;
        if (res.getHeader('content-encoding') !== undefined && res.getHeader('content-encoding') !== 'identity') return;
        if (/\bno-transform\b/i.test(String(res.getHeader('cache-control') ?? ''))) return;
        const length = Number(res.getHeader('content-length') ?? body.knownLength ?? Number.NaN);
        if (length < options.minBytes) return;
        res.removeHeader('content-length');
        res.setHeader('content-encoding', encoding);
        const etag = res.getHeader('etag');
        // The compressed bytes differ from the ones the strong validator named.
        if (typeof etag === 'string' && !etag.startsWith('W/')) res.setHeader('etag', `W/${etag}`);
        body.start(
          encoding === 'br'
            ? zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: options.brotliQuality } })
            : zlib.createGzip({ level: options.gzipLevel }),
        );
      });
      await next();
    });
  },
});

/**
 * Routes what the origin writes through a compressor once headers go out. Backpressure holds end to
 * end: the compressor pauses while the tunnel stream is full, and the writer gets the compressor's
 * 'drain', so nothing piles up in memory.
 */
class CompressedBody {
  private compressor?: Transform;
  /** Length of the body given to end() when nothing was written before (known before headers go out). */
  knownLength?: number;

  constructor(private readonly res: Http2ServerResponse) {
    const write = res.write;
    const end = res.end;
    const on = res.on;
    const once = res.once;
    const removeListener = res.removeListener;
    const self = this;
    const sendHeaders = () => {
      if (!res.headersSent) res.writeHead(res.statusCode);
    };
    res.write = function (this: Http2ServerResponse, chunk: unknown, encoding?: unknown, callback?: unknown) {
      sendHeaders();
      if (!self.compressor) return write.call(this, chunk as string, encoding as BufferEncoding, callback as () => void);
      return self.compressor.write(chunk, encoding as BufferEncoding, callback as () => void);
    } as typeof res.write;
    res.end = function (this: Http2ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown) {
      if (typeof chunk === 'function') [chunk, callback] = [undefined, chunk];
      else if (typeof encoding === 'function') [encoding, callback] = [undefined, encoding];
      if (!res.headersSent && chunk !== undefined && chunk !== null) {
        self.knownLength = typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding as BufferEncoding) : (chunk as Uint8Array).byteLength;
      }
      sendHeaders();
      if (!self.compressor) return end.call(this, chunk as string, encoding as BufferEncoding, callback as () => void);
      if (typeof callback === 'function') res.once('finish', callback as () => void);
      if (chunk !== undefined && chunk !== null) self.compressor.end(chunk, encoding as BufferEncoding);
      else self.compressor.end();
      return this;
    } as typeof res.end;
    // A writer waiting for 'drain' waits for the compressor's, which follows the tunnel stream's.
    const drainTarget = (event: string | symbol) => (event === 'drain' && self.compressor ? self.compressor : undefined);
    const routeDrain = (method: 'on' | 'once' | 'removeListener', original: typeof on) =>
      function (this: Http2ServerResponse, event: string | symbol, listener: (...args: any[]) => void) {
        const target = drainTarget(event);
        if (target) target[method]('drain', listener);
        else original.call(this, event, listener);
        return this;
      } as typeof on;
    res.on = res.addListener = routeDrain('on', on);
    res.once = routeDrain('once', once);
    res.removeListener = res.off = routeDrain('removeListener', removeListener);
    this.write = (chunk) => (write as (chunk: Buffer) => boolean).call(res, chunk);
    this.end = () => void (end as () => void).call(res);
  }

  private readonly write: (chunk: Buffer) => boolean;
  private readonly end: () => void;

  start(compressor: Transform): void {
    this.compressor = compressor;
    compressor.on('data', (chunk: Buffer) => {
      if (!this.write(chunk)) {
        compressor.pause();
        this.res.stream.once('drain', () => compressor.resume());
      }
    });
    compressor.once('end', () => this.end());
    compressor.once('error', () => this.res.stream.close(2 /* INTERNAL_ERROR */));
    this.res.once('close', () => compressor.destroy());
  }
}

/** The first of `offered` the visitor accepts (q > 0), honouring `*` and `q=0` refusals. */
export function negotiate(header: string | string[] | undefined, offered: readonly Encoding[]): Encoding | undefined {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (!text) return undefined;
  const q = new Map<string, number>();
  for (const part of text.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = qParam === undefined ? 1 : Number(qParam.slice(2));
    q.set(name.trim(), Number.isFinite(value) ? value : 0);
  }
  const wildcard = q.get('*');
  return offered.find((encoding) => (q.get(encoding) ?? wildcard ?? 0) > 0);
}

function typeMatcher(patterns: readonly string[]): (type: string) => boolean {
  const regexes = patterns.map((p) => new RegExp(`^${p.toLowerCase().replace(/[.+]/g, '\\$&').replace(/\*/g, '[^/]*')}$`));
  return (type) => type !== '' && regexes.some((r) => r.test(type));
}

function appendVary(res: Http2ServerResponse): void {
  const vary = res.getHeader('vary');
  const list = vary === undefined ? [] : String(vary).split(',').map((v) => v.trim());
  if (list.includes('*') || list.some((v) => v.toLowerCase() === 'accept-encoding')) return;
  res.setHeader('vary', [...list, 'Accept-Encoding'].join(', '));
}
