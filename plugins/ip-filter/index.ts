// Built-in plugin: allows or denies visitors by IP address and CIDR range (node:net BlockList), on the edge or the connector.
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { definePlugin, reply, statusPage } from 'burrow';

const cidr = z.string().refine((value) => parseCidr(value) !== undefined, {
  message: 'expected an IP address or CIDR range such as 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32',
});
const hostname = z.string().regex(/^(\*\.)?[a-z0-9.-]+$/i, 'expected a hostname such as app.example.test or *.example.test');

export const ipFilterOptions = z
  .strictObject({
    /** Only these addresses may pass (when given). */
    allow: z.array(cidr).optional(),
    /** These addresses never pass, even when also allowed. */
    deny: z.array(cidr).optional(),
    /** Filter only requests for these hostnames (exact or `*.` wildcard); by default every request. */
    hostnames: z.array(hostname).optional(),
  })
  .refine((o) => (o.allow?.length ?? 0) + (o.deny?.length ?? 0) > 0, { message: 'expected an allow or deny list' });
export type IpFilterOptions = z.output<typeof ipFilterOptions>;

const FORBIDDEN = 'Access to this site is not allowed from your address.';

export default definePlugin({
  id: 'ip-filter',
  description: 'allow or deny visitors by IP address and CIDR',
  middlewareOnly: true,
  options: ipFilterOptions,
  // At the edge, a denied visitor never reaches the tunnel.
  edge(api, options) {
    const admits = compile(options);
    api.use(async (ctx, next) => {
      if (admits(ctx.hostname, ctx.clientIp)) return next();
      ctx.req.resume();
      statusPage(ctx.res, 403, ctx.ray, FORBIDDEN);
    });
  },
  // On the connector, the visitor's address is the burrow-connecting-ip the edge set.
  connector(api, options) {
    const admits = compile(options);
    api.use(async (ctx, next) => {
      if (admits(ctx.hostname, ctx.clientIp)) return next();
      ctx.req.resume();
      reply(ctx.res, 403, FORBIDDEN);
    });
  },
});

/** (hostname, ip) -> whether the request may pass. */
export function compile(options: IpFilterOptions): (hostname: string, ip: string) => boolean {
  const allow = options.allow?.length ? blockList(options.allow) : undefined;
  const deny = options.deny?.length ? blockList(options.deny) : undefined;
  const hostnames = options.hostnames?.map((h) => h.toLowerCase());
  return (hostname, ip) => {
    if (hostnames && !hostnames.some((h) => (h.startsWith('*.') ? hostname.endsWith(h.slice(1)) : hostname === h))) return true;
    const family = isIP(ip);
    // An address we cannot read matches nothing: refused when there is an allow list.
    if (family === 0) return allow === undefined;
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (deny?.check(ip, type)) return false;
    return allow === undefined || allow.check(ip, type);
  };
}

function blockList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const { address, prefix, type } = parseCidr(entry)!;
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  return list;
}

function parseCidr(value: string): { address: string; prefix?: number; type: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', bits, extra] = value.trim().split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return undefined;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) return { address, type };
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || prefix > (family === 6 ? 128 : 32)) return undefined;
  return { address, prefix, type };
}
