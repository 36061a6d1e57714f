// `burrow edge`: run an edge PoP from a config file, or a throwaway one on loopback with --dev.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { edgeSection, type EdgeConfigInput } from '../../../config/schema.ts';
import { loadConfig } from '../../kernel/config.ts';
import { ConfigError } from '../../kernel/errors.ts';
import { createLogger } from '../../kernel/logger.ts';
import { Edge } from '../../edge/edge.ts';
import { action, onShutdownSignals } from '../run.ts';

export async function devEdgeSettings(overrides: Partial<EdgeConfigInput['listen']> = {}): Promise<EdgeConfigInput> {
  return {
    pop: 'dev',
    listen: { http: '127.0.0.1:8080', tunnel: '127.0.0.1:7844', api: '127.0.0.1:7845', ...overrides },
    dataDir: await mkdtemp(path.join(os.tmpdir(), 'burrow-dev-')),
    zones: ['localhost'],
    quickTunnels: 'localhost',
  };
}

export function registerEdgeCommand(program: Command): void {
  program
    .command('edge')
    .description('run an edge PoP: visitors, connectors, and the management API')
    .option('-c, --config <file>', 'config file with an `edge:` section (default: search for burrow.config.* / .burrowrc*)')
    .option('--dev', 'throwaway edge on loopback: own CA in a temp dir, zone localhost, quick tunnels on')
    .addHelpText('after', '\nThe API token is BURROW_EDGE_TOKEN, or generated into <dataDir>/admin-token on first start.')
    .action(
      action(async (options: { config?: string; dev?: boolean }) => {
        const log = createLogger();
        let edge: Edge;
        if (options.dev) {
          edge = Edge.fromConfig(await devEdgeSettings(), { log });
        } else {
          const { file, config } = await loadConfig(options.config);
          const section = edgeSection(config);
          if (!section) {
            throw new ConfigError('no `edge:` section', { file, keyPath: 'edge', hint: 'add an edge section (see README.md#edge-config), or run `burrow edge --dev`' });
          }
          edge = new Edge({ settings: section, plugins: config.plugins, edgePlugins: section.plugins, configFile: file, log });
        }
        const addresses = await edge.start();
        onShutdownSignals(() => edge.stop(), () => undefined);
        if (options.dev) {
          const token = edge.adminTokenFile ? `$(cat ${edge.adminTokenFile})` : '$BURROW_EDGE_TOKEN';
          process.stderr.write(
            `\nDev edge ready. Visitors: http://<name>.localhost:${addresses.http?.split(':').pop()}/\n` +
              `Log in with:  burrow login --edge http://${addresses.api} --token ${token}\n\n`,
          );
        }
      }),
    );
}
