// The edge runtime: composes plugins, the visitor listeners, the tunnel listener and the API.
import http from 'node:http';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Container } from 'inversify';
import { edgeSchema, type EdgeSettings } from '../../config/schema.ts';
import { defaultPlugins } from '../../config/default.ts';
import { createLogger, type Logger } from '../kernel/logger.ts';
import { resolvePlugins, runDisposers, setupPlugins, type ResolvedPlugin } from '../kernel/loader.ts';
import type { Dispose } from '../kernel/plugin.ts';
import { attributeErrors } from '../kernel/middleware.ts';
import { ServiceRegistry } from '../kernel/services.ts';
import type { PluginSpec } from '../../config/schema.ts';
import { ApiAuth } from './api-auth.ts';
import { ApiServer } from './api-server.ts';
import { ConnectionTable } from './connections.ts';
import { createEdgeHooks, type EdgeAddresses, type EdgeHooks } from './hooks.ts';
import type { EdgePluginApi } from './plugin-api.ts';
import { TunnelRegistryToken } from './registry.ts';
import { TunnelListener } from './tunnel-listener.ts';
import { VisitorProxy, type EdgeMiddleware } from './visitor-proxy.ts';

/**
 * Visitor request heads may be this large (Node's default is 16 KiB; Cloudflare accepts 32 KiB of
 * request headers, plus the request line and framing). Larger heads get a 431.
 */
const MAX_VISITOR_HEADER_BYTES = 40 * 1024;

export interface EdgeOptions {
  settings: EdgeSettings;
  /** Plugin specs from the config file, loaded after the built-in defaults. */
  plugins?: readonly PluginSpec[];
  configFile?: string;
  log?: Logger;
  /** Plugins to use instead of the defaults + config (tests, embedding). */
  resolvedPlugins?: readonly ResolvedPlugin[];
}

export class Edge {
  readonly hooks: EdgeHooks = createEdgeHooks();
  readonly connections = new ConnectionTable();
  readonly services: ServiceRegistry;
  readonly log: Logger;
  readonly settings: EdgeSettings;
  addresses?: EdgeAddresses;
  adminTokenFile?: string;
  auth!: ApiAuth;

  private readonly container = new Container();
  private readonly visitors: VisitorProxy;
  private readonly servers: Array<http.Server | https.Server> = [];
  private tunnelListener?: TunnelListener;
  private apiServer?: ApiServer;
  private disposers: Dispose[] = [];
  private stopping?: Promise<void>;

  constructor(private readonly options: EdgeOptions) {
    this.settings = options.settings;
    this.log = (options.log ?? createLogger()).child({ pop: this.settings.pop });
    this.services = new ServiceRegistry(this.container);
    this.visitors = new VisitorProxy(this.settings.pop, this.hooks, this.connections, this.log);
  }

  static fromConfig(input: unknown, extra: Omit<EdgeOptions, 'settings'> = {}): Edge {
    return new Edge({ ...extra, settings: edgeSchema.parse(input ?? {}) });
  }

