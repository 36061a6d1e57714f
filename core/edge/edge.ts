// The edge runtime: composes plugins, the visitor listeners, the tunnel listener and the API.
import http from 'node:http';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Container } from 'inversify';
import { edgeSchema, type EdgeSettings } from '../../config/schema.ts';
import { defaultPluginsFor } from '../../config/default.ts';
import { createLogger, type Logger } from '../kernel/logger.ts';
import { AttributedError, ConfigError } from '../kernel/errors.ts';
import { resolveRuntimePlugins, runDisposers, setupPlugins, type ResolvedPlugin } from '../kernel/loader.ts';
import type { Dispose } from '../kernel/plugin.ts';
import { attributeErrors } from '../kernel/middleware.ts';
import { ServiceRegistry } from '../kernel/services.ts';
import type { PluginSpec } from '../../config/schema.ts';
import { ApiRouterToken } from './api.ts';
import { ConnectionTable } from './connections.ts';
import { createEdgeHooks, type EdgeAddresses, type EdgeHooks } from './hooks.ts';
import type { EdgePluginApi, Listenable } from './plugin-api.ts';
import { TunnelRegistryToken } from './registry.ts';
import { ApiAuthToken } from './trust.ts';
import { TunnelListener } from './tunnel-listener.ts';
import { TunnelDirectory } from './tunnels.ts';
import { formatHostPort, splitHostPort } from '../transport/host.ts';
import { VisitorProxy, type EdgeMiddleware } from './visitor-proxy.ts';
import { MAX_VISITOR_HEADER_FIELDS } from './visitor-admission.ts';

/**
 * Visitor request heads may be this large (Node's default is 16 KiB; Cloudflare accepts 32 KiB of
 * request headers, plus the request line and framing). Larger heads get a 431.
 */
const MAX_VISITOR_HEADER_BYTES = 40 * 1024;

/**
 * The visitor servers' limits. Node looks for connections past `headersTimeout`/`requestTimeout` only every
 * `connectionsCheckingInterval` (30 s by default), so it checks four times per headers timeout, at most once a second.
 */
function visitorServerOptions(settings: EdgeSettings): http.ServerOptions {
  const { headers, request, idle } = settings.visitorTimeouts;
  return {
    maxHeaderSize: MAX_VISITOR_HEADER_BYTES,
    // The edge refuses a request without Host itself, with its status page and a log line.
    requireHostHeader: false,
    headersTimeout: headers,
    requestTimeout: request,
    keepAliveTimeout: idle,
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headers / 4))),
  };
}

export interface EdgeOptions {
  settings: EdgeSettings;
  /** Plugin specs from the config file's top-level `plugins:`, loaded after the built-in defaults. */
  plugins?: readonly PluginSpec[];
  /** Plugin specs from the config file's `edge.plugins:`, after `plugins:`. */
  edgePlugins?: readonly PluginSpec[];
  configFile?: string;
  log?: Logger;
  /** Plugins to use instead of the defaults + config (tests, embedding). */
  resolvedPlugins?: readonly ResolvedPlugin[];
}

export class Edge {
  readonly hooks: EdgeHooks = createEdgeHooks();
  readonly connections = new ConnectionTable(() => this.services.get(TunnelRegistryToken));
  readonly tunnels = new TunnelDirectory(() => this.services.get(TunnelRegistryToken), this.hooks, this.connections);
  readonly services: ServiceRegistry;
  readonly log: Logger;
  readonly settings: EdgeSettings;
  addresses?: EdgeAddresses;

  private readonly container = new Container();
  private readonly visitors: VisitorProxy;
  private readonly servers: Array<http.Server | https.Server> = [];
  /** Listeners plugins opened with `api.listen` (DNS, PoP links ...), by name. */
  private readonly pluginListeners = new Map<string, { server: Listenable; address: string }>();
  private tunnelListener?: TunnelListener;
  private disposers: Dispose[] = [];
  private stopping?: Promise<void>;

  constructor(private readonly options: EdgeOptions) {
    this.settings = options.settings;
    this.log = (options.log ?? createLogger()).child({ pop: this.settings.pop });
    this.services = new ServiceRegistry(this.container);
    this.visitors = new VisitorProxy(this.settings.pop, this.hooks, this.connections, this.log);
  }

  /** Where the generated admin token was written, when BURROW_EDGE_TOKEN did not set it. */
  get adminTokenFile(): string | undefined {
    return this.services.find(ApiAuthToken)?.adminTokenFile;
  }

  static fromConfig(input: unknown, extra: Omit<EdgeOptions, 'settings'> = {}): Edge {
    return new Edge({ ...extra, settings: edgeSchema.parse(input ?? {}) });
  }

