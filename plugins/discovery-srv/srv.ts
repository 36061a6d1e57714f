// SRV discovery: `_burrow._tcp.<region>.<domain>` (when a region is given) and `_burrow._tcp.<domain>`, asked of the
// configured resolver or the system's, each target resolved and its round trip measured: the TLS handshake a tunnel
// connection makes (with the connector's own certificate), best of 2, so it counts real round trips, not a local accept.
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import tls from 'node:tls';
import { EDGE_SERVER_NAME, formatHostPort, splitHostPort, type EdgeAddress, type Logger, type TunnelCredentials } from 'burrow';

type TlsMaterial = TunnelCredentials['tls'];

/** A resolver that does not answer in this long counts as failed (then the next edge source answers). */
const RESOLVE_TIMEOUT_MS = 1_500;
const PROBE_TIMEOUT_MS = 1_000;
const PROBES = 2;

export interface SrvDiscoveryOptions {
  readonly domain: string;
  /** `host:port` of a DNS server to ask instead of the system resolver. */
  readonly resolver?: string;
  readonly region?: string;
  readonly log: Logger;
  /** Where the domain came from, for the log. */
  readonly source: string;
}

export class SrvDiscovery {
  private readonly resolver = new Resolver({ timeout: RESOLVE_TIMEOUT_MS, tries: 1 });
  private last = '';

  constructor(private readonly options: SrvDiscoveryOptions) {
    if (options.resolver) {
      const { host, port } = splitHostPort(options.resolver);
      this.resolver.setServers([net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`]);
    }
  }

  /** The PoPs the SRV records list, nearest first; undefined (after a log line) when discovery found none. */
  async edges(material: TlsMaterial): Promise<EdgeAddress[] | undefined> {
    const { domain, region, log } = this.options;
    const names = [...(region ? [`_burrow._tcp.${region}.${domain}`] : []), `_burrow._tcp.${domain}`];
    const via = this.options.resolver ?? 'the system resolver';
    const errors: string[] = [];
    for (const name of names) {
      let records;
      try {
        records = await this.resolver.resolveSrv(name);
      } catch (error) {
        errors.push(`${name}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        continue;
      }
      const edges = await this.measure(records, material);
      if (edges.length === 0) {
        errors.push(`${name}: no target resolved`);
        continue;
      }
      const summary = `${name} via ${via}: ${edges.map((edge) => `${edge.pop} ${edge.rttMs === undefined ? 'unreachable' : `${edge.rttMs.toFixed(1)} ms`}`).join(', ')}`;
      // Logged when the answer changes; every reconnect asks again.
      if (summary !== this.last) log.info({ source: this.options.source, srv: name, resolver: via, edges: edges.map((edge) => ({ pop: edge.pop, address: formatHostPort(edge.host, edge.port), rttMs: edge.rttMs })) }, `edges from SRV discovery (${summary})`);
      this.last = summary;
      return edges;
    }
    const summary = `failed: ${errors.join('; ')}`;
    if (summary !== this.last) log.warn({ source: this.options.source, resolver: via, errors }, `SRV discovery of ${domain} found no edges (${errors.join('; ')}); falling back to the next edge source`);
    this.last = summary;
    return undefined;
  }

  /** Resolves each target, measures it, and sorts: reachable ones by round trip, then the rest by SRV priority. */
  private async measure(records: Array<{ name: string; port: number; priority: number; weight: number }>, material: TlsMaterial): Promise<EdgeAddress[]> {
    const ordered = [...records].sort((a, b) => a.priority - b.priority || b.weight - a.weight);
    const resolved = await Promise.all(
      ordered.map(async (record) => {
        const host = net.isIP(record.name) ? record.name : await this.address(record.name);
        if (!host) return undefined;
        const pop = record.name.split('.')[0]!;
        const rttMs = await probe(host, record.port, material);
        return { host, port: record.port, pop, ...(rttMs === undefined ? {} : { rttMs }) } satisfies EdgeAddress;
      }),
    );
    const edges = resolved.filter((edge): edge is NonNullable<typeof edge> => edge !== undefined);
    return edges
      .map((edge, order) => ({ edge, order }))
      .sort((a, b) => (a.edge.rttMs ?? Infinity) - (b.edge.rttMs ?? Infinity) || a.order - b.order)
      .map(({ edge }) => edge);
  }

  private async address(name: string): Promise<string | undefined> {
    const [v4, v6] = await Promise.allSettled([this.resolver.resolve4(name), this.resolver.resolve6(name)]);
    return (v4.status === 'fulfilled' ? v4.value[0] : undefined) ?? (v6.status === 'fulfilled' ? v6.value[0] : undefined);
  }
}

/** Best handshake time of a few tries, in milliseconds; undefined when the address does not complete one. */
async function probe(host: string, port: number, material: TlsMaterial): Promise<number | undefined> {
  let best: number | undefined;
  for (let i = 0; i < PROBES; i++) {
    const ms = await handshakeTime(host, port, material);
    if (ms === undefined) return best;
    best = best === undefined ? ms : Math.min(best, ms);
  }
  return best;
}

function handshakeTime(host: string, port: number, material: TlsMaterial): Promise<number | undefined> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const socket = tls.connect({ host, port, servername: EDGE_SERVER_NAME, ca: material.caPem, cert: material.certPem, key: material.keyPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' });
    const done = (ms: number | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ms);
    };
    const timer = setTimeout(() => done(undefined), PROBE_TIMEOUT_MS);
    socket.once('secureConnect', () => done(Number(process.hrtime.bigint() - started) / 1e6));
    socket.once('error', () => done(undefined));
  });
}
