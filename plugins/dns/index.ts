// Built-in plugin: the edge's authoritative DNS on edge.listen.dns (UDP and TCP): routed hostnames, zone SOA/NS, and SRV discovery of the network's PoPs.
import { definePlugin } from 'burrow';

export default definePlugin({
  id: 'dns',
  description: 'Authoritative DNS for the edge zones and SRV discovery of PoPs (active with edge.listen.dns)',
  edge(api) {
    if (!api.settings.listen.dns) return;
  },
});
