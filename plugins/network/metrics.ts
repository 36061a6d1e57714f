// The network's series on the edge's /metrics: each link's smoothed round trip, and the requests forwarded per next hop.
import { Counter, Gauge } from 'prom-client';
import { MetricsToken, type EdgePluginApi } from 'burrow';
import type { PeerLinks } from './links.ts';

export interface NetworkMetrics {
  forwarded(to: string): void;
}

export function networkMetrics(api: EdgePluginApi, links: PeerLinks): NetworkMetrics {
  const registry = api.services.find(MetricsToken);
  if (!registry) return { forwarded: () => undefined };
  const from = api.settings.pop;
  new Gauge({
    name: 'burrow_network_link_rtt_seconds',
    help: 'Smoothed round trip of each PoP-to-PoP link this PoP dialed (HTTP/2 PING)',
    labelNames: ['from', 'to'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [to, ms] of Object.entries(links.rtts())) this.set({ from, to }, ms / 1000);
    },
  });
  const forwarded = new Counter({
    name: 'burrow_network_forwarded_requests_total',
    help: 'Requests this PoP passed on to another PoP, by next hop',
    labelNames: ['from', 'to'],
    registers: [registry],
  });
  return { forwarded: (to) => forwarded.inc({ from, to }) };
}