  async start(): Promise<EdgeAddresses> {
    const { settings } = this;

    const plugins =
      this.options.resolvedPlugins ??
      (await resolveRuntimePlugins({
        defaults: defaultPluginsFor(settings),
        listed: [
          ...(this.options.plugins ?? []).map((spec, i) => ({ spec, keyPath: ['plugins', i] })),
          ...(this.options.edgePlugins ?? []).map((spec, i) => ({ spec, keyPath: ['edge', 'plugins', i] })),
        ],
        configFile: this.options.configFile,
      }));
    const middleware: EdgeMiddleware[] = [];
    this.disposers = await setupPlugins<EdgePluginApi>(plugins, 'edge', (plugin) => ({
      runtime: 'edge',
      pluginId: plugin.definition.id,
      hooks: this.hooks,
      settings,
      log: this.log.child({ plugin: plugin.definition.id }),
      services: this.services,
      connections: this.connections,
      tunnels: this.tunnels,
      listen: (name, server, address) => this.listenFor(plugin.definition.id, name, server, address),
      route: (method, path, handler, options) => this.services.get(ApiRouterToken).route(method, path, handler, options),
      use: (fn) => middleware.push(attributeErrors(plugin.definition.id, fn)),
    }));
    this.visitors.useMiddleware(middleware);
    for (const [token, role, fallback] of [
      [TunnelRegistryToken, 'registry', 'registry-memory'],
      [ApiAuthToken, 'token-signer', 'api-tokens'],
      [ApiRouterToken, 'api', 'edge-api'],
    ] as const) {
      if (!this.services.find<unknown>(token)) {
        throw new ConfigError(`no plugin fills the ${role} role`, { file: this.options.configFile, keyPath: 'edge.plugins', hint: `enable ${fallback} (the default) or a plugin that provides ${role}` });
      }
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
      ...Object.fromEntries([...this.pluginListeners].map(([name, listener]) => [name, listener.address])),
      // The api role's plugin bound it while setting up (the role is checked above).
      api: this.pluginListeners.get('api')?.address ?? '',
      tunnel: await listenOn(this.tunnelListener.server, listen.tunnel, 'tunnel'),
    };
    if (listen.http) {
      const server = http.createServer(visitorServerOptions(settings), (req, res) => this.visitors.handle(req, res, 'http'));
      this.serveVisitors(server, 'http');
      addresses.http = await listenOn(server, listen.http, 'http');
    }
    if (listen.https) {
      if (!settings.tls) throw new ConfigError('edge.listen.https needs edge.tls.cert and edge.tls.key', {});
      const [cert, key] = await Promise.all([readFile(settings.tls.cert), readFile(settings.tls.key)]);
      const server = https.createServer({ cert, key, ...visitorServerOptions(settings) }, (req, res) => this.visitors.handle(req, res, 'https'));
      this.serveVisitors(server, 'https');
      addresses.https = await listenOn(server, listen.https, 'https');
    }
    this.addresses = addresses;
    await this.hooks.afterListen.promise(addresses);
    this.log.info({ ...addresses }, 'edge ready');
    return addresses;
  }

  private serveVisitors(server: http.Server | https.Server, protocol: 'http' | 'https'): void {
    // Node leaves excess header fields out of req.rawHeaders; one more than the edge accepts shows it happened.
    server.maxHeadersCount = MAX_VISITOR_HEADER_FIELDS + 1;
    // While the edge drains, each answer closes its connection: keep-alive visitors come back on a new one
    // (to another PoP, or to this one once it is up again) instead of sending more requests into a closing edge.
    server.prependListener('request', (_req, res) => {
      if (this.stopping) res.shouldKeepAlive = false;
    });
    server.on('checkContinue', (req, res) => {
      if (this.stopping) res.shouldKeepAlive = false;
      this.visitors.handle(req, res, protocol);
    });
    server.on('upgrade', (req, socket, head) => this.visitors.handleUpgrade(req, socket, head, protocol));
    server.on('clientError', (error, socket) => this.visitors.handleClientError(error, socket));
    this.servers.push(server);
  }

  /** Binds a plugin's listener (before the core's), so its address is reported with the others and it closes on stop. */
  private async listenFor(pluginId: string, name: string, server: Listenable, address: string): Promise<string> {
    const taken = ['http', 'https', 'tunnel'].includes(name) || this.pluginListeners.has(name);
    if (taken) throw new AttributedError('BURROW_ERR_LISTEN', `plugin ${pluginId} asked for a listener named "${name}", which is taken`);
    const bound = await listenOn(server, address, name);
    this.pluginListeners.set(name, { server, address: bound });
    return bound;
  }

  /**
   * Graceful stop: refuse new visitors and connectors, let requests in flight finish within the
   * grace period, then close the tunnels (connectors reconnect to another PoP or wait for us).
   */
  stop(gracePeriodMs = this.settings.gracePeriod): Promise<void> {
    this.stopping ??= (async () => {
      for (const server of this.servers) server.close();
      for (const { server } of this.pluginListeners.values()) server.close();
      this.tunnelListener?.server.close();
      // server.close() leaves keep-alive connections open; close each one as soon as it has no request in flight.
      const sweep = setInterval(() => {
        for (const server of this.servers) server.closeIdleConnections();
      }, 50);
      for (const server of this.servers) server.closeIdleConnections();
      await Promise.race([this.visitors.idle(), delay(gracePeriodMs)]);
      clearInterval(sweep);
      for (const server of this.servers) server.closeAllConnections();
      for (const { server } of this.pluginListeners.values()) if (server instanceof http.Server) server.closeAllConnections();
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

/** Binds `server`; a failure names the config key (`edge.listen.<name>`) and the fix. */
async function listenOn(server: Listenable, address: string, name: string): Promise<string> {
  const { host, port } = splitHostPort(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `edge.listen.${name} in the edge config; ${'`burrow demo --port N` (`npm start -- --port N`)'} for the demo`;
      const problems: Record<string, string> = {
        EADDRINUSE: `the address is already in use. Fix: stop the program using port ${port}, or choose another address (${where})`,
        EACCES: `permission denied. Fix: use a port above 1023, or another address (${where})`,
        EADDRNOTAVAIL: `no network interface here has the address ${host}. Fix: use 127.0.0.1, 0.0.0.0 or an address of this machine (${where})`,
      };
      reject(new AttributedError('BURROW_ERR_LISTEN', `cannot listen on ${address}: ${problems[error.code ?? ''] ?? error.message}`, { cause: error }));
    });
    server.once('listening', () => resolve());
    if ('bind' in server) server.bind(port, host);
    else server.listen(port, host);
  });
  const bound = server.address() as AddressInfo;
  return formatHostPort(bound.address, bound.port);
}
