// `burrow tunnel ...`: create, list, info, delete, route dns, token, run, quick tunnels (`--url`), and ingress validate/rule.
import path from 'node:path';
import type { Command } from 'commander';
import { configSchema, type BurrowConfig } from '../../../config/schema.ts';
import { burrowHome, loadConfig } from '../../kernel/config.ts';
import { BurrowError, ConfigError } from '../../kernel/errors.ts';
import { createLogger } from '../../kernel/logger.ts';
import { readCredentialsFile, writeCredentialsFile } from '../../connector/credentials-file.ts';
import { EdgeClient } from '../../edge-client.ts';
import { Connector } from '../../connector/connector.ts';
import { Ingress } from '../../connector/ingress.ts';
import { hostnameOf } from '../../connector/request-router.ts';
import type { CreatedTunnel, RouteRecord, TunnelRecord } from '../../edge/registry.ts';
import type { EdgeConnectionInfo } from '../../edge/hooks.ts';
import { action, edgeClientFromCert, onShutdownSignals } from '../run.ts';
import type { QuickTunnelResponse } from '../../../plugins/quick-tunnels/index.ts';

type TunnelView = TunnelRecord & { connections: Array<EdgeConnectionInfo & { connectedAt: string }> };

export function registerTunnelCommand(program: Command): void {
  const tunnel = program
    .command('tunnel')
    .description('create, route and run tunnels; with --url, run a quick tunnel (no login needed)')
    // Options of `tunnel` itself (--url, --edge) must not swallow the same flags given to `tunnel run`.
    .enablePositionalOptions()
    .option('--url <url>', 'quick tunnel: expose this origin (e.g. http://127.0.0.1:3000) under a random hostname')
    .option('--edge <url>', 'quick tunnel: the edge API (default: $BURROW_EDGE, else http://127.0.0.1:7845)')
    .action(
      action(async (options: { url?: string; edge?: string }) => {
        if (!options.url) {
          tunnel.help({ error: true });
        }
        await runQuickTunnel(options.url!, options.edge ?? process.env.BURROW_EDGE ?? 'http://127.0.0.1:7845');
      }),
    );

  tunnel
    .command('create <name>')
    .description('create a named tunnel; writes its credentials to $BURROW_HOME/<id>.json (mode 0600)')
    .action(
      action(async (name: string) => {
        const client = await edgeClientFromCert();
        const created = await client.request<CreatedTunnel>('POST', '/v1/tunnels', { name });
        const file = path.join(burrowHome(), `${created.tunnel.id}.json`);
        await writeCredentialsFile(file, { TunnelID: created.tunnel.id, TunnelName: created.tunnel.name, TunnelSecret: created.secret, Zone: created.tunnel.zone });
        process.stdout.write(`Tunnel credentials written to ${file}. Keep this file secret.\nCreated tunnel ${created.tunnel.name} with id ${created.tunnel.id}\n`);
      }),
    );

  tunnel
    .command('list')
    .description('list the tunnels of your zone')
    .action(
      action(async () => {
        const { tunnels } = await (await edgeClientFromCert()).request<{ tunnels: TunnelView[] }>('GET', '/v1/tunnels');
        const rows = [['ID', 'NAME', 'ZONE', 'CREATED', 'CONNECTIONS']];
        for (const t of tunnels) rows.push([t.id, t.name, t.zone, t.createdAt, summarize(t.connections)]);
        process.stdout.write(table(rows));
      }),
    );

  tunnel
    .command('info <name>')
    .description("show a tunnel's routes and live connections")
    .action(
      action(async (name: string) => {
        const info = await (await edgeClientFromCert()).request<{ tunnel: TunnelView; routes: RouteRecord[] }>('GET', `/v1/tunnels/${encodeURIComponent(name)}`);
        const t = info.tunnel;
        process.stdout.write(`NAME:     ${t.name}\nID:       ${t.id}\nZONE:     ${t.zone}\nCREATED:  ${t.createdAt}\nROUTES:   ${info.routes.map((r) => r.hostname).join(', ') || '(none)'}\n\n`);
        if (t.connections.length === 0) {
          process.stdout.write('This tunnel has no active connections.\n');
          return;
        }
        const rows = [['CONNECTOR ID', 'CONNECTION', 'POP', 'INDEX', 'VERSION', 'ORIGIN', 'CONNECTED SINCE']];
        for (const c of t.connections) rows.push([c.connectorId, c.id, c.pop, String(c.connIndex), c.version, c.remoteAddress, c.connectedAt]);
        process.stdout.write(table(rows));
      }),
    );

  tunnel
    .command('delete <name>')
    .description('delete a tunnel (refused while it has live connections, unless -f)')
    .option('-f, --force', 'cut off live connections and delete anyway')
    .action(
      action(async (name: string, options: { force?: boolean }) => {
        const answer = await (await edgeClientFromCert()).request<{ deleted: string; disconnected: number }>(
          'DELETE',
          `/v1/tunnels/${encodeURIComponent(name)}${options.force ? '?force=true' : ''}`,
        );
        process.stdout.write(`Deleted tunnel ${name} (${answer.deleted})${answer.disconnected ? `; cut off ${answer.disconnected} connection(s)` : ''}\n`);
      }),
    );

  tunnel
    .command('route')
    .description('route traffic to a tunnel')
    .command('dns <name> <hostname>')
    .description('route a hostname to the tunnel (creates its DNS record on the edge)')
    .option('--overwrite', 'move the hostname from another tunnel')
    .action(
      action(async (name: string, hostname: string, options: { overwrite?: boolean }) => {
        const answer = await (await edgeClientFromCert()).request<{ route: RouteRecord; tunnel: TunnelRecord }>('PUT', `/v1/routes/${encodeURIComponent(hostname)}`, {
          tunnel: name,
          overwrite: options.overwrite === true,
        });
        process.stdout.write(`Added route: ${answer.route.hostname} will route to tunnel ${answer.tunnel.name} (${answer.tunnel.id})\n`);
      }),
    );

  tunnel
    .command('token <name>')
    .description('print a token that runs the tunnel anywhere with `burrow tunnel run --token` (keep it secret)')
    .addHelpText(
      'after',
      '\nThe token holds the tunnel secret and a client certificate (with its key) that can run only this tunnel.\n' +
        'Whoever has it can serve the tunnel\'s hostnames until the certificate expires or the tunnel is deleted.',
    )
    .action(
      action(async (name: string) => {
        const { createKeyAndCsr } = await import('../../../plugins/origin-ca/ca.ts');
        const { encodeTunnelToken } = await import('../../../plugins/origin-ca/tunnel-token.ts');
        const client = await edgeClientFromCert();
        const { tunnel: record } = await client.request<{ tunnel: TunnelRecord }>('GET', `/v1/tunnels/${encodeURIComponent(name)}`);
        const file = path.join(burrowHome(), `${record.id}.json`);
        const credentials = await readCredentialsFile(file).catch((error: Error) => {
          throw new BurrowError('BURROW_ERR_TOKEN', `${error.message.split('. Fix:')[0]}. Fix: the tunnel secret exists only in the credentials file \`burrow tunnel create\` wrote; run this where that file is`);
        });
        const { keyPem, csrPem } = await createKeyAndCsr({ zones: [record.zone] });
        const cert = await client.request<{ certificate: string; ca: string; edge: { tunnel: string } }>('POST', `/v1/tunnels/${encodeURIComponent(record.id)}/certificate`, { csr: csrPem });
        const token = encodeTunnelToken({
          zone: record.zone,
          tunnelId: record.id,
          tunnelName: record.name,
          secret: credentials.TunnelSecret,
          edge: cert.edge.tunnel,
          caPem: cert.ca,
          certPem: cert.certificate,
          keyPem,
        });
        process.stdout.write(`${token}\n`);
      }),
    );

  tunnel
    .command('run [name]')
    .description('run the connector for a tunnel (name or id; default: `tunnel:` in the config)')
    .option('-c, --config <file>', 'connector config (cloudflared config.yml keys work as-is)')
    .option('--edge <address...>', 'edge tunnel address(es) host:port, instead of the one in cert.pem')
    .option('--token <token>', 'run the tunnel from a `burrow tunnel token` string (default: $BURROW_TUNNEL_TOKEN); needs no cert.pem')
    .option('--url <url>', 'send every request to this origin instead of using ingress rules')
    .action(
      action(async (name: string | undefined, options: { config?: string; edge?: string[]; token?: string; url?: string }) => {
        const loaded = await loadConfig(options.config);
        const file = loaded.file;
        let config = loaded.config;
        if (options.url) config = withUrl(config, options.url, file);
        const token = options.token ?? process.env.BURROW_TUNNEL_TOKEN;
        const connector = new Connector({ config, configFile: file, tunnel: name, token, edges: options.edge, log: createLogger({ level: config.loglevel }) });
        connector.once('fatal', (error: Error) => {
          process.stderr.write(`error: ${error.message}\n`);
          process.exit(1);
        });
        await connector.start();
        onShutdownSignals(() => connector.stop(), () => connector.abort());
      }),
    );

  const ingress = tunnel.command('ingress').description('check ingress rules');
  ingress
    .command('validate')
    .description('check the ingress rules; exits non-zero with the problem if they are invalid')
    .option('-c, --config <file>', 'connector config')
    .action(
      action(async (options: { config?: string }) => {
        const { file, config } = await loadConfig(options.config);
        const connector = new Connector({ config, configFile: file, log: createLogger({ level: 'warn' }) });
        await connector.prepare();
        await connector.stop(0);
        process.stdout.write(`Validating rules from ${file ?? '(no config file)'}\nOK\n`);
      }),
    );
  ingress
    .command('rule <url>')
    .description('print which ingress rule matches URL')
    .option('-c, --config <file>', 'connector config')
    .action(
      action(async (raw: string, options: { config?: string }) => {
        const { file, config } = await loadConfig(options.config);
        const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
        const rules = Ingress.parse(config.ingress as never, config.originRequest as never, { file });
        const rule = rules.match(hostnameOf(url.host), url.pathname);
        process.stdout.write(`Using rules from ${file ?? '(no config file)'}\nMatched rule #${rule.index + 1}\n${indent(rule.describe())}\n`);
      }),
    );
}

