// Built-in plugin: the registry role on Redis, so that every PoP of a network shares tunnels, routes and presence.
import { ConfigError, TunnelRegistryToken, definePlugin, durationSchema, z } from 'burrow';
import { RedisRegistry } from './store.ts';

const redisUrl = z.string().regex(/^rediss?:\/\//, 'expected a Redis URL like redis://127.0.0.1:6379/0 (rediss:// for TLS)');

const options = z
  .strictObject({
    /** Defaults to `edge.network.registry`. */
    url: redisUrl.optional(),
    /** Every key and the changes channel live under it, so networks can share one Redis. */
    prefix: z.string().min(1).default('burrow:'),
    /** A PoP that stops refreshing its connections' presence (it died) loses them after this long. */
    presenceTtl: durationSchema.default(10_000).refine((ms) => ms >= 300, 'expected at least 300ms; each PoP refreshes its entries every third of it'),
  })
  .prefault({});

export default definePlugin({
  id: 'registry-redis',
  description: 'Tunnels, routes and presence in Redis, shared by every PoP of a network (edge.network.registry)',
  options,
  provides: ['registry'],
  async edge(api, opts) {
    const url = opts.url ?? api.settings.network?.registry;
    if (!url) {
      throw new ConfigError('registry-redis has no Redis to use', {
        keyPath: 'edge.network.registry',
        hint: "set edge.network.registry: redis://HOST:PORT/DB, or the plugin's url option",
      });
    }
    const registry = await RedisRegistry.open({ url, prefix: opts.prefix, presenceTtlMs: opts.presenceTtl, log: api.log });
    api.log.info({ registry: registry.address, prefix: opts.prefix }, 'registry on Redis');
    api.services.provide(TunnelRegistryToken, registry);
    api.hooks.resolveTunnel.tapPromise('registry-redis', (hostname) => registry.tunnelForHostname(hostname));
    return () => registry.close();
  },
});
