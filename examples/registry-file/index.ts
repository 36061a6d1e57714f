// Example third-party plugin: the tunnel registry kept in one JSON file, in place of the default registry-memory.
import path from 'node:path';
import { definePlugin, TunnelRegistryToken, z } from 'burrow';
import { JsonFileRegistry } from './json-file-registry.ts';

const options = z.strictObject({
  /** Relative to the edge's dataDir. */
  file: z.string().min(1).default('tunnels.json'),
});

export default definePlugin({
  id: 'registry-file',
  description: 'Tunnels and routes in one JSON file',
  // Takes registry-memory's slot: that default is then not loaded, so this is the only registry.
  provides: ['registry'],
  options,
  async edge(api, { file }) {
    const registry = await JsonFileRegistry.open(path.resolve(api.settings.dataDir, file));
    api.services.provide(TunnelRegistryToken, registry);
    api.hooks.resolveTunnel.tapPromise('registry-file', (hostname) => registry.tunnelForHostname(hostname));
    api.log.info({ file: registry.file }, 'tunnel registry in a JSON file');
  },
});
