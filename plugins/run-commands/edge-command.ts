// `burrow edge`: run an edge PoP from a config file, or a throwaway one on loopback with --dev.
import { ConfigError, Edge, createLogger, devEdgeSettings, edgeSection, loadConfig, type CliPluginApi } from 'burrow';

export function registerEdgeCommand(api: CliPluginApi): void {
  api.program
    .command('edge')
    .description('run an edge PoP: visitors, connectors, and the management API')
    .option('-c, --config <file>', 'config file with an `edge:` section (default: search for burrow.config.* / .burrowrc*)')
    .option('--dev', 'throwaway edge on loopback: own CA in a temp dir, zone localhost, quick tunnels on')
    .addHelpText('after', '\nThe API token is BURROW_EDGE_TOKEN, or generated into <dataDir>/admin-token on first start.')
    .action(
      api.action(async (options: { config?: string; dev?: boolean }) => {
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
        api.onShutdownSignals(() => edge.stop(), () => undefined);
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
