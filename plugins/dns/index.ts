// Built-in plugin: the edge's authoritative DNS on edge.listen.dns (UDP and TCP): routed hostnames, zone SOA/NS, and SRV discovery of the network's PoPs.
import dgram from 'node:dgram';
import net, { isIP } from 'node:net';
import { Counter } from 'prom-client';
import { MetricsToken, TunnelRegistryToken, definePlugin, formatHostPort, isWildcardHost, publicAddresses, splitHostPort, type EdgePluginApi } from 'burrow';
import { DnsAuthority, type DnsPop, type DnsSource } from './authority.ts';
import { DnsServer } from './server.ts';

/** How long the list of live PoPs is reused before the registry is asked again (a publish by any PoP clears it). */
const POPS_CACHE_MS = 1_000;

export default definePlugin({
  id: 'dns',
  description: 'Authoritative DNS for the edge zones and SRV discovery of PoPs (active with edge.listen.dns)',
  async edge(api) {
    const address = api.settings.listen.dns;
    if (!address) return;
    const source = new EdgeDnsSource(api);
    const queries = queryCounter(api);
    const server = new DnsServer({ authority: new DnsAuthority(source), log: api.log, onQuery: (rcode, transport) => queries?.inc({ rcode, transport }) });
    const { host, port } = splitHostPort(address);
    const family = isIP(host) === 6 ? 'udp6' : 'udp4';
    // UDP and TCP on one port; port 0 picks one that both are free on.
    const udp = await api.listen('dns', server.udp(family), port === 0 ? formatHostPort(host, await freePortPair(host, family)) : address);
    const tcp = await api.listen('dns-tcp', server.tcp, formatHostPort(host, splitHostPort(udp).port));
    api.hooks.afterListen.tap('dns', (addresses) => source.listening(addresses));
    api.log.debug({ udp, tcp, zones: source.zones(), discovery: source.discovery }, 'DNS listening');
    return () => {
      source.close();
      server.close();
    };
  },
});

function queryCounter(api: EdgePluginApi): Counter | undefined {
  const registry = api.services.find(MetricsToken);
  if (!registry) return undefined;
  return new Counter({ name: 'burrow_dns_queries_total', help: 'DNS queries answered, by response code and transport', labelNames: ['rcode', 'transport'], registers: [registry] });
}

/** This edge's zones and routes, and the live PoPs: from the network's registry with one, else this PoP alone. */
class EdgeDnsSource implements DnsSource {
  readonly discovery?: string;
  readonly ttl: number;
  private self?: DnsPop;
  private cached?: { at: number; pops: Promise<readonly DnsPop[]> };
  private readonly unwatch?: () => void;
  private readonly zoneList: readonly string[];

  constructor(private readonly api: EdgePluginApi) {
    const { settings } = api;
    this.discovery = settings.dns.discovery?.toLowerCase();
    this.ttl = Math.max(0, Math.round(settings.dns.ttl / 1000));
    this.zoneList = [...new Set([...settings.zones, ...(settings.quickTunnels ? [settings.quickTunnels] : []), ...(this.discovery ? [this.discovery] : [])].map((zone) => zone.toLowerCase()))];
    const store = settings.network ? api.services.get(TunnelRegistryToken).network : undefined;
    this.unwatch = store?.watch(() => (this.cached = undefined));
  }

  zones(): readonly string[] {
    return this.zoneList;
  }

  /** The edge bound its listeners: this PoP's own record (its tunnel address, visitor addresses, DNS address). */
  listening(addresses: Readonly<Record<string, string | undefined>>): void {
    const { settings } = this.api;
    const reach = publicAddresses(settings, addresses);
    const dnsHost = addresses.dns ? splitHostPort(addresses.dns).host : undefined;
    this.self = {
      name: settings.pop,
      ...(settings.region ? { region: settings.region } : {}),
      tunnel: reach.tunnel,
      visitors: reach.visitors,
      ...(dnsHost && !isWildcardHost(dnsHost) ? { dns: dnsHost } : {}),
    };
    this.cached = undefined;
  }

  async isRouted(hostname: string): Promise<boolean> {
    return (await this.api.hooks.resolveTunnel.promise(hostname)) !== undefined;
  }

  pops(): Promise<readonly DnsPop[]> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < POPS_CACHE_MS) return this.cached.pops;
    const pops = this.load();
    this.cached = { at: now, pops };
    // A failed read is not cached: the next query asks again.
    pops.catch(() => {
      if (this.cached?.pops === pops) this.cached = undefined;
    });
    return pops;
  }

  close(): void {
    this.unwatch?.();
  }

  private async load(): Promise<readonly DnsPop[]> {
    const self = this.self ? [this.self] : [];
    const store = this.api.settings.network ? this.api.services.get(TunnelRegistryToken).network : undefined;
    if (!store) return self;
    const others = (await store.listPops())
      .filter((pop) => pop.name !== this.api.settings.pop && pop.tunnel)
      .map((pop): DnsPop => {
        const dnsHost = pop.addresses.dns ? splitHostPort(pop.addresses.dns).host : undefined;
        return {
          name: pop.name,
          ...(pop.region ? { region: pop.region } : {}),
          tunnel: pop.tunnel!,
          visitors: pop.visitors ?? [],
          ...(dnsHost && !isWildcardHost(dnsHost) ? { dns: dnsHost } : {}),
        };
      });
    return [...self, ...others].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/**
 * A port on `host` free for both UDP and TCP. UDP's port 0 alone can pick one whose TCP side is taken (an outgoing
 * connection's ephemeral port, say), so each candidate is tried on both before it is given back.
 */
async function freePortPair(host: string, family: 'udp4' | 'udp6'): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket(family);
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, host, () => resolve(udp.address().port));
    });
    const tcp = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, host, () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (free) await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (free || attempt === 20) return port;
  }
}
