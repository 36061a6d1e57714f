// The narrow API a connector plugin's setup receives: hooks, services, settings and middleware.
import type { ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import type { Logger } from '../kernel/logger.ts';
import type { ServiceRegistry } from '../kernel/services.ts';
import type { BurrowConfig } from '../../config/schema.ts';
import type { ConnectorHooks } from './hooks.ts';
import type { ConnectorMiddleware } from './request-router.ts';

export interface ConnectorPluginApi {
  readonly runtime: 'connector';
  readonly pluginId: string;
  /** This connector process's id (a UUID), as the edge lists it in `burrow tunnel info`. */
  readonly connectorId: string;
  /** Requests this connector is serving now. */
  requestsInFlight(): number;
  /** Set when this is a named instance (`name:` in plugins, or inline in a rule): its middleware runs only on the rules that list it. */
  readonly instanceName?: string;
  readonly hooks: ConnectorHooks;
  /** The validated config file. */
  readonly settings: BurrowConfig;
  /** Folder of the config file; relative paths in options resolve against it. */
  readonly configDir: string;
  /** The config file the connector runs from, if any. */
  readonly configFile?: string;
  /** Whether `reload()` can read the config file again (not with `tunnel run --url`, or without a file). */
  readonly reloadable: boolean;
  /** Reads the config file again and swaps it in for new requests; false when it was refused (see Connector.reload). */
  reload(): Promise<boolean>;
  /**
   * Runs one request through this connector's ingress, middleware and origin without the edge (Connector.inject):
   * HTTP/2 request headers in, the response on the returned stream.
   */
  inject(headers: OutgoingHttpHeaders, body?: Buffer): ClientHttp2Stream;
  readonly log: Logger;
  readonly services: ServiceRegistry;
  /**
   * Adds middleware run before the origin: for every request, in plugin order; for a named instance,
   * only on the ingress rules whose `middleware:` lists it. What it throws becomes a 502 for that request.
   * A rule with no middleware takes a lighter way to its origin: to only watch requests, tap `hooks.requestDone`.
   */
  use(middleware: ConnectorMiddleware): void;
}
