// The headers a visitor's request and its response carry across the tunnel: hop-by-hop ones dropped, forwarding ones added.
import type { IncomingHttpHeaders as Http2Headers, OutgoingHttpHeaders } from 'node:http2';
import { connectionTokens, isHopByHop } from '../transport/hop-by-hop.ts';
import { Headers } from '../transport/protocol.ts';
import type { VisitorContext } from './visitor-context.ts';

/** What a visitor sends that must not reach the origin as sent: hop-by-hop headers, and `burrow-*` posing as the edge's. */
export const VISITOR_HEADERS = { dropReserved: true } as const;

export function requestHeaders(ctx: VisitorContext): OutgoingHttpHeaders {
  const { req } = ctx;
  const out: OutgoingHttpHeaders = {
    ':method': req.method,
    ':path': req.url,
    ':authority': req.headers.host,
    ':scheme': ctx.protocol,
  };
  const listed = connectionTokens(req.headers.connection);
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (isHopByHop(name, listed, VISITOR_HEADERS)) continue;
    const value = raw[i + 1]!;
    const existing = out[name];
    if (existing === undefined) out[name] = value;
    else if (name === 'cookie') out[name] = `${existing}; ${value}`;
    else out[name] = Array.isArray(existing) ? [...existing, value] : [existing as string, value];
  }
  if (/\btrailers\b/i.test(String(req.headers.te ?? ''))) out.te = 'trailers';
  // A visitor that lists X-Forwarded-For in Connection made its own value hop-by-hop: the edge starts the chain afresh.
  const xff = listed?.has('x-forwarded-for') ? undefined : req.headers['x-forwarded-for'];
  out['x-forwarded-for'] = xff ? `${xff}, ${ctx.clientIp}` : ctx.clientIp;
  out['x-forwarded-proto'] = ctx.protocol;
  out[Headers.connectingIp] = ctx.clientIp;
  out[Headers.ray] = ctx.ray;
  return out;
}

export function responseHeaders(headers: Http2Headers, ray: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    if (isHopByHop(name, undefined)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value as string | string[];
  }
  out[Headers.ray] = ray;
  return out;
}
