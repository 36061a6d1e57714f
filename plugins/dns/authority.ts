// What the edge's DNS knows and answers, independent of the wire: the zones it is authoritative for, routed
// hostnames (A/AAAA with the visitor addresses of the live PoPs), SOA/NS per zone, and SRV discovery of the PoPs.
import { isIP } from 'node:net';
import type { Answer, Question, RecordType } from 'dns-packet';
import { splitHostPort } from 'burrow';

/** A live PoP as DNS sees it. */
export interface DnsPop {
  readonly name: string;
  readonly region?: string;
  /** `host:port` connectors dial. */
  readonly tunnel: string;
  /** IP addresses visitors reach it at. */
  readonly visitors: readonly string[];
  /** IP address its DNS listener answers on, when it has one of its own (not a wildcard bind). */
  readonly dns?: string;
}

/** Where the answers come from; every call is made per query, so answers follow the registry at once. */
export interface DnsSource {
  /** Zones served (lower-case, no trailing dot). */
  zones(): readonly string[];
  /** The SRV discovery domain (`edge.dns.discovery`), if any. */
  readonly discovery?: string;
  /** TTL of every record, in seconds. */
  readonly ttl: number;
  /** Whether `hostname` (lower-case) is routed to a tunnel, exactly or through a wildcard route. */
  isRouted(hostname: string): Promise<boolean>;
  /** The live PoPs of the network (this one alone without a network), in a stable order. */
  pops(): Promise<readonly DnsPop[]>;
}

export type Rcode = 'NOERROR' | 'NXDOMAIN' | 'REFUSED' | 'SERVFAIL';

export interface Resolution {
  readonly rcode: Rcode;
  /** Authoritative (inside one of the zones). */
  readonly authoritative: boolean;
  readonly answers: Answer[];
  readonly authorities: Answer[];
  readonly additionals: Answer[];
}

const SRV_SERVICE = '_burrow._tcp';

/** One name's records inside a zone; `exists` is true for an empty non-terminal too (NODATA, not NXDOMAIN). */
interface NameRecords {
  readonly exists: boolean;
  readonly records: Answer[];
  /** Glue for the answers of a given type (A/AAAA of SRV targets and NS hosts). */
  readonly glue?: Partial<Record<RecordType, Answer[]>>;
}

export class DnsAuthority {
  constructor(private readonly source: DnsSource) {}

  /** The zone `name` (lower-case) belongs to: the longest served zone it equals or ends in. */
  zoneOf(name: string): string | undefined {
    let best: string | undefined;
    for (const zone of this.source.zones()) {
      if ((name === zone || name.endsWith(`.${zone}`)) && (!best || zone.length > best.length)) best = zone;
    }
    return best;
  }

  async resolve(question: Question): Promise<Resolution> {
    const asked = question.name.replace(/\.$/, '');
    const name = asked.toLowerCase();
    const zone = this.zoneOf(name);
    if (!zone) return { rcode: 'REFUSED', authoritative: false, answers: [], authorities: [], additionals: [] };
    const pops = await this.source.pops();
    const found = await this.lookup(name, zone, pops);
    const soa = [this.soa(zone, pops)];
    if (!found.exists) return { rcode: 'NXDOMAIN', authoritative: true, answers: [], authorities: soa, additionals: [] };
    const type = question.type as RecordType | 'ANY';
    // Answers carry the name exactly as asked (resolvers that randomise its case compare it).
    const answers = found.records.filter((record) => type === 'ANY' || record.type === type).map((record) => ({ ...record, name: asked }));
    if (answers.length === 0) return { rcode: 'NOERROR', authoritative: true, answers, authorities: soa, additionals: [] };
    const additionals = type === 'ANY' ? [] : (found.glue?.[type] ?? []);
    return { rcode: 'NOERROR', authoritative: true, answers, authorities: [], additionals };
  }

