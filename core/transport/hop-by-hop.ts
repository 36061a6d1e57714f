// Hop-by-hop headers (RFC 9110 7.6.1): the one place that decides which headers never cross a hop.

/** Hop-by-hop headers plus the ones HTTP/2 forbids (and `host`, which HTTP/2 carries as `:authority`). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'proxy-authenticate',
  'proxy-authorization',
  'http2-settings',
  'host',
]);

/** Headers Burrow reserves for itself (`burrow-ray`, ...): removed when a visitor or an origin sends them. */
export const RESERVED_PREFIX = 'burrow-';

/**
 * The header names a `Connection` header lists, to be dropped along with it; undefined for the usual
 * `keep-alive` or `close`, which list none of the headers actually sent.
 */
export function connectionTokens(connection: string | readonly string[] | undefined): ReadonlySet<string> | undefined {
  if (connection === undefined) return undefined;
  const value = typeof connection === 'string' ? connection : connection.join(',');
  if (value === '' || /^\s*(keep-alive|close)\s*$/i.test(value)) return undefined;
  return new Set(value.split(',').map((token) => token.trim().toLowerCase()));
}

export interface EndToEndOptions {
  /** Also drop `burrow-*` headers (what a visitor or origin sent must not pose as Burrow's own). */
  readonly dropReserved?: boolean;
  /** Further names to drop. */
  readonly drop?: ReadonlySet<string>;
}

/** True when the (lower-case) header `name` must not be forwarded. Pseudo-headers (`:status`) count as not forwardable. */
export function isHopByHop(name: string, listed: ReadonlySet<string> | undefined, options: EndToEndOptions = {}): boolean {
  return (
    name.charCodeAt(0) === 58 /* ':' */ ||
    HOP_BY_HOP.has(name) ||
    (listed !== undefined && listed.has(name)) ||
    (options.dropReserved === true && name.startsWith(RESERVED_PREFIX)) ||
    (options.drop !== undefined && options.drop.has(name))
  );
}

/** A copy of `headers` (lower-case names, as node parses them) with only the end-to-end headers. */
export function endToEndHeaders(
  headers: Readonly<Record<string, string | string[] | number | undefined>>,
  options: EndToEndOptions = {},
): Record<string, string | string[]> {
  const listed = connectionTokens(headers.connection as string | string[] | undefined);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || isHopByHop(name, listed, options)) continue;
    out[name] = typeof value === 'number' ? String(value) : value;
  }
  return out;
}
