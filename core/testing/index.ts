// The plugin test kit (`burrow/testing`): an in-memory edge and connector that run plugins without sockets.
import 'reflect-metadata';
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import http2, { type ClientHttp2Session } from 'node:http2';
import path from 'node:path';
import { Readable } from 'node:stream';
import { defaultPlugins } from '../../config/default.ts';
import { configSchema, edgeSchema, type EdgeConfigInput, type PluginSpec } from '../../config/schema.ts';
import { Connector } from '../connector/connector.ts';
import { streamListener } from '../connector/tunnel-connection.ts';
import type { IngressRuleConfig, OriginRequestConfig } from '../connector/ingress.ts';
import { ConnectionTable, EdgeConnection } from '../edge/connections.ts';
import { createEdgeHooks } from '../edge/hooks.ts';
import type { EdgePluginApi } from '../edge/plugin-api.ts';
import type { TunnelRecord } from '../edge/registry.ts';
import { VisitorProxy, type EdgeMiddleware } from '../edge/visitor-proxy.ts';
import { resolveRuntimePlugins, runDisposers, setupPlugins, type InlinePluginSpec, type PluginSource } from '../kernel/loader.ts';
import { silentLogger, type Logger } from '../kernel/logger.ts';
import { attributeErrors } from '../kernel/middleware.ts';
import type { Dispose } from '../kernel/plugin.ts';
import type { PluginDefinition } from '../plugin.ts';
import { ServiceRegistry } from '../kernel/services.ts';
import { http2SessionOptions } from '../transport/protocol.ts';
import { VERSION } from '../version.ts';
import { duplexPair } from './duplex-pair.ts';
import { Container } from 'inversify';

/** A plugin as the kit takes it: like an entry of `plugins:`, or a definition object with optional options. */
export type TestPlugin = PluginSpec | PluginDefinition<any> | InlinePluginSpec;

export interface TestKitOptions {
  /** Connector plugins, loaded after the built-ins (origin-http, origin-status, ...) as `plugins:` would be. */
  plugins?: readonly TestPlugin[];
  /** Ingress rules, exactly as in the config file; default: every request to `http_status:404`. */
  ingress?: IngressRuleConfig[];
  /** Top-level `originRequest` defaults. */
  originRequest?: OriginRequestConfig;
  /** Edge plugins: their visitor middleware runs before the request crosses the in-memory tunnel. */
  edgePlugins?: readonly TestPlugin[];
  /** Edge settings the edge plugins see (`api.settings`); `pop` also ends every ray id. Default pop: `test`. */
  edge?: Partial<EdgeConfigInput>;
  /** Where relative plugin paths and files named in options resolve, as the config file's folder would. Default: cwd. */
  configDir?: string;
  /** Logger for the connector and plugins; silent by default. */
  log?: Logger;
}

export interface InjectRequest {
  /** Host header; default `app.example.test`. */
  host?: string;
  /** Path with query; default `/`. */
  path?: string;
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer | Readable;
  /** The visitor's address as the edge sees it (and sends on as burrow-connecting-ip); default 192.0.2.1. */
  clientIp?: string;
  /** Reject if no complete response arrives in time (a plugin that never answers); default 10 s. */
  timeoutMs?: number;
}

export interface InjectResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as it reached the visitor (still compressed, if it was). */
  body: Buffer;
  text: string;
  /** The `burrow-ray` id of the request. */
  ray: string;
  json<T = unknown>(): T;
}

export interface TestKit {
  /** Sends one visitor request through edge middleware, the in-memory tunnel, connector middleware and the origin. */
  inject(request?: InjectRequest): Promise<InjectResponse>;
  /** The prepared connector (ingress, hooks, services). */
  readonly connector: Connector;
  /** Stops origins and runs every plugin's dispose. */
  close(): Promise<void>;
}

const TUNNEL: TunnelRecord = { id: '00000000-0000-4000-8000-000000000000', name: 'test-kit', zone: 'example.test', createdAt: new Date(0).toISOString() };

/**
 * Builds an edge and a connector in this process, joined by an HTTP/2 session over an in-memory
 * stream pair: real Node request and response objects, real header handling and ray ids, no sockets.
 */
