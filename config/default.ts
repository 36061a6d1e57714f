// The built-in plugins every edge and connector loads; a config-listed plugin can take a default's slot (core/kernel/roles.ts).
import type { EdgeSettings, PluginSpec } from './schema.ts';

/**
 * Order matters where hooks bail: earlier plugins answer first. `edge-api` and `metrics` come first so that
 * every plugin's `api.route` has a router and the metrics registry (MetricsToken) exists when the others set up;
 * the metrics middleware then times everything after it.
 */
export const defaultPlugins: readonly PluginSpec[] = [
  'edge-api',
  'metrics',
  'access-log',
  'inspector',
  'config-reload',
  'run-commands',
  'trust-files',
  'api-tokens',
  'origin-ca',
  'registry-memory',
  'management-api',
  'login-page',
  'quick-tunnels',
  'network',
  'dashboard',
  'dns',
  'discovery-srv',
  'discovery-static',
  'origin-http',
  'origin-unix',
  'origin-file',
  'origin-hello',
  'origin-status',
  'demo',
];

/** The defaults for one edge's settings: a PoP of a network with a Redis registry uses registry-redis in the registry slot. */
export function defaultPluginsFor(settings: EdgeSettings): readonly PluginSpec[] {
  if (!settings.network?.registry) return defaultPlugins;
  return defaultPlugins.map((spec) => (spec === 'registry-memory' ? 'registry-redis' : spec));
}
