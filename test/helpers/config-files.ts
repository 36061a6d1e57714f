// Starts edges and connectors from config files written to a folder, the way `burrow edge -c` and `burrow tunnel run -c` do.
import { edgeSection as sectionOf } from '../../config/schema.ts';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Connector } from '../../core/connector/connector.ts';
import type { TunnelCredentials } from '../../core/connector/hooks.ts';
import { Edge } from '../../core/edge/edge.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { loadConfig } from '../../core/kernel/config.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { ADMIN_TOKEN, type TestEdge } from './harness.ts';

/** A plugin path as a config file in `dir` would write it: relative, starting with `.`. */
export function relativePluginPath(dir: string, file: string): string {
  const relative = path.relative(dir, file);
  return relative.startsWith('.') ? relative : `./${relative}`;
}

/**
 * Writes `edge.yaml` (an `edge:` section; `dataDir` and loopback listeners are added) into `dir` and starts the
 * edge from it with the config's `plugins` and `edge.plugins`, as `burrow edge --config` does.
 */
export async function startEdgeFromFile(dir: string, edgeSection: string): Promise<TestEdge> {
  const file = path.join(dir, 'edge.yaml');
  const listen = '  listen: { http: 127.0.0.1:0, tunnel: 127.0.0.1:0, api: 127.0.0.1:0 }\n';
  await writeFile(file, `edge:\n  pop: test\n  zones: [example.test]\n  dataDir: ${JSON.stringify(dir)}\n${listen}${edgeSection}`);
  const { config } = await loadConfig(file);
  const section = sectionOf(config)!;
  const edge = new Edge({ settings: section, plugins: [...(config.plugins ?? []), ...(section.plugins ?? [])], configFile: file, log: silentLogger });
  const addresses = await edge.start();
  return {
    edge,
    dataDir: dir,
    url: `http://${addresses.http}`,
    api: `http://${addresses.api}`,
    admin: new EdgeClient(`http://${addresses.api}`, ADMIN_TOKEN),
    stop: (graceMs = 0) => edge.stop(graceMs),
  };
}

let connectorFiles = 0;

/** Writes a connector config file into `dir` and builds a connector from it, with `credentials` in hand as after `burrow login`. */
export async function connectorFromFile(dir: string, yaml: string, credentials: TunnelCredentials): Promise<Connector> {
  // A new name each time: cosmiconfig caches what it loaded by path.
  const file = path.join(dir, `connector-${++connectorFiles}.yaml`);
  await writeFile(file, yaml);
  return connectorFromConfigFile(file, credentials);
}

/**
 * A connector from an existing config file. The loaded config is already resolved (durations in ms, defaults
 * filled), so it goes to the connector as it is: parsing it again would read 30000 ms as 30000 s.
 */
export async function connectorFromConfigFile(file: string, credentials: TunnelCredentials): Promise<Connector> {
  const { config } = await loadConfig(file);
  return new Connector({ config, configFile: file, credentials, log: silentLogger, backoff: { baseMs: 100, capMs: 1_000 } });
}
