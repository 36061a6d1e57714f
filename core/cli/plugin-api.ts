// The narrow API a plugin's `cli` setup receives: the program to add its commands to.
import type { Command } from 'commander';

export interface CliPluginApi {
  readonly runtime: 'cli';
  readonly pluginId: string;
  /** The `burrow` program. */
  readonly program: Command;
  /**
   * The subcommand at `path` (`'tunnel'`, `'tunnel route'`), created with `description` if no plugin
   * made it yet: several plugins add commands under `burrow tunnel`.
   */
  command(path: string, description?: string): Command;
}
