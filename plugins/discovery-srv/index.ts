// Built-in plugin: the connector finds edges through SRV records (`discovery:` in its config, else the domain cert.pem
// names), measures the round trip to each PoP (a TLS handshake) and lists them nearest first. Nothing found: the next source answers.
import { definePlugin } from 'burrow';
import { SrvDiscovery } from './srv.ts';

export default definePlugin({
  id: 'discovery-srv',
  description: 'Edge addresses from _burrow._tcp SRV records (discovery:), ranked by round-trip time',
  provides: ['edge-discovery'],
  connector(api) {
    const configured = api.settings.discovery;
    if (configured) {
      const discovery = new SrvDiscovery({ ...configured, log: api.log, source: 'the config (discovery:)' });
      api.hooks.resolveEdges.tapPromise('discovery-srv', ({ credentials }) => discovery.edges(credentials.tls));
    }
    // cert.pem's domain ranks after an explicit --edge / edge: list (stage 0) and before cert.pem's single address (stage 20).
    const fromCredentials = new Map<string, SrvDiscovery>();
    api.hooks.resolveEdges.tapPromise({ name: 'discovery-srv', stage: 10 }, async ({ credentials }) => {
      if (configured || !credentials.discovery) return undefined;
      const { domain, resolver } = credentials.discovery;
      const key = `${domain} ${resolver ?? ''}`;
      let discovery = fromCredentials.get(key);
      if (!discovery) fromCredentials.set(key, (discovery = new SrvDiscovery({ domain, ...(resolver ? { resolver } : {}), log: api.log, source: 'the credentials' })));
      return discovery.edges(credentials.tls);
    });
  },
});
