// The built-in plugins every edge and connector loads before the ones a config file lists.
import type { PluginSpec } from './schema.ts';

/** Order matters where hooks bail: earlier plugins answer first. */
export const defaultPlugins: readonly PluginSpec[] = [
  'origin-ca',
  'registry-memory',
  'management-api',
  'login-page',
  'quick-tunnels',
  'discovery-static',
  'origin-http',
  'origin-unix',
  'origin-file',
  'origin-hello',
  'origin-status',
  'metrics',
];
