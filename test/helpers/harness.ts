// Starts real edges, connectors and origins on loopback for integration tests (real TLS, real HTTP/2).
import 'reflect-metadata';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Edge } from '../../core/edge/edge.ts';
import { Connector } from '../../core/connector/connector.ts';
import type { TunnelCredentials } from '../../core/connector/hooks.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { silentLogger, type Logger } from '../../core/kernel/logger.ts';
import { configSchema, type BurrowConfigInput, type EdgeConfigInput, type PluginSpec } from '../../config/schema.ts';
import { createKeyAndCsr } from '../../plugins/origin-ca/ca.ts';
import { stopAll } from './http.ts';
import type { NetworkStatus } from '../../plugins/network/view.ts';

export const ADMIN_TOKEN = 'test-admin-token';
process.env.BURROW_EDGE_TOKEN = ADMIN_TOKEN;

export async function tempDir(prefix = 'burrow-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface TestEdge {
  edge: Edge;
  dataDir: string;
  /** Visitor base URL, e.g. http://127.0.0.1:40001 */
  url: string;
  api: string;
  admin: EdgeClient;
  stop(graceMs?: number): Promise<void>;
}

/** An edge on loopback ports; `log` and `plugins` (extra plugin specs, e.g. options for a built-in) are optional. */
export async function startEdge(settings: Partial<EdgeConfigInput> = {}, { log = silentLogger, plugins }: { log?: Logger; plugins?: PluginSpec[] } = {}): Promise<TestEdge> {
  const dataDir = settings.dataDir ?? (await tempDir('burrow-edge-'));
  const edge = Edge.fromConfig(
    {
      pop: 'test',
      zones: ['example.test'],
      heartbeatInterval: 1_000,
      heartbeatCount: 3,
      ...settings,
      dataDir,
      listen: { http: '127.0.0.1:0', tunnel: '127.0.0.1:0', api: '127.0.0.1:0', peer: '127.0.0.1:0', ...settings.listen },
    },
    { log, plugins },
  );
  const addresses = await edge.start();
  return {
    edge,
    dataDir,
    url: `http://${addresses.http}`,
    api: `http://${addresses.api}`,
    admin: new EdgeClient(`http://${addresses.api}`, ADMIN_TOKEN),
    stop: (graceMs = 0) => edge.stop(graceMs),
  };
}

/** Logs in (CSR signed by the edge CA), creates a tunnel and routes the hostnames to it. */
export async function createTunnel(edge: TestEdge, name: string, hostnames: string[], zone = 'example.test'): Promise<TunnelCredentials & { apiToken: string }> {
  const { keyPem, csrPem } = await createKeyAndCsr({ zones: [zone] });
  const login = await edge.admin.request<{ certificate: string; ca: string; edge: { tunnel: string }; apiToken: string }>('POST', '/v1/login', { csr: csrPem, zone });
  const client = new EdgeClient(edge.api, login.apiToken);
  const created = await client.request<{ tunnel: { id: string; name: string }; secret: string }>('POST', '/v1/tunnels', { name });
  for (const hostname of hostnames) await client.request('PUT', `/v1/routes/${hostname}`, { tunnel: name });
  return {
    tunnelId: created.tunnel.id,
    tunnelSecret: created.secret,
    tunnelName: name,
    zone,
    tls: { caPem: login.ca, certPem: login.certificate, keyPem },
    edge: login.edge.tunnel,
    apiToken: login.apiToken,
  };
}

export async function startConnector(credentials: TunnelCredentials, config: BurrowConfigInput, options: { configFile?: string } = {}): Promise<Connector> {
  const connector = new Connector({
    config: configSchema.parse({ 'ha-connections': 2, 'heartbeat-interval': '1s', 'heartbeat-count': 3, ...config }),
    configFile: options.configFile,
    credentials,
    log: silentLogger,
    backoff: { baseMs: 100, capMs: 1_000 },
  });
  await connector.start();
  return connector;
}

export interface TestOrigin {
  server: http.Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startOrigin(handler: http.RequestListener, port = 0): Promise<TestOrigin> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls until `check` returns true (bounded), for states reached asynchronously. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Waits until the network `admin` belongs to has `pops` PoPs, each linked to every other (a full mesh). */
export async function fullMesh(admin: EdgeClient, pops: number, timeoutMs = 15_000): Promise<void> {
  await eventually(async () => {
    const status = await admin.request<NetworkStatus>('GET', '/v1/network');
    return status.pops.length === pops && status.pops.every((pop) => Object.keys(pop.links).length === pops - 1);
  }, timeoutMs, 'a full mesh of links');
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Stops a test's connector, edge and origin and removes the edge's data folder; every step runs even if one fails. */
export function stopWorld({ connector, edge, origin }: { connector?: Connector; edge?: TestEdge; origin?: TestOrigin }): Promise<void> {
  return stopAll(
    () => connector?.stop(0),
    () => edge?.stop(),
    () => origin?.close(),
    () => edge && removeDir(edge.dataDir),
  );
}
