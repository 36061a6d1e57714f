// burrow-plugin-maintenance: a third-party Burrow plugin shipped as an npm package (see its README.md).
// Everything comes from the host's `burrow` (a peer dependency): definePlugin, zod and the reply helper.
import { definePlugin, reply, z } from 'burrow';
import { BlockList, isIP } from 'node:net';

const options = z.strictObject({
  /** Turn the page on or off without removing the plugin. */
  enabled: z.boolean().default(true),
  message: z.string().default('We are doing some maintenance. Please come back soon.'),
  /** Seconds a visitor should wait, sent as Retry-After. */
  retryAfter: z.number().int().min(1).default(600),
  /** Visitor addresses (burrow-connecting-ip) that still reach the origin, e.g. the team's office. */
  allow: z.array(z.string().refine((ip) => isIP(ip) !== 0, 'expected an IP address')).default([]),
});

export default definePlugin({
  id: 'maintenance',
  description: 'maintenance page with Retry-After',
  options,
  connector(api, opts) {
    if (!opts.enabled) return;
    const allowed = new BlockList();
    for (const ip of opts.allow) allowed.addAddress(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
    api.log.info({ allow: opts.allow }, 'maintenance mode is on');
    api.use(async (ctx, next) => {
      const family = isIP(ctx.clientIp);
      if (family !== 0 && allowed.check(ctx.clientIp, family === 6 ? 'ipv6' : 'ipv4')) return next();
      ctx.req.resume();
      reply(ctx.res, 503, opts.message, { 'retry-after': String(opts.retryAfter) });
    });
  },
});
