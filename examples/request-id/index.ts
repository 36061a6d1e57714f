// Example third-party plugin: gives every request an id the origin and the visitor both see (the ray id by default).
import { beforeHeaders, definePlugin, z } from 'burrow';

const options = z.strictObject({
  header: z.string().regex(/^[a-z0-9-]+$/i, 'expected a header name').default('x-request-id'),
  /** Keep an id the visitor sent (e.g. from a load balancer in front) instead of replacing it. */
  trustIncoming: z.boolean().default(false),
});

export default definePlugin({
  id: 'request-id',
  options,
  connector(api, { header, trustIncoming }) {
    const name = header.toLowerCase();
    api.use(async (ctx, next) => {
      const incoming = ctx.req.headers[name];
      const id = trustIncoming && typeof incoming === 'string' && /^[\w.-]{1,128}$/.test(incoming) ? incoming : ctx.ray;
      ctx.req.headers[name] = id;
      beforeHeaders(ctx.res, () => ctx.res.setHeader(name, id));
      await next();
    });
  },
});
