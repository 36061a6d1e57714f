// The one plugin shape shared by built-in and third-party plugins: the kernel's manifest plus a setup function per runtime.
import type { MaybePromise, Dispose, PluginManifest } from './kernel/plugin.ts';
import type { EdgePluginApi } from './edge/plugin-api.ts';
import type { ConnectorPluginApi } from './connector/plugin-api.ts';
import type { OriginAdapter } from './connector/origin.ts';
import type { CliPluginApi } from './cli/plugin-api.ts';

/**
 * A plugin: an id, an optional options schema, a setup function per runtime it extends, and the
 * origin schemes it serves. An origin plugin may have no setup at all, only `origins`.
 */
export interface PluginDefinition<Options = unknown> extends PluginManifest<Options> {
  /** Taps the edge's hooks. Runs once when an edge starts, in config order. */
  edge?(api: EdgePluginApi, options: Options): MaybePromise<void | Dispose>;
  /** Taps the connector's hooks. Runs once when a connector starts, in config order. */
  connector?(api: ConnectorPluginApi, options: Options): MaybePromise<void | Dispose>;
  /**
   * The origin schemes this plugin serves, with the `originRequest` options each reads. Declared, not
   * set up, so the connector checks rules before any setup and scripts read them without running any.
   */
  readonly origins?: readonly OriginAdapter<any, any, Options>[];
  /** Adds commands to `burrow` (built-in plugins only: commands exist before any config is read). */
  cli?(api: CliPluginApi): void;
}

/** Identity function that gives a plugin definition its full types. */
export function definePlugin<Options = undefined>(plugin: PluginDefinition<Options>): PluginDefinition<Options> {
  return plugin;
}