  private async lookup(name: string, zone: string, pops: readonly DnsPop[]): Promise<NameRecords> {
    const ttl = this.source.ttl;
    const discovery = this.source.discovery;
    if (name === zone) {
      const ns = this.nameservers(zone, pops);
      const routed = await this.source.isRouted(name);
      return { exists: true, records: [this.soa(zone, pops), ...ns.map((host) => record(zone, 'NS', ttl, host)), ...(routed ? addressRecords(name, visitorsOf(pops), ttl) : [])], glue: { NS: this.glue(zone, pops) } };
    }
    const nameserver = pops.find((pop) => name === nameserverName(pop, zone));
    if (nameserver) return { exists: true, records: addressRecords(name, nameserverAddresses(nameserver), ttl) };
    if (discovery && zone === this.zoneOf(discovery) && (name === discovery || name.endsWith(`.${discovery}`))) {
      const found = this.discoveryName(name, discovery, pops);
      if (found) return found;
    }
    if (await this.source.isRouted(name)) return { exists: true, records: addressRecords(name, visitorsOf(pops), ttl) };
    return { exists: false, records: [] };
  }

  /** `_burrow._tcp.<domain>`, `_burrow._tcp.<region>.<domain>`, `<pop>.<domain>` and the names between them. */
  private discoveryName(name: string, domain: string, pops: readonly DnsPop[]): NameRecords | undefined {
    const ttl = this.source.ttl;
    const srv = (list: readonly DnsPop[]): NameRecords => ({
      exists: true,
      records: list.map((pop) => ({
        name,
        type: 'SRV',
        class: 'IN',
        ttl,
        data: { priority: 10, weight: 100, port: splitHostPort(pop.tunnel).port, target: `${pop.name}.${domain}` },
      })),
      glue: { SRV: list.flatMap((pop) => addressRecords(`${pop.name}.${domain}`, [splitHostPort(pop.tunnel).host], ttl)) },
    });
    if (name === `${SRV_SERVICE}.${domain}`) return srv(pops);
    const regions = new Set(pops.map((pop) => pop.region).filter((region): region is string => !!region));
    for (const region of regions) {
      if (name === `${SRV_SERVICE}.${region}.${domain}`) return srv(pops.filter((pop) => pop.region === region));
    }
    const target = pops.find((pop) => name === `${pop.name}.${domain}`);
    if (target) return { exists: true, records: addressRecords(name, [splitHostPort(target.tunnel).host], ttl) };
    // Empty non-terminals: `_tcp.<domain>`, `<region>.<domain>`, `_tcp.<region>.<domain>`.
    const names = [`${SRV_SERVICE}.${domain}`, ...[...regions].map((region) => `${SRV_SERVICE}.${region}.${domain}`)];
    if (names.some((known) => known.endsWith(`.${name}`))) return { exists: true, records: [] };
    return undefined;
  }

  private nameservers(zone: string, pops: readonly DnsPop[]): string[] {
    return pops.map((pop) => nameserverName(pop, zone));
  }

  private glue(zone: string, pops: readonly DnsPop[]): Answer[] {
    return pops.flatMap((pop) => addressRecords(nameserverName(pop, zone), nameserverAddresses(pop), this.source.ttl));
  }

  /** The same at every PoP: the primary is the first live PoP by name, the serial fixed (there are no transfers). */
  private soa(zone: string, pops: readonly DnsPop[]): Answer {
    const primary = pops[0] ? nameserverName(pops[0], zone) : `ns.${zone}`;
    const ttl = this.source.ttl;
    return {
      name: zone,
      type: 'SOA',
      class: 'IN',
      ttl,
      data: { mname: primary, rname: `hostmaster.${zone}`, serial: 1, refresh: 3600, retry: 600, expire: 604800, minimum: ttl },
    };
  }
}

function nameserverName(pop: DnsPop, zone: string): string {
  return `ns-${pop.name}.${zone}`;
}

function nameserverAddresses(pop: DnsPop): readonly string[] {
  return pop.dns ? [pop.dns] : pop.visitors;
}

function visitorsOf(pops: readonly DnsPop[]): string[] {
  return [...new Set(pops.flatMap((pop) => pop.visitors))];
}

function record(name: string, type: 'NS', ttl: number, data: string): Answer {
  return { name, type, class: 'IN', ttl, data };
}

function addressRecords(name: string, addresses: readonly string[], ttl: number): Answer[] {
  return addresses.flatMap((address): Answer[] => {
    const family = isIP(address);
    if (family === 4) return [{ name, type: 'A', class: 'IN', ttl, data: address }];
    if (family === 6) return [{ name, type: 'AAAA', class: 'IN', ttl, data: address }];
    return [];
  });
}
