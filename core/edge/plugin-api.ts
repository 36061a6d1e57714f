// The narrow API an edge plugin's setup receives: hooks, services, settings, tunnels, listeners, routes and middleware.
import type dgram from 'node:dgram';
import type net from 'node:net';
import type { Logger } from '../kernel/logger.ts';
import type { ServiceRegistry } from '../kernel/services.ts';
import type { EdgeSettings } from '../../config/schema.ts';
import type { ApiHandler, ApiRouteOptions, HttpMethod } from './api.ts';
import type { ConnectionView } from './connections.ts';
import type { EdgeHooks } from './hooks.ts';
import type { TunnelDirectory } from './tunnels.ts';
import type { EdgeMiddleware } from './visitor-context.ts';

/** What `api.listen` binds: a TCP/TLS server (`listen`), or a UDP socket (`bind`). */
export type Listenable = net.Server | dgram.Socket;

export interface EdgePluginApi {
  readonly runtime: 'edge';
  readonly pluginId: string;
  readonly hooks: EdgeHooks;
  readonly settings: EdgeSettings;
  /** A child logger tagged with the plugin id. */
  readonly log: Logger;
  readonly services: ServiceRegistry;
  /** Live connections here and (through the registry) at other PoPs; opens streams to a tunnel. */
  readonly connections: ConnectionView;
  /** Creates, routes, unroutes and deletes tunnels, firing the hooks other plugins publish them with. */
  readonly tunnels: TunnelDirectory;
  /**
   * Binds a listener of the plugin's own (a TCP/TLS server, or a UDP socket) on `address` (`host:port`, port 0 for
   * any); resolves the bound address, which the edge then reports under `name` with its own and closes on stop.
   */
  listen(name: string, server: Listenable, address: string): Promise<string>;
  /** Adds a route to the edge API listener. */
  route(method: HttpMethod, path: string, handler: ApiHandler, options: ApiRouteOptions): void;
  /** Adds visitor middleware, run in plugin order before the request crosses the tunnel. */
  use(middleware: EdgeMiddleware): void;
}
