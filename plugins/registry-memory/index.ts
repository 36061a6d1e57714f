// Built-in plugin: the single-edge tunnel registry, in memory and persisted in the edge's dataDir.
import path from 'node:path';
import { ConfigError, definePlugin, TunnelRegistryToken } from 'burrow';
import { MemoryRegistry } from './store.ts';

export default definePlugin({
  id: 'registry-memory',
  description: 'Tunnels and routes in memory, saved to <dataDir>/registry.json',
  provides: ['registry'],
  async edge(api) {
    // A PoP that meant to join a network must not quietly run on a registry of its own.
    if (api.settings.network?.registry) {
      throw new ConfigError('edge.network.registry is set, but the registry is registry-memory, which keeps tunnels on this PoP only', {
        keyPath: 'edge.network.registry',
        hint: 'remove registry-memory from the plugins list: with edge.network.registry the registry is registry-redis',
      });
    }
    const registry = await MemoryRegistry.open(path.join(api.settings.dataDir, 'registry.json'));
    api.services.provide(TunnelRegistryToken, registry);
    api.hooks.resolveTunnel.tapPromise('registry-memory', (hostname) => registry.tunnelForHostname(hostname));
  },
});
