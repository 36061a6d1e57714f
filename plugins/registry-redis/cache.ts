// The PoP-local cache of the lookup hot path (hostname -> tunnel, id and name -> tunnel), kept fresh by the changes channel.
import type { TunnelRecord } from 'burrow';
import { publicTunnel, type StoredTunnel } from 'burrow';
import type { Change } from './keys.ts';

/**
 * Answers stay valid because every write publishes a Change and every PoP applies it here. A lookup that raced with a
 * change must not store its (possibly older) answer: `ticket()` before asking Redis, `store*` after, and a change in
 * between voids the ticket. While the changes channel is down (`live` false) nothing new is stored, but what is
 * cached keeps answering: that is what lets known hostnames work through a Redis outage.
 */
export class LookupCache {
  private readonly tunnels = new Map<string, StoredTunnel>();
  /** `zone \n name` -> tunnel id. */
  private readonly names = new Map<string, string>();
  /** null: the hostname has no route (unknown hostnames are the cheapest to flood, so they are cached too). */
  private readonly hostnames = new Map<string, TunnelRecord | null>();
  /**
   * What `hostnames` held when the changes channel came back after an outage: no longer trusted as fresh, but still
   * the best answer while Redis itself cannot be asked yet (the client reconnects on its own schedule).
   */
  private stale = new Map<string, TunnelRecord | null>();
  private generation = 0;
  live = false;

  constructor(private readonly maxHostnames = 100_000) {}

  ticket(): number | undefined {
    return this.live ? this.generation : undefined;
  }

  hostname(hostname: string): TunnelRecord | null | undefined {
    return this.hostnames.get(hostname);
  }

  /** The answer from before the last outage, for a lookup Redis could not answer. */
  staleHostname(hostname: string): TunnelRecord | null | undefined {
    return this.stale.get(hostname);
  }

  storeHostname(ticket: number | undefined, hostname: string, tunnel: StoredTunnel | undefined): void {
    if (!this.valid(ticket)) return;
    // Oldest first out: Map iteration order is insertion order.
    if (this.hostnames.size >= this.maxHostnames) this.hostnames.delete(this.hostnames.keys().next().value!);
    this.hostnames.set(hostname, tunnel ? publicTunnel(tunnel) : null);
    if (tunnel) this.storeTunnel(ticket, tunnel);
  }

  tunnel(id: string): StoredTunnel | undefined {
    return this.tunnels.get(id);
  }

  /** The cached tunnel named `name` in one of `zones` (any zone without it). */
  tunnelNamed(name: string, zones?: readonly string[]): StoredTunnel | undefined {
    if (zones) {
      for (const zone of zones) {
        const id = this.names.get(`${zone}\n${name}`);
        if (id) return this.tunnels.get(id);
      }
      return undefined;
    }
    for (const tunnel of this.tunnels.values()) if (tunnel.name === name) return tunnel;
    return undefined;
  }

  storeTunnel(ticket: number | undefined, tunnel: StoredTunnel): void {
    if (!this.valid(ticket)) return;
    this.tunnels.set(tunnel.id, tunnel);
    this.names.set(`${tunnel.zone}\n${tunnel.name}`, tunnel.id);
  }

  apply(change: Change): void {
    this.generation++;
    // A change heard since the outage: the old answers may be wrong in ways not worth working out.
    this.stale.clear();
    if ('route' in change) {
      const hostname = change.route;
      if (!hostname.startsWith('*.')) {
        this.hostnames.delete(hostname);
        return;
      }
      // A wildcard route can change the answer for any hostname below it.
      const suffix = hostname.slice(1);
      for (const cached of this.hostnames.keys()) if (cached.endsWith(suffix)) this.hostnames.delete(cached);
      return;
    }
    const tunnel = this.tunnels.get(change.tunnel);
    this.tunnels.delete(change.tunnel);
    if (tunnel) this.names.delete(`${tunnel.zone}\n${tunnel.name}`);
    for (const [hostname, cached] of this.hostnames) if (cached?.id === change.tunnel) this.hostnames.delete(hostname);
  }

  /** After the changes channel was down: whatever changed meanwhile was not heard of. */
  clear(): void {
    this.generation++;
    for (const [hostname, tunnel] of this.hostnames) this.stale.set(hostname, tunnel);
    this.tunnels.clear();
    this.names.clear();
    this.hostnames.clear();
  }

  private valid(ticket: number | undefined): boolean {
    return this.live && ticket === this.generation;
  }
}
