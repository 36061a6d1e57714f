// Built-in plugin: the single-edge tunnel registry, in memory and persisted in the edge's dataDir.
import path from 'node:path';
import { definePlugin, TunnelRegistryToken } from 'burrow';
import { MemoryRegistry } from './store.ts';

export default definePlugin({
  id: 'registry-memory',
  description: 'Tunnels and routes in memory, saved to <dataDir>/registry.json',
  provides: ['registry'],
  async edge(api) {
    const registry = await MemoryRegistry.open(path.join(api.settings.dataDir, 'registry.json'));
    api.services.provide(TunnelRegistryToken, registry);
    api.hooks.resolveTunnel.tapPromise('registry-memory', (hostname) => registry.tunnelForHostname(hostname));
  },
});
