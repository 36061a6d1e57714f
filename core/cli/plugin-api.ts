// The narrow API a plugin's `cli` setup receives: the program to add its commands to, shared services and the command plumbing.
import type { Command } from 'commander';
import type { EdgeClient } from '../edge-client.ts';
import type { CreatedTunnel } from '../edge/registry.ts';
import { serviceToken, type ServiceRegistry } from '../kernel/services.ts';

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
  /** What one plugin's commands offer another's (see ZoneLoginToken); looked up when a command runs. */
  readonly services: ServiceRegistry;
  /** Wraps a command's action so a failure prints `error: ...` (with its fix) and exits 1. */
  action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
  /** First SIGINT/SIGTERM runs `graceful` and exits 0; a second one runs `immediate` and exits 130. */
  onShutdownSignals(graceful: () => Promise<void>, immediate: () => void): void;
}

/** This machine's login to an edge zone, as the commands that manage tunnels need it. */
export interface ZoneLogin {
  /** An edge API client authenticated as the logged-in zone. */
  apiClient(): Promise<EdgeClient>;
  /** Keeps a new tunnel's secret where `burrow tunnel run` finds it; returns the file it wrote. */
  saveTunnelCredentials(created: CreatedTunnel): Promise<string>;
}

/** Provided by the plugin that keeps the login (origin-ca: cert.pem and `<id>.json`), used by `tunnel create` and the like. */
export const ZoneLoginToken = serviceToken<ZoneLogin>('ZoneLogin');
