// Built-in plugin: one access-log line per request, on the edge (per visitor request) and on the connector (per
// request it proxied), with the ray id that ties the two together.
import { z } from 'zod';
import { definePlugin, type Logger } from 'burrow';

const accessLogOptions = z.strictObject({
  /** The level access lines are written at; below the logger's level they cost nothing. */
  level: z.enum(['trace', 'debug', 'info', 'warn']).default('info'),
});

/** The header the network puts on a forwarded request: the PoPs it crossed, landing PoP first. */
const PATH_HEADER = 'burrow-path';

export default definePlugin({
  id: 'access-log',
  description: 'one log line per request (ray id, host, status, bytes, duration, PoP path) on the edge and the connector',
  options: accessLogOptions,

  edge(api, { level }) {
    const log = api.log.child({ log: 'access' });
    if (!enabled(log, level)) return;
    const pop = api.settings.pop;
    api.use(async (ctx, next) => {
      const started = performance.now();
      const socket = ctx.upgrade?.socket ?? ctx.req.socket;
      const before = 'bytesWritten' in socket ? (socket.bytesWritten as number) : 0;
      ctx.res.once('close', () => {
        const bytes = 'bytesWritten' in socket ? (socket.bytesWritten as number) - before : undefined;
        log[level](
          {
            ray: ctx.ray,
            method: ctx.req.method,
            host: ctx.hostname,
            path: ctx.req.url,
            status: ctx.res.statusCode,
            bytes,
            ms: Math.round((performance.now() - started) * 10) / 10,
            pop,
            // The PoPs a forwarded request crosses (this one first); without forwarding, this PoP.
            pops: ctx.forwardedPath?.join(',') ?? pop,
            tunnel: ctx.tunnel?.id,
            client: ctx.clientIp,
            ...(ctx.res.writableFinished ? {} : { aborted: true }),
          },
          'request',
        );
      });
      await next();
    });
  },

  connector(api, { level }) {
    const log = api.log.child({ log: 'access' });
    if (!enabled(log, level)) return;
    api.use(async (ctx, next) => {
      const started = performance.now();
      const { res } = ctx;
      // Count what reaches the edge: every write of the response, however the origin adapter writes it
      // (end(chunk) writes its chunk through write).
      let bytes = 0;
      const write = res.write;
      res.write = function (this: typeof res, chunk: unknown, ...rest: unknown[]) {
        bytes += sizeOf(chunk);
        return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      } as typeof res.write;

      res.once('close', () => {
        const crossed = ctx.req.headers[PATH_HEADER];
        log[level](
          {
            ray: ctx.ray,
            method: ctx.req.method,
            host: ctx.hostname,
            path: ctx.req.url,
            status: res.statusCode,
            bytes,
            ms: Math.round((performance.now() - started) * 10) / 10,
            // The PoPs the request crossed; without a network it is the PoP the ray id names.
            pops: typeof crossed === 'string' ? crossed : ctx.ray.slice(ctx.ray.lastIndexOf('-') + 1),
            rule: ctx.rule.index,
            client: ctx.clientIp,
            ...(res.writableFinished ? {} : { aborted: true }),
          },
          'request',
        );
      });
      await next();
    });
  },
});

function enabled(log: Logger, level: string): boolean {
  return log.isLevelEnabled(level);
}

function sizeOf(chunk: unknown): number {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return 0;
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
