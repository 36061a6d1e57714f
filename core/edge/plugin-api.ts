// The narrow API an edge plugin's setup receives: hooks, services, settings, routes and middleware.
import type { Logger } from '../kernel/logger.ts';
import type { ServiceRegistry } from '../kernel/services.ts';
import type { EdgeSettings } from '../../config/schema.ts';
import type { ApiAuth } from './api-auth.ts';
import type { ApiHandler, ApiRouteOptions, HttpMethod } from './api-server.ts';
import type { ConnectionView } from './connections.ts';
import type { EdgeHooks } from './hooks.ts';
import type { EdgeMiddleware } from './visitor-proxy.ts';

export interface EdgePluginApi {
  readonly runtime: 'edge';
  readonly pluginId: string;
  readonly hooks: EdgeHooks;
  readonly settings: EdgeSettings;
  /** A child logger tagged with the plugin id. */
  readonly log: Logger;
  readonly services: ServiceRegistry;
  readonly auth: ApiAuth;
  readonly connections: ConnectionView;
  /** Adds a route to the edge API listener. */
  route(method: HttpMethod, path: string, handler: ApiHandler, options: ApiRouteOptions): void;
  /** Adds visitor middleware, run in plugin order before the request crosses the tunnel. */
  use(middleware: EdgeMiddleware): void;
}