/** `--url`: one catch-all rule. Mixing it with ingress rules from a file would leave it unclear which wins. */
function withUrl(config: BurrowConfig, url: string, file: string | undefined): BurrowConfig {
  if (config.ingress?.length) {
    throw new ConfigError('--url cannot be combined with ingress rules', { file, keyPath: 'ingress', hint: 'drop --url, or run without the config file' });
  }
  return { ...config, ingress: [{ service: url }] };
}

/** `burrow tunnel --url`: no login; the edge hands out a random hostname and a certificate for just that name. */
async function runQuickTunnel(url: string, edgeApi: string): Promise<void> {
  const { createKeyAndCsr } = await import('../../../plugins/origin-ca/ca.ts');
  const client = new EdgeClient(edgeApi);
  const config = withUrl(configSchema.parse({}), url, undefined);
  // Check the origin URL before asking the edge for anything.
  Ingress.parse(config.ingress as never, undefined, {});
  const info = await client.request<{ quickTunnels: string | null }>('GET', '/v1/edge');
  if (!info.quickTunnels) {
    throw new BurrowError('BURROW_ERR_QUICK_TUNNEL', `the edge at ${edgeApi} does not offer quick tunnels. Fix: set edge.quickTunnels in its config, or log in and create a named tunnel`);
  }
  // The key is made here; the edge only sees the certificate request.
  const { keyPem, csrPem } = await createKeyAndCsr({ zones: [info.quickTunnels] });
  const quick = await client.request<QuickTunnelResponse>('POST', '/v1/quick-tunnels', { csr: csrPem });
  const connector = new Connector({
    config,
    log: createLogger({ level: process.env.BURROW_LOG_LEVEL ?? 'info' }),
    credentials: {
      tunnelId: quick.tunnel.id,
      tunnelSecret: quick.secret,
      tunnelName: quick.tunnel.name,
      tls: { caPem: quick.ca, certPem: quick.certificate, keyPem },
      edge: quick.edge.tunnel,
    },
  });
  connector.once('fatal', (error: Error) => {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  });
  await connector.start();
  process.stdout.write(
    `Your quick tunnel is ready. It forwards to ${url} and lasts until this command stops:\n\n    ${quick.url}\n\n`,
  );
  onShutdownSignals(() => connector.stop(), () => connector.abort());
}

function summarize(connections: TunnelView['connections']): string {
  if (connections.length === 0) return '';
  const perPop = new Map<string, number>();
  for (const c of connections) perPop.set(c.pop, (perPop.get(c.pop) ?? 0) + 1);
  return [...perPop].map(([pop, n]) => `${n}x${pop}`).join(', ');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `\t${line}`)
    .join('\n');
}
