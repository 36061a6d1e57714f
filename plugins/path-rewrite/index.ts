// Built-in plugin: rewrites the request path the origin sees (strip or add a prefix, regex replace).
import { z } from 'zod';
import { definePlugin } from 'burrow';

const regex = z.string().superRefine((value, ctx) => {
  try {
    new RegExp(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `expected a regular expression: ${(error as Error).message}` });
  }
});
const prefix = z.string().regex(/^\/\S*[^/\s]$/, 'expected a path prefix starting with / and not ending with /, such as /api');

export const pathRewriteOptions = z.strictObject({
  /** Removed from the start of the path (whole segments only): /api/users -> /users. */
  stripPrefix: prefix.optional(),
  /** Regular-expression replacements on the path (not the query), applied in order; `to` may use $1. */
  replace: z.array(z.strictObject({ from: regex, to: z.string() })).optional(),
  /** Put in front of the path after the other steps: /users -> /v2/users. */
  addPrefix: prefix.optional(),
});
export type PathRewriteOptions = z.output<typeof pathRewriteOptions>;

export default definePlugin({
  id: 'path-rewrite',
  description: 'strip or add a path prefix, or rewrite the path with regular expressions',
  middlewareOnly: true,
  options: pathRewriteOptions,
  connector(api, options) {
    const replacements = (options.replace ?? []).map(({ from, to }) => ({ from: new RegExp(from), to }));
    api.use(async (ctx, next) => {
      const url = ctx.req.url || '/';
      const queryAt = url.indexOf('?');
      let path = queryAt < 0 ? url : url.slice(0, queryAt);
      const query = queryAt < 0 ? '' : url.slice(queryAt);
      const stripped = options.stripPrefix !== undefined && (path === options.stripPrefix || path.startsWith(`${options.stripPrefix}/`));
      if (stripped) path = path.slice(options.stripPrefix!.length) || '/';
      for (const { from, to } of replacements) path = path.replace(from, to);
      if (options.addPrefix !== undefined) path = options.addPrefix + (path === '/' ? '' : path) || '/';
      if (!path.startsWith('/')) path = `/${path}`;
      // Tell the origin which prefix the visitor used, so it can build links (as Traefik and nginx setups do).
      if (stripped) ctx.req.headers['x-forwarded-prefix'] = options.stripPrefix;
      ctx.req.url = path + query;
      ctx.path = ctx.req.url;
      await next();
    });
  },
});
