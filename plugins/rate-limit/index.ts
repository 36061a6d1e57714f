// Built-in plugin: a token bucket per visitor IP; over the limit, 429 with Retry-After. Runs on the connector or the edge.
import { z } from 'zod';
import { definePlugin, reply, type AnyResponse, type Dispose, type Middleware } from 'burrow';

/** What the middleware reads, on the edge and on the connector alike. */
interface VisitorRequest {
  clientIp: string;
  req: { resume(): unknown };
  res: AnyResponse;
}

export const rateLimitOptions = z
  .strictObject({
    /** Sustained rate: tokens added per minute (or per second with perSecond). */
    perMinute: z.number().positive().optional(),
    perSecond: z.number().positive().optional(),
    /** Bucket size: requests a visitor may make at once after being idle. Default: one minute's worth (at least 1). */
    burst: z.number().int().min(1).optional(),
    /** Buckets kept at most; beyond that, full (idle) buckets are dropped first. */
    maxVisitors: z.number().int().min(1).default(100_000),
  })
  .refine((o) => (o.perMinute === undefined) !== (o.perSecond === undefined), { message: 'expected exactly one of perMinute or perSecond' });
export type RateLimitOptions = z.output<typeof rateLimitOptions>;

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Per-key token buckets. `take` answers 0 when a request may pass, else the seconds until it could. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  readonly ratePerMs: number;
  readonly capacity: number;

  constructor(
    options: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {
    const perSecond = options.perSecond ?? options.perMinute! / 60;
    this.ratePerMs = perSecond / 1000;
    this.capacity = options.burst ?? Math.max(1, Math.floor(perSecond * 60));
    this.maxVisitors = options.maxVisitors;
  }

  private readonly maxVisitors: number;

  get size(): number {
    return this.buckets.size;
  }

  take(key: string): number {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxVisitors) this.sweep();
      bucket = { tokens: this.capacity, updatedAt: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.capacity, bucket.tokens + (now - bucket.updatedAt) * this.ratePerMs);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerMs / 1000));
  }

  /** Drops buckets that have refilled (their visitors are idle); if none has, the oldest half. */
  sweep(): void {
    const now = this.now();
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.updatedAt) * this.ratePerMs >= this.capacity) this.buckets.delete(key);
    }
    if (this.buckets.size >= this.maxVisitors) {
      let drop = Math.ceil(this.buckets.size / 2);
      for (const key of this.buckets.keys()) {
        if (drop-- <= 0) break;
        this.buckets.delete(key);
      }
    }
  }
}

function limiter(options: RateLimitOptions): { take: (ip: string) => number; dispose: Dispose } {
  const buckets = new TokenBuckets(options);
  const timer = setInterval(() => buckets.sweep(), 60_000);
  timer.unref();
  return { take: (ip) => buckets.take(ip), dispose: () => clearInterval(timer) };
}

const MESSAGE = 'Too many requests: slow down and retry later.';

export default definePlugin({
  id: 'rate-limit',
  description: 'token-bucket rate limit per visitor IP (429 with Retry-After)',
  middlewareOnly: true,
  options: rateLimitOptions,
  connector(api, options) {
    const { middleware, dispose } = rateLimiter(options);
    api.use(middleware);
    return dispose;
  },
  edge(api, options) {
    const { middleware, dispose } = rateLimiter(options);
    api.use(middleware);
    return dispose;
  },
});

/**
 * The same middleware serves the edge and the connector: both contexts carry the visitor's address as
 * `clientIp` (on the connector it comes from burrow-connecting-ip, not from the edge's socket).
 */
function rateLimiter(options: RateLimitOptions): { middleware: Middleware<VisitorRequest>; dispose: Dispose } {
  const { take, dispose } = limiter(options);
  const middleware: Middleware<VisitorRequest> = async (ctx, next) => {
    const wait = take(ctx.clientIp);
    if (wait === 0) return next();
    ctx.req.resume();
    reply(ctx.res, 429, MESSAGE, { 'retry-after': String(wait) });
  };
  return { middleware, dispose };
}
