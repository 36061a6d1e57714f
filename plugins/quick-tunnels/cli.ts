// `burrow tunnel --url URL [--edge URL]`: a quick tunnel; no login, the edge hands out a random hostname and a certificate for just that name.
import { BurrowError, Connector, EdgeClient, Ingress, createLogger, validateConfig, type CliPluginApi } from 'burrow';
import { ConnectorKeysToken } from '../origin-ca/service.ts';
import type { QuickTunnelResponse } from './index.ts';

export function registerQuickTunnelCommand(api: CliPluginApi): void {
  const tunnel = api.command('tunnel');
  tunnel
    .description(`${tunnel.description()}; with --url, run a quick tunnel (no login needed)`)
    .option('--url <url>', 'quick tunnel: expose this origin (e.g. http://127.0.0.1:3000) under a random hostname')
    .option('--edge <url>', 'quick tunnel: the edge API (default: $BURROW_EDGE, else http://127.0.0.1:7845)')
    .action(
      api.action(async (options: { url?: string; edge?: string }) => {
        if (!options.url) return tunnel.help({ error: true });
        await runQuickTunnel(api, options.url, options.edge ?? process.env.BURROW_EDGE ?? 'http://127.0.0.1:7845');
      }),
    );
}

async function runQuickTunnel(api: CliPluginApi, url: string, edgeApi: string): Promise<void> {
  const client = new EdgeClient(edgeApi);
  const config = validateConfig({ ingress: [{ service: url }] });
  // Check the origin URL before asking the edge for anything.
  Ingress.parse(config.ingress as never, undefined, {});
  const info = await client.request<{ quickTunnels: string | null }>('GET', '/v1/edge');
  if (!info.quickTunnels) {
    throw new BurrowError('BURROW_ERR_QUICK_TUNNEL', `the edge at ${edgeApi} does not offer quick tunnels. Fix: set edge.quickTunnels in its config, or log in and create a named tunnel`);
  }
  // The key is made here; the edge only sees the certificate request.
  const { keyPem, csrPem } = await api.services.get(ConnectorKeysToken).createKeyAndCsr({ zones: [info.quickTunnels] });
  const quick = await client.request<QuickTunnelResponse>('POST', '/v1/quick-tunnels', { csr: csrPem });
  const connector = new Connector({
    config,
    log: createLogger({ level: process.env.BURROW_LOG_LEVEL ?? 'info' }),
    credentials: {
      tunnelId: quick.tunnel.id,
      tunnelSecret: quick.secret,
      tunnelName: quick.tunnel.name,
      // A quick tunnel's zone is its own hostname.
      zone: quick.hostname,
      tls: { caPem: quick.ca, certPem: quick.certificate, keyPem },
      edge: quick.edge.tunnel,
    },
  });
  connector.once('fatal', (error: Error) => {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  });
  await connector.start();
  process.stdout.write(`Your quick tunnel is ready. It forwards to ${url} and lasts until this command stops:\n\n    ${quick.url}\n\n`);
  api.onShutdownSignals(() => connector.stop(), () => connector.abort());
}