  async start(): Promise<EdgeAddresses> {
    const { settings } = this;
    const loaded = await ApiAuth.load(settings.dataDir, () => settings.zones);
    this.auth = loaded.auth;
    this.adminTokenFile = loaded.adminTokenFile;
    this.apiServer = new ApiServer(this.auth, this.log);

    const plugins =
      this.options.resolvedPlugins ??
      (await resolvePlugins(
        [
          ...defaultPlugins.map((spec) => ({ spec, keyPath: [] })),
          ...(this.options.plugins ?? []).map((spec, i) => ({ spec, keyPath: ['plugins', i] })),
        ],
        this.options.configFile,
      ));
    const middleware: EdgeMiddleware[] = [];
    const apiServer = this.apiServer;
    this.disposers = await setupPlugins<EdgePluginApi>(plugins, 'edge', (plugin) => ({
      runtime: 'edge',
      pluginId: plugin.definition.id,
      hooks: this.hooks,
      settings,
      log: this.log.child({ plugin: plugin.definition.id }),
      services: this.services,
      auth: this.auth,
      connections: this.connections,
      route: (method, path, handler, options) => apiServer.route(method, path, handler, options),
      use: (fn) => middleware.push(attributeErrors(plugin.definition.id, fn)),
    }));
    this.visitors.useMiddleware(middleware);
    if (!this.services.find(TunnelRegistryToken)) {
      throw new Error('no tunnel registry: enable a registry plugin (registry-memory is the default)');
    }

    const tlsOptions = await this.hooks.prepareTunnelTls.promise({});
    this.tunnelListener = new TunnelListener(
      tlsOptions,
      { pop: settings.pop, heartbeatIntervalMs: settings.heartbeatInterval, heartbeatCount: settings.heartbeatCount },
      this.hooks,
      () => this.services.get(TunnelRegistryToken),
      this.connections,
      this.log,
    );

    const listen = settings.listen;
    const addresses: { -readonly [K in keyof EdgeAddresses]: EdgeAddresses[K] } = {
      tunnel: await listenOn(this.tunnelListener.server, listen.tunnel),
      api: await listenOn(this.apiServer.server, listen.api),
    };
    if (listen.http) {
      const server = http.createServer({ keepAliveTimeout: 65_000, maxHeaderSize: MAX_VISITOR_HEADER_BYTES }, (req, res) => this.visitors.handle(req, res, 'http'));
      server.on('checkContinue', (req, res) => this.visitors.handle(req, res, 'http'));
      server.on('upgrade', (req, socket, head) => this.visitors.handleUpgrade(req, socket, head, 'http'));
      this.servers.push(server);
      addresses.http = await listenOn(server, listen.http);
    }
    if (listen.https) {
      if (!settings.tls) throw new Error('edge.listen.https needs edge.tls.cert and edge.tls.key');
      const [cert, key] = await Promise.all([readFile(settings.tls.cert), readFile(settings.tls.key)]);
      const server = https.createServer({ cert, key, keepAliveTimeout: 65_000, maxHeaderSize: MAX_VISITOR_HEADER_BYTES }, (req, res) => this.visitors.handle(req, res, 'https'));
      server.on('checkContinue', (req, res) => this.visitors.handle(req, res, 'https'));
      server.on('upgrade', (req, socket, head) => this.visitors.handleUpgrade(req, socket, head, 'https'));
      this.servers.push(server);
      addresses.https = await listenOn(server, listen.https);
    }
    this.addresses = addresses;
    await this.hooks.afterListen.promise(addresses);
    this.log.info({ ...addresses }, 'edge ready');
    return addresses;
  }

  /**
   * Graceful stop: refuse new visitors and connectors, let requests in flight finish within the
   * grace period, then close the tunnels (connectors reconnect to another PoP or wait for us).
   */
  stop(gracePeriodMs = this.settings.gracePeriod): Promise<void> {
    this.stopping ??= (async () => {
      for (const server of this.servers) server.close();
      this.tunnelListener?.server.close();
      this.apiServer?.server.close();
      await Promise.race([this.visitors.idle(), delay(gracePeriodMs)]);
      for (const server of this.servers) server.closeAllConnections();
      this.apiServer?.server.closeAllConnections();
      this.tunnelListener?.closeSessions();
      await runDisposers(this.disposers);
      this.log.info('edge stopped');
    })();
    return this.stopping;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export function splitHostPort(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(':');
  return { host: address.slice(0, index).replace(/^\[|\]$/g, ''), port: Number(address.slice(index + 1)) };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

async function listenOn(server: { listen: (port: number, host: string) => unknown; once: (ev: string, fn: (...args: any[]) => void) => unknown; address: () => AddressInfo | string | null }, address: string): Promise<string> {
  const { host, port } = splitHostPort(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = 'edge.listen.http, .https, .tunnel or .api in the edge config; `burrow demo --port N` (`npm start -- --port N`) for the demo';
      const problems: Record<string, string> = {
        EADDRINUSE: `the address is already in use. Fix: stop the program using port ${port}, or choose another address (${where})`,
        EACCES: `permission denied. Fix: use a port above 1023, or another address (${where})`,
        EADDRNOTAVAIL: `no network interface here has the address ${host}. Fix: use 127.0.0.1, 0.0.0.0 or an address of this machine (${where})`,
      };
      reject(new Error(`cannot listen on ${address}: ${problems[error.code ?? ''] ?? error.message}`, { cause: error }));
    });
    server.once('listening', () => resolve());
    server.listen(port, host);
  });
  const bound = server.address() as AddressInfo;
  return formatHostPort(bound.address, bound.port);
}
