// How connectors and visitors reach this PoP, from its settings and the addresses its listeners bound: what a PoP
// publishes for the others (network map) and what DNS answers with (A/AAAA of routed names, SRV targets).
import { isIP } from 'node:net';
import type { EdgeSettings } from '../../config/schema.ts';
import { isWildcardHost, reachableAddress, splitHostPort } from '../transport/host.ts';

export interface PublicAddresses {
  /** `host:port` connectors dial: `edge.advertise`, else the tunnel listener (a wildcard bind made reachable). */
  readonly tunnel: string;
  /** The IP addresses visitors reach this PoP at: `edge.dns.visitorAddresses`, else the host of listen.http/https. */
  readonly visitors: readonly string[];
}

export function publicAddresses(settings: EdgeSettings, listeners: Readonly<Record<string, string | undefined>>): PublicAddresses {
  const tunnel = settings.advertise ?? reachableAddress(listeners.tunnel ?? settings.listen.tunnel);
  const configured = settings.dns.visitorAddresses;
  const visitors = configured?.length
    ? [...configured]
    : [...new Set([listeners.https, listeners.http].filter((bound): bound is string => !!bound).map((bound) => splitHostPort(reachableAddress(bound)).host))].filter(
        (host) => isIP(host) !== 0 && !isWildcardHost(host),
      );
  return { tunnel, visitors };
}
