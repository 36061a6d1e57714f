// Built-in plugin: this PoP's place in a network of PoPs (edge.network): links to the other PoPs, measured
// latencies, smart routing of requests for tunnels served elsewhere, and the `burrow network` commands.
import { ApiError, ConfigError, TunnelRegistryToken, definePlugin, normalizeHost } from 'burrow';
import { OriginCaToken } from '../origin-ca/service.ts';
import { registerCaCommand } from './ca-command.ts';
import { registerDevCommand } from './dev/command.ts';
import { Forwarder } from './forwarder.ts';
import { PeerLinks } from './links.ts';
import { NetworkMap } from './map.ts';
import { networkMetrics } from './metrics.ts';
import { registerStatusCommands } from './status-command.ts';
import { NetworkStatusToken } from './view.ts';

export default definePlugin({
  id: 'network',
  description: 'PoP-to-PoP links, latency-measured smart routing and `burrow network` (active with edge.network)',
  requires: ['origin-ca'],
  async edge(api) {
    const settings = api.settings.network;
    if (!settings) return;
    const store = api.services.get(TunnelRegistryToken).network;
    if (!store) {
      throw new ConfigError('edge.network is set, but the registry plugin keeps no map of the network (PoPs and their links)', {
        keyPath: 'edge.plugins',
        hint: 'use the default registry (registry-memory for one PoP, registry-redis with edge.network.registry), or a registry plugin that provides `network`',
      });
    }
    const originCa = api.services.get(OriginCaToken);
    const probeIntervalMs = settings.probeInterval;
    let map: NetworkMap | undefined;
    let forwarder: Forwarder | undefined;
    const links = new PeerLinks({
      self: api.settings.pop,
      cert: await originCa.popCertificate(api.settings.pop),
      caPem: originCa.caPem,
      probeIntervalMs,
      log: api.log,
      onChange: () => map?.linksChanged(),
      onStream: (stream, headers, from) => forwarder!.handle(stream, headers, from),
    });
    map = new NetworkMap({ api, store, links, probeIntervalMs });
    forwarder = new Forwarder(api, links, map, networkMetrics(api, links));
    const network = map;
    const router = forwarder;
    await api.listen('peer', links.server, api.settings.listen.peer);

    api.hooks.afterListen.tapPromise('network', (addresses) => network.start(addresses));
    api.hooks.resolveForwarding.tapPromise('network', (ctx) => router.resolve(ctx));

    api.services.provide(NetworkStatusToken, { status: () => network.status() });
    api.route('GET', '/v1/network', () => ({ json: network.status() }), { auth: 'zone' });
    api.route(
      'GET',
      '/v1/network/routes/:hostname',
      async (req) => {
        const hostname = normalizeHost(req.params.hostname);
        const from = req.query.get('from') ?? api.settings.pop;
        if (!network.knows(from)) throw new ApiError(404, `no PoP named ${from} in this network`, 'see `burrow network status` for the PoPs');
        const tunnel = hostname ? await api.hooks.resolveTunnel.promise(hostname) : undefined;
        if (!tunnel || (!req.principal.admin && !req.principal.zones.includes(tunnel.zone))) {
          throw new ApiError(404, `no tunnel is routed to ${hostname || req.params.hostname}`, 'route it with `burrow tunnel route dns NAME HOSTNAME`');
        }
        return { json: await network.explain(hostname, tunnel, from) };
      },
      { auth: 'zone' },
    );

    return async () => {
      await network.stop();
      links.close();
    };
  },
  cli(api) {
    registerCaCommand(api);
    registerStatusCommands(api);
    registerDevCommand(api);
  },
});
