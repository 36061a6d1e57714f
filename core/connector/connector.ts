// The connector runtime: loads plugins, compiles ingress to origins, and supervises the tunnel connections.
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Container } from 'inversify';
import { defaultPlugins } from '../../config/default.ts';
import type { BurrowConfig } from '../../config/schema.ts';
import { ConfigError } from '../kernel/errors.ts';
import { createLogger, type Logger } from '../kernel/logger.ts';
import { resolvePlugins, resolveRuntimePlugins, runDisposers, setupPlugins, type ResolvedPlugin } from '../kernel/loader.ts';
import type { Dispose } from '../kernel/plugin.ts';
import { attributeErrors } from '../kernel/middleware.ts';
import { ServiceRegistry } from '../kernel/services.ts';
import { VERSION } from '../version.ts';
import { createConnectorHooks, type CredentialsQuery, type TunnelCredentials } from './hooks.ts';
import { Ingress, type IngressRule } from './ingress.ts';
import { OriginError, type Origin } from './origin.ts';
import { OriginCatalog } from './origin-catalog.ts';
import type { ConnectorPluginApi } from './plugin-api.ts';
import { RequestRouter, type ConnectorMiddleware, type RequestHandlerFn } from './request-router.ts';
import { planRuleMiddleware, ruleChains } from './rule-middleware.ts';
import { ConnectionSupervisor } from './supervisor.ts';
import { TunnelConnection } from './tunnel-connection.ts';

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
}

/** Emits `fatal` (Error) when no connection can ever register again (e.g. the tunnel was deleted). */
export class Connector extends EventEmitter {
  readonly hooks = createConnectorHooks();
  readonly services: ServiceRegistry;
  readonly log: Logger;
  readonly connectorId = randomUUID();
  readonly configDir: string;
  ingress!: Ingress;
  credentials?: TunnelCredentials;

  private readonly container = new Container();
  private readonly origins = new Map<IngressRule, Origin>();
  private supervisor?: ConnectionSupervisor;
  private router?: RequestRouter;
  private disposers: Dispose[] = [];
  private stopping?: Promise<void>;

  constructor(private readonly options: ConnectorOptions) {
    super();
    this.log = options.log ?? createLogger({ level: options.config.loglevel });
    this.services = new ServiceRegistry(this.container);
    this.configDir = options.configFile ? path.dirname(options.configFile) : process.cwd();
  }

  get config(): BurrowConfig {
    return this.options.config;
  }

  get connections(): readonly TunnelConnection[] {
    return this.supervisor?.connections ?? [];
  }

  /** Serves one request stream as the tunnel does (the test kit feeds it in-memory HTTP/2 streams). */
  get requestHandler(): RequestHandlerFn {
    if (!this.router) throw new Error('call prepare() first');
    return this.router.handle;
  }

  /** Loads plugins and compiles the ingress rules to origins without connecting (used by `ingress validate`). */
  async prepare(): Promise<void> {
    const { config, configFile } = this.options;
    const listed =
      this.options.resolvedPlugins ??
      (await resolveRuntimePlugins({ defaults: defaultPlugins, listed: (config.plugins ?? []).map((spec, i) => ({ spec, keyPath: ['plugins', i] })), configFile }));
    // The listed plugins declare the origin schemes, so rules are checked before any setup runs.
    const origins = OriginCatalog.of(listed);
    this.ingress = Ingress.parse(config.ingress as never, config.originRequest as never, { file: configFile, origins });
    const plan = planRuleMiddleware(this.ingress, listed, configFile);
    const plugins = [...listed, ...(await resolvePlugins(plan.inlineSources, configFile))];
    const middleware: ConnectorMiddleware[] = [];
    const byInstance = new Map<string, ConnectorMiddleware[]>();
    this.disposers = await setupPlugins<ConnectorPluginApi>(plugins, 'connector', (plugin) => ({
      runtime: 'connector',
      pluginId: plugin.definition.id,
      connectorId: this.connectorId,
      instanceName: plugin.name,
      hooks: this.hooks,
      settings: config,
      configDir: this.configDir,
      log: this.log.child(plugin.name === undefined ? { plugin: plugin.definition.id } : { plugin: plugin.definition.id, instance: plugin.name }),
      services: this.services,
      use: (fn) => {
        const wrapped = attributeErrors(plugin.definition.id, fn, (error) => error instanceof OriginError);
        if (plugin.name === undefined) middleware.push(wrapped);
        else byInstance.set(plugin.name, [...(byInstance.get(plugin.name) ?? []), wrapped]);
      },
    }));
    const chains = ruleChains(this.ingress, plan, plugins, middleware, byInstance, this.log, configFile);
    for (const rule of this.ingress.rules) {
      this.origins.set(rule, origins.create(rule, { configDir: this.configDir, configFile, log: this.log }));
    }
    this.router = new RequestRouter(this.ingress, this.origins, (rule) => chains.get(rule)!, this.log);
  }

  /** Connects; resolves once the first connection is registered. */
  async start(): Promise<void> {
    if (!this.router) await this.prepare();
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
    const router = this.router!;
    const { 'heartbeat-interval': heartbeatIntervalMs, 'heartbeat-count': heartbeatCount } = config;
    this.supervisor = new ConnectionSupervisor({
      haConnections: config['ha-connections'],
      retries: config.retries,
      hooks: this.hooks,
      log: this.log,
      backoff: this.options.backoff,
      resolveEdges: async () => (await this.hooks.resolveEdges.promise({ credentials, overrides: this.options.edges ?? [], configured: Array.isArray(config.edge) ? config.edge : [] })) ?? [],
      createConnection: (edge, index) =>
        new TunnelConnection(edge, credentials, { index, connectorId: this.connectorId, version: VERSION, heartbeatIntervalMs, heartbeatCount }, router.handle, this.log),
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
      await Promise.all([...new Set(this.origins.values())].map((origin) => origin.close?.()));
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
