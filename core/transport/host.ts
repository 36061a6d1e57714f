// The one host normaliser: a Host header or :authority as Burrow compares names (routes, ingress rules, zones).
import os from 'node:os';

/**
 * Lower-case, without the port, the trailing dot, or the brackets of an IPv6 literal:
 * `App.Example.TEST.:8080` -> `app.example.test`, `[::1]:80` -> `::1`. A bare IPv6 address (more than
 * one colon) keeps all of it. Empty for an empty or missing host.
 */
export function normalizeHost(host: string | undefined): string {
  if (!host) return '';
  let name = host.trim().toLowerCase();
  const bracketed = /^\[([^\]]*)\]/.exec(name);
  if (bracketed) name = bracketed[1]!;
  else if (name.indexOf(':') === name.lastIndexOf(':')) name = name.replace(/:\d*$/, '');
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/**
 * The name a visitor's `Host` header (or the authority of an absolute-form request target) routes by, normalised
 * like `normalizeHost`; empty when it is not a valid host: userinfo (`user@host`), a port alone (`:80`), spaces,
 * commas, non-ASCII bytes (IDNs travel as punycode, `xn--...`) or an IPv6 address without brackets.
 */
export function visitorHostname(host: string | undefined): string {
  if (!host) return '';
  const match = VISITOR_HOST.exec(host);
  if (!match) return '';
  return (match[1] ?? match[2]!).toLowerCase();
}

// `[v6]` or a reg-name / IPv4 (letters, digits, `-`, `_`, inner dots, one optional trailing dot), then `:port`.
const VISITOR_HOST = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_-](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_-])?)\.?)(?::\d{0,5})?$/;

/** True when `hostname` is `zone` or a name under it ("evil-example.test" is not under "example.test"). */
export function hostInZone(hostname: string, zone: string): boolean {
  const host = normalizeHost(hostname);
  const z = normalizeHost(zone);
  return z !== '' && host !== '' && (host === z || host.endsWith(`.${z}`));
}

/** `127.0.0.1:7844` -> { host: '127.0.0.1', port: 7844 }; `[::1]:7844` -> { host: '::1', port: 7844 }. */
export function splitHostPort(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(':');
  return { host: address.slice(0, index).replace(/^\[|\]$/g, ''), port: Number(address.slice(index + 1)) };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Whether `host` is a wildcard bind address (listening on every interface). */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/**
 * An address others can dial for a listener bound at `bound` (`host:port`): itself, or for a wildcard bind this
 * machine's first external IPv4 address (127.0.0.1 when it has none).
 */
export function reachableAddress(bound: string): string {
  const { host, port } = splitHostPort(bound);
  if (!isWildcardHost(host)) return bound;
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((address) => address && !address.internal && address.family === 'IPv4');
  return formatHostPort(external?.address ?? '127.0.0.1', port);
}