export async function createTestKit(options: TestKitOptions = {}): Promise<TestKit> {
  const log = options.log ?? silentLogger;
  const configDir = path.resolve(options.configDir ?? process.cwd());
  // A config file in configDir, as far as relative paths are concerned; it need not exist.
  const configFile = path.join(configDir, 'burrow.config.yaml');
  const settings = edgeSchema.parse({ pop: 'test', dataDir: configDir, ...options.edge });

  const connectorPlugins = await resolveRuntimePlugins({ defaults: defaultPlugins, listed: sources(options.plugins ?? [], 'plugins'), configFile });
  const connector = new Connector({
    config: configSchema.parse({ ingress: options.ingress ?? [{ service: 'http_status:404' }], originRequest: options.originRequest }),
    configFile,
    log,
    resolvedPlugins: connectorPlugins,
  });
  await connector.prepare();

  // The connector side of the tunnel: an HTTP/2 server session on one end of the pair.
  const [edgeEnd, connectorEnd] = duplexPair();
  const server = http2.createServer(http2SessionOptions);
  const handler = connector.requestHandler;
  server.on('stream', streamListener(handler));
  server.emit('connection', connectorEnd);
  const session: ClientHttp2Session = http2.connect('http://tunnel.burrow.internal', { ...http2SessionOptions, createConnection: () => edgeEnd as never });
  session.on('error', (error) => log.debug({ err: error.message }, 'test kit tunnel session error'));

  // The edge side: the real visitor proxy, with every hostname routed to the one in-memory tunnel.
  const hooks = createEdgeHooks();
  hooks.resolveTunnel.tap('test-kit', () => TUNNEL);
  const table = new ConnectionTable();
  table.add(new EdgeConnection('test-kit', session, TUNNEL.id, 0, connector.connectorId, VERSION, settings.pop, 'memory'));
  const visitors = new VisitorProxy(settings.pop, hooks, table, log);
  const edgeMiddleware: EdgeMiddleware[] = [];
  let edgeDisposers: Dispose[] = [];
  if (options.edgePlugins?.length) {
    const edgePlugins = await resolveRuntimePlugins({ defaults: [], listed: sources(options.edgePlugins, 'edge.plugins'), configFile });
    const services = new ServiceRegistry(new Container());
    edgeDisposers = await setupPlugins<EdgePluginApi>(edgePlugins, 'edge', (plugin) => ({
      runtime: 'edge',
      pluginId: plugin.definition.id,
      hooks,
      settings,
      log: log.child({ plugin: plugin.definition.id }),
      services,
      connections: table,
      get tunnels(): never {
        throw new Error('the test kit has no registry: test tunnel management against a real edge (test/helpers/harness.ts)');
      },
      listen() {
        throw new Error('the test kit opens no listeners: test them against a real edge (test/helpers/harness.ts)');
      },
      route() {
        throw new Error('the test kit has no edge API: test API routes against a real edge (test/helpers/harness.ts)');
      },
      use: (fn) => edgeMiddleware.push(attributeErrors(plugin.definition.id, fn)),
    }));
  }
  visitors.useMiddleware(edgeMiddleware);
  const visitorServer = http.createServer((req, res) => visitors.handle(req, res, 'http'));

  return {
    connector,
    inject: (request = {}) => inject(visitorServer, request),
    async close() {
      session.destroy();
      server.close();
      visitorServer.close();
      await runDisposers(edgeDisposers);
      await connector.stop(0);
    },
  };
}

function sources(plugins: readonly TestPlugin[], key: string): PluginSource[] {
  return plugins.map((plugin, i) => ({
    spec: isDefinition(plugin) ? { use: plugin } : plugin,
    keyPath: [key, i],
  }));
}

function isDefinition(plugin: TestPlugin): plugin is PluginDefinition<any> {
  return typeof plugin === 'object' && plugin !== null && typeof (plugin as { id?: unknown }).id === 'string';
}

function inject(server: http.Server, request: InjectRequest): Promise<InjectResponse> {
  const { host = 'app.example.test', path: requestPath = '/', method = 'GET', headers = {}, body, clientIp = '192.0.2.1', timeoutMs = 10_000 } = request;
  const [client, serverEnd] = duplexPair(clientIp);
  server.emit('connection', serverEnd);
  return new Promise<InjectResponse>((resolve, reject) => {
    const req = http.request({ method, path: requestPath, headers: { host, ...headers }, createConnection: () => client as never }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        client.destroy();
        const buffer = Buffer.concat(chunks);
        const text = buffer.toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: buffer,
          text,
          ray: String(res.headers['burrow-ray'] ?? ''),
          json: <T>() => JSON.parse(text) as T,
        });
      });
    });
    function fail(error: Error) {
      clearTimeout(timer);
      client.destroy();
      reject(error);
    }
    const timer = setTimeout(() => req.destroy(new Error(`no complete response to ${method} ${requestPath} within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', fail);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}
