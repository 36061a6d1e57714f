// `burrow tunnel ...`: create, list, info, delete, route dns, run, and ingress validate/rule.
import path from 'node:path';
import type { Command } from 'commander';
import { burrowHome, loadConfig } from '../../kernel/config.ts';
import { createLogger } from '../../kernel/logger.ts';
import { writeCredentialsFile } from '../../connector/credentials-file.ts';
import { Connector } from '../../connector/connector.ts';
import { Ingress } from '../../connector/ingress.ts';
import { hostnameOf } from '../../connector/request-router.ts';
import type { CreatedTunnel, RouteRecord, TunnelRecord } from '../../edge/registry.ts';
import type { EdgeConnectionInfo } from '../../edge/hooks.ts';
import { action, edgeClientFromCert, onShutdownSignals } from '../run.ts';

type TunnelView = TunnelRecord & { connections: Array<EdgeConnectionInfo & { connectedAt: string }> };

export function registerTunnelCommand(program: Command): void {
  const tunnel = program.command('tunnel').description('create, route and run tunnels');

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
    .command('run [name]')
    .description('run the connector for a tunnel (name or id; default: `tunnel:` in the config)')
    .option('-c, --config <file>', 'connector config (cloudflared config.yml keys work as-is)')
    .option('--edge <address...>', 'edge tunnel address(es) host:port, instead of the one in cert.pem')
    .action(
      action(async (name: string | undefined, options: { config?: string; edge?: string[] }) => {
        const { file, config } = await loadConfig(options.config);
        const connector = new Connector({ config, configFile: file, tunnel: name, edges: options.edge, log: createLogger({ level: config.loglevel }) });
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
