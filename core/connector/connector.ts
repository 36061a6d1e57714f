// The connector runtime: loads plugins, compiles ingress to origins, and supervises the tunnel connections.
import http2, { type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import { Container } from 'inversify';
import { defaultPlugins } from '../../config/default.ts';
import type { BurrowConfig } from '../../config/schema.ts';
import { forgetLoadedConfigs, loadConfig } from '../kernel/config.ts';
import { ConfigError } from '../kernel/errors.ts';
import { createLogger, type Logger } from '../kernel/logger.ts';
import { resolvePlugins, resolveRuntimePlugins, runDisposers, setupPlugins, type ResolvedPlugin } from '../kernel/loader.ts';
import type { Dispose } from '../kernel/plugin.ts';
import { attributeErrors } from '../kernel/middleware.ts';
import { ServiceRegistry } from '../kernel/services.ts';
import { duplexPair } from '../testing/duplex-pair.ts';
import { http2SessionOptions } from '../transport/protocol.ts';
import { VERSION } from '../version.ts';
import { createConnectorHooks, type CredentialsQuery, type TunnelCredentials } from './hooks.ts';
import { Ingress, type IngressRule } from './ingress.ts';
import { OriginError, type Origin } from './origin.ts';
import { OriginCatalog } from './origin-catalog.ts';
import type { ConnectorPluginApi } from './plugin-api.ts';
import { RequestRouter, type ConnectorMiddleware, type RequestHandlerFn } from './request-router.ts';
import { planRuleMiddleware, ruleChains, type RuleMiddlewarePlan } from './rule-middleware.ts';
import { ConnectionSupervisor } from './supervisor.ts';
import { TunnelConnection, streamListener } from './tunnel-connection.ts';

export interface ConnectorOptions {
  config: BurrowConfig;
  configFile?: string;
  log?: Logger;
  /** Flags that override the config file (`tunnel run NAME`, `--token`, `--edge`). */
  tunnel?: string;
  token?: string;
  edges?: readonly string[];
  /** Tunnel credentials already in hand (quick tunnels); skips resolveCredentials. */
  credentials?: TunnelCredentials;
  resolvedPlugins?: readonly ResolvedPlugin[];
  backoff?: { baseMs: number; capMs: number };
  /**
   * Whether `reload()` may read the config file again (default: when there is one). Off when flags changed
   * what the file says (`tunnel run --url`), since a reload would drop them.
   */
  reloadable?: boolean;
}

/**
 * What one version of the config compiles to: its rules, their origins and middleware chains, and the router
 * over them. A reload builds a new one and swaps it in; the old one serves its requests in flight to the end.
 */
interface Generation {
  readonly config: BurrowConfig;
  /** Its plugins list, resolved: the running plugins it keeps, and the middleware-only ones set up for it. */
  readonly plugins: readonly ResolvedPlugin[];
  readonly ingress: Ingress;
  readonly origins: ReadonlyMap<IngressRule, Origin>;
  readonly router: RequestRouter;
  /** Disposers of its middleware-only plugins and of the plugins its rules list inline (`middleware: [{ use, options }]`). */
  readonly disposers: Dispose[];
  active: number;
  drained?: () => void;
}

/**
 * Emits `fatal` (Error) when no connection can ever register again (e.g. the tunnel was deleted), `reloaded`
 * when a new config is in force, and `reloadRefused` (Error) when one was invalid and the old one stays.
 */
export class Connector extends EventEmitter {
  readonly hooks = createConnectorHooks();
  readonly services: ServiceRegistry;
  readonly log: Logger;
  readonly connectorId = randomUUID();
  readonly configDir: string;
  ingress!: Ingress;
  credentials?: TunnelCredentials;

  private readonly container = new Container();
  private supervisor?: ConnectionSupervisor;
  private generation?: Generation;
  /** Generations swapped out by a reload whose requests have not all finished yet. */
  private readonly retiring = new Set<Generation>();
  private reloads: Promise<unknown> = Promise.resolve();
  /**
   * The plugins set up once, for the connector's life (all but the middleware-only ones), by instance key, with
   * the global middleware each added. A reload keeps them as they are.
   */
  private readonly running = new Map<string, { plugin: ResolvedPlugin; middleware: ConnectorMiddleware[] }>();
  private catalog?: OriginCatalog;
  /** Middleware of the named instances among the running plugins. */
  private readonly byInstance = new Map<string, ConnectorMiddleware[]>();
  private disposers: Dispose[] = [];
  private stopping?: Promise<void>;

  constructor(private readonly options: ConnectorOptions) {
    super();
    this.log = options.log ?? createLogger({ level: options.config.loglevel });
    this.services = new ServiceRegistry(this.container);
    this.configDir = options.configFile ? path.dirname(options.configFile) : process.cwd();
  }

  /** The config in force (the latest one a reload accepted). */
  get config(): BurrowConfig {
    return this.generation?.config ?? this.options.config;
  }

  /** True when `reload()` can read the config file again. */
  get reloadable(): boolean {
    return this.options.configFile !== undefined && this.options.reloadable !== false;
  }

  get connections(): readonly TunnelConnection[] {
    return this.supervisor?.connections ?? [];
  }

  /** Serves one request stream as the tunnel does (the test kit feeds it in-memory HTTP/2 streams). */
  get requestHandler(): RequestHandlerFn {
    if (!this.generation) throw new Error('call prepare() first');
    return this.handle;
  }

  /**
   * Sends one request through the router in force, as a tunnel connection would carry it, over an in-process
   * HTTP/2 session that closes with the stream. `headers` are HTTP/2 request headers (`:method`, `:path`,
   * `:authority`, and the `burrow-*` ones the edge would add).
   */
  inject(headers: OutgoingHttpHeaders, body?: Buffer): ClientHttp2Stream {
    const handler = this.requestHandler;
    const [edgeEnd, connectorEnd] = duplexPair('127.0.0.1');
    const server = http2.createServer(http2SessionOptions);
    server.on('stream', streamListener(handler));
    server.emit('connection', connectorEnd);
    const session = http2.connect('http://connector.burrow.internal', { ...http2SessionOptions, createConnection: () => edgeEnd as never });
    session.on('error', () => undefined);
    const stream = session.request(headers);
    stream.once('close', () => session.destroy());
    stream.end(body);
    return stream;
  }

  /** Requests being served, across config generations. */
  private inFlight = 0;

  /** Every request goes to the generation in force when it arrives, and counts there until it closes. */
  private readonly handle: RequestHandlerFn = (stream, headers, rawHeaders) => {
    const generation = this.generation!;
    generation.active++;
    this.inFlight++;
    stream.once('close', () => {
      this.inFlight--;
      if (--generation.active === 0) generation.drained?.();
    });
    generation.router.handle(stream, headers, rawHeaders);
  };

  /** Loads plugins and compiles the ingress rules to origins without connecting (used by `ingress validate`). */
  async prepare(): Promise<void> {
    const { config, configFile } = this.options;
    const listed =
      this.options.resolvedPlugins ??
      (await resolveRuntimePlugins({ defaults: defaultPlugins, listed: (config.plugins ?? []).map((spec, i) => ({ spec, keyPath: ['plugins', i] })), configFile }));
    // The listed plugins declare the origin schemes, so rules are checked before any setup runs.
    this.catalog = OriginCatalog.of(listed);
    const ingress = Ingress.parse(config.ingress as never, config.originRequest as never, { file: configFile, origins: this.catalog });
    const plan = planRuleMiddleware(ingress, listed, configFile);
    const inline = await resolvePlugins(plan.inlineSources, configFile);
    const lasting = listed.filter((plugin) => !plugin.definition.middlewareOnly);
    this.disposers = await setupPlugins<ConnectorPluginApi>(lasting, 'connector', (plugin) => {
      const middleware: ConnectorMiddleware[] = [];
      this.running.set(instanceKey(plugin), { plugin, middleware });
      return this.pluginApi(plugin, config, middleware, this.byInstance);
    });
    this.generation = await this.compile(config, listed, ingress, plan, inline);
    this.ingress = ingress;
  }

  private pluginApi(plugin: ResolvedPlugin, settings: BurrowConfig, global: ConnectorMiddleware[], byInstance: Map<string, ConnectorMiddleware[]>): ConnectorPluginApi {
    return {
      runtime: 'connector',
      pluginId: plugin.definition.id,
      connectorId: this.connectorId,
      requestsInFlight: () => this.inFlight,
      instanceName: plugin.name,
      hooks: this.hooks,
      settings,
      configDir: this.configDir,
      configFile: this.options.configFile,
      reloadable: this.reloadable,
      reload: () => this.reload(),
      inject: (headers, body) => this.inject(headers, body),
      log: this.log.child(plugin.name === undefined ? { plugin: plugin.definition.id } : { plugin: plugin.definition.id, instance: plugin.name }),
      services: this.services,
      use: (fn) => {
        const wrapped = attributeErrors(plugin.definition.id, fn, (error) => error instanceof OriginError);
        if (plugin.name === undefined) global.push(wrapped);
        else byInstance.set(plugin.name, [...(byInstance.get(plugin.name) ?? []), wrapped]);
      },
    };
  }

  /**
   * Sets up a config's middleware-only plugins and inline rule plugins, creates its origins and composes the
   * chains; undoes all of it on failure. Global middleware runs in the order of `plugins`; running plugins the
   * list no longer names (they stay until a restart) keep theirs, ahead of the rest.
   */
  private async compile(
    config: BurrowConfig,
    plugins: readonly ResolvedPlugin[],
    ingress: Ingress,
    plan: RuleMiddlewarePlan,
    inline: readonly ResolvedPlugin[],
  ): Promise<Generation> {
    const { configFile } = this.options;
    const byInstance = new Map(this.byInstance);
    const added = new Map<ResolvedPlugin, ConnectorMiddleware[]>();
    const fresh = [...plugins.filter((plugin) => plugin.definition.middlewareOnly), ...inline];
    const disposers = await setupPlugins<ConnectorPluginApi>(fresh, 'connector', (plugin) => {
      const middleware: ConnectorMiddleware[] = [];
      added.set(plugin, middleware);
      return this.pluginApi(plugin, config, middleware, byInstance);
    });
    const listedKeys = new Set(plugins.map(instanceKey));
    const global = [...this.running].filter(([key]) => !listedKeys.has(key)).flatMap(([, running]) => running.middleware);
    for (const plugin of plugins) global.push(...(added.get(plugin) ?? this.running.get(instanceKey(plugin))?.middleware ?? []));
    const origins = new Map<IngressRule, Origin>();
    try {
      const chains = ruleChains(ingress, plan, [...plugins, ...inline], global, byInstance, this.log, configFile);
      for (const rule of ingress.rules) origins.set(rule, this.catalog!.create(rule, { configDir: this.configDir, configFile, log: this.log }));
      const router = new RequestRouter(ingress, origins, (rule) => chains.get(rule)!, this.log, this.hooks.requestDone);
      return { config, plugins, ingress, origins, router, disposers, active: 0 };
    } catch (error) {
      await Promise.all([...origins.values()].map((origin) => origin.close?.()));
      await runDisposers(disposers);
      throw error;
    }
  }

  /**
   * Reads the config file again and, when it is valid, serves new requests with it: ingress rules, origins,
   * `originRequest`, per-rule middleware and the middleware-only plugins of `plugins` (with their new options,
   * added or removed). Requests in flight finish on the config they started with, and no connection is touched.
   * An invalid file is refused (logged, `reloadRefused`) and the config in force stays. What needs a restart
   * (other plugins' entries, tunnel, edges, ha-connections, ...) is named in a warning. Resolves true when the
   * new config is in force.
   */
  reload(): Promise<boolean> {
    const next = this.reloads.then(() => this.reloadNow());
    this.reloads = next;
    return next;
  }

  private async reloadNow(): Promise<boolean> {
    const file = this.options.configFile;
    const previous = this.generation;
    if (!this.reloadable || !file || !previous || this.stopping) return false;
    try {
      forgetLoadedConfigs();
      const { config: fromFile } = await loadConfig(file);
      // Only the reloaded keys change; the others stay as the connector started with them (flags included).
      const config: BurrowConfig = { ...previous.config, ingress: fromFile.ingress, originRequest: fromFile.originRequest, plugins: fromFile.plugins };
      // Plugins given to the constructor ready-made are not the file's to change.
      const plugins = this.options.resolvedPlugins
        ? previous.plugins
        : await resolveRuntimePlugins({ defaults: defaultPlugins, listed: (fromFile.plugins ?? []).map((spec, i) => ({ spec, keyPath: ['plugins', i] })), configFile: file });
      const ingress = Ingress.parse(config.ingress as never, config.originRequest as never, { file, origins: this.catalog! });
      const plan = planRuleMiddleware(ingress, plugins, file);
      const inline = await resolvePlugins(plan.inlineSources, file);
      const next = await this.compile(config, plugins, ingress, plan, inline);
      if (this.stopping) {
        await this.retire(next);
        return false;
      }
      this.generation = next;
      this.ingress = ingress;
      // A key the file leaves out may have come from a flag (`--inspect`), so only keys the file sets are compared.
      const later = Object.keys(fromFile).filter((key) => {
        const value = fromFile[key as keyof BurrowConfig];
        return !RELOADED_KEYS.has(key) && value !== undefined && !isDeepStrictEqual(value, previous.config[key as keyof BurrowConfig]);
      });
      if (later.length > 0) this.log.warn({ file, keys: later }, 'these config keys changed but apply only after a restart');
      const restart = this.lastingChanges(plugins);
      if (restart.length > 0) this.log.warn({ file, plugins: restart }, 'these plugins changed but apply only after a restart');
      this.log.info({ file, rules: ingress.rules.length }, 'config reloaded');
      void this.retire(previous);
      this.emit('reloaded', config);
      return true;
    } catch (error) {
      this.log.error({ file, err: error instanceof Error ? error.message : String(error) }, 'config reload refused; the config in force stays');
      this.emit('reloadRefused', error);
      return false;
    }
  }

  /**
   * The entries of a new plugins list that differ from the running plugins (added, removed, other options or
   * source), by `plugins[i]` or id: they are not middleware-only, so they change only with a restart.
   */
  private lastingChanges(plugins: readonly ResolvedPlugin[]): string[] {
    const changed: string[] = [];
    const keys = new Set<string>();
    for (const plugin of plugins) {
      if (plugin.definition.middlewareOnly || !(plugin.definition as { connector?: unknown }).connector) continue;
      const key = instanceKey(plugin);
      keys.add(key);
      const running = this.running.get(key)?.plugin;
      if (!running || running.source !== plugin.source || !isDeepStrictEqual(running.options, plugin.options)) changed.push(describePlugin(plugin));
    }
    for (const [key, { plugin }] of this.running) if (!keys.has(key) && (plugin.definition as { connector?: unknown }).connector) changed.push(`${describePlugin(plugin)} (removed)`);
    return changed;
  }

  /** Closes a swapped-out generation's origins and inline plugins once its last request has finished. */
  private async retire(generation: Generation): Promise<void> {
    this.retiring.add(generation);
    if (generation.active > 0) await new Promise<void>((resolve) => (generation.drained = resolve));
    this.retiring.delete(generation);
    await Promise.all([...generation.origins.values()].map((origin) => Promise.resolve(origin.close?.()).catch(() => undefined)));
    await runDisposers(generation.disposers);
  }

  /** Connects; resolves once the first connection is registered. */
  async start(): Promise<void> {
    if (!this.generation) await this.prepare();
    const { config } = this.options;
    const query: CredentialsQuery = {
      tunnel: this.options.tunnel ?? config.tunnel,
      credentialsFile: config['credentials-file'],
      originCert: config.origincert,
      token: this.options.token,
      configDir: this.configDir,
    };
    const credentials = this.options.credentials ?? (await this.hooks.resolveCredentials.promise(query));
    if (!credentials) {
      throw new ConfigError('no tunnel to run', {
        file: this.options.configFile,
        keyPath: 'tunnel',
        hint: 'name a tunnel (`burrow tunnel run NAME`, or `tunnel:` and `credentials-file:` in the config), or use `--token`',
      });
    }
    this.credentials = credentials;
    const handle = this.handle;
    const { 'heartbeat-interval': heartbeatIntervalMs, 'heartbeat-count': heartbeatCount } = config;
    this.supervisor = new ConnectionSupervisor({
      haConnections: config['ha-connections'],
      retries: config.retries,
      hooks: this.hooks,
      log: this.log,
      backoff: this.options.backoff,
      resolveEdges: async () => (await this.hooks.resolveEdges.promise({ credentials, overrides: this.options.edges ?? [], configured: Array.isArray(config.edge) ? config.edge : [] })) ?? [],
      createConnection: (edge, index) =>
        new TunnelConnection(edge, credentials, { index, connectorId: this.connectorId, version: VERSION, heartbeatIntervalMs, heartbeatCount }, handle, this.log),
    });
    const supervisor = this.supervisor;
    await new Promise<void>((resolve, reject) => {
      supervisor.once('ready', () => resolve());
      supervisor.once('fatal', reject);
      supervisor.start();
    });
    supervisor.on('fatal', (error: Error) => {
      this.log.fatal({ err: error.message }, 'the connector cannot run this tunnel any more');
      void this.stop(0).then(() => this.emit('fatal', error));
    });
  }

  /** Graceful stop: unregister, let requests in flight finish within the grace period, close origins. */
  stop(gracePeriodMs = this.options.config['grace-period']): Promise<void> {
    this.stopping ??= (async () => {
      await this.supervisor?.shutdown(gracePeriodMs);
      await this.reloads.catch(() => undefined);
      for (const generation of [this.generation, ...this.retiring]) {
        if (!generation) continue;
        await Promise.all([...new Set(generation.origins.values())].map((origin) => origin.close?.()));
        await runDisposers(generation.disposers);
      }
      await runDisposers(this.disposers);
      this.log.info('connector stopped');
    })();
    return this.stopping;
  }

  /** Second signal: drop everything now. */
  abort(): void {
    this.supervisor?.abort();
  }
}

/** The keys a reload applies (of `plugins`, the middleware-only entries); the others take a restart. */
const RELOADED_KEYS: ReadonlySet<string> = new Set(['ingress', 'originRequest', 'plugins']);

/** One plugin instance across config versions: its id, and its `name:` when it has one. */
function instanceKey(plugin: ResolvedPlugin): string {
  return plugin.name === undefined ? plugin.definition.id : `${plugin.definition.id}#${plugin.name}`;
}

function describePlugin(plugin: ResolvedPlugin): string {
  const at = plugin.keyPath === '(built-in)' ? '' : ` at ${plugin.keyPath}`;
  return plugin.name === undefined ? `${plugin.definition.id}${at}` : `${plugin.definition.id} "${plugin.name}"${at}`;
}
