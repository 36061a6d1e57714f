// `burrow tunnel create/list/info/delete/route dns`: the commands that call this plugin's edge API as the logged-in zone.
import { ZoneLoginToken, type CliPluginApi, type CreatedTunnel, type EdgeConnectionInfo, type RouteRecord, type TunnelRecord } from 'burrow';

type TunnelView = TunnelRecord & { connections: Array<EdgeConnectionInfo & { connectedAt: string }> };

export function registerTunnelCommands(api: CliPluginApi): void {
  const { action } = api;
  const tunnel = api.command('tunnel');
  const zoneClient = () => api.services.get(ZoneLoginToken).apiClient();

  tunnel
    .command('create <name>')
    .description('create a named tunnel; writes its credentials to $BURROW_HOME/<id>.json (mode 0600)')
    .action(
      action(async (name: string) => {
        const created = await (await zoneClient()).request<CreatedTunnel>('POST', '/v1/tunnels', { name });
        const file = await api.services.get(ZoneLoginToken).saveTunnelCredentials(created);
        process.stdout.write(`Tunnel credentials written to ${file}. Keep this file secret.\nCreated tunnel ${created.tunnel.name} with id ${created.tunnel.id}\n`);
      }),
    );

  tunnel
    .command('list')
    .description('list the tunnels of your zone')
    .action(
      action(async () => {
        const { tunnels } = await (await zoneClient()).request<{ tunnels: TunnelView[] }>('GET', '/v1/tunnels');
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
        const info = await (await zoneClient()).request<{ tunnel: TunnelView; routes: RouteRecord[] }>('GET', `/v1/tunnels/${encodeURIComponent(name)}`);
        const t = info.tunnel;
        process.stdout.write(`NAME:     ${t.name}\nID:       ${t.id}\nZONE:     ${t.zone}\nCREATED:  ${t.createdAt}\nROUTES:   ${info.routes.map((r) => r.hostname).join(', ') || '(none)'}\n\n`);
        if (t.connections.length === 0) {
          process.stdout.write('This tunnel has no active connections.\n');
          return;
        }
        // One line per connector (replicas of the tunnel each have their own), as cloudflared's `tunnel info` shows them.
        const connectors = new Map<string, TunnelView['connections']>();
        for (const c of t.connections) connectors.set(c.connectorId, [...(connectors.get(c.connectorId) ?? []), c]);
        const byConnector = [['CONNECTOR ID', 'VERSION', 'ORIGIN IP', 'CONNECTIONS', 'EDGE', 'CONNECTED SINCE']];
        for (const [id, list] of connectors) {
          const origins = [...new Set(list.map((c) => c.remoteAddress.replace(/:\d+$/, '')))].join(', ');
          const since = list.map((c) => c.connectedAt).sort()[0]!;
          byConnector.push([id, list[0]!.version, origins, String(list.length), summarize(list), since]);
        }
        process.stdout.write(`${connectors.size} connector(s):\n${table(byConnector)}\n`);
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
        const answer = await (await zoneClient()).request<{ deleted: string; disconnected: number }>(
          'DELETE',
          `/v1/tunnels/${encodeURIComponent(name)}${options.force ? '?force=true' : ''}`,
        );
        process.stdout.write(`Deleted tunnel ${name} (${answer.deleted})${answer.disconnected ? `; cut off ${answer.disconnected} connection(s)` : ''}\n`);
      }),
    );

  api
    .command('tunnel route', 'route traffic to a tunnel')
    .command('dns <name> <hostname>')
    .description('route a hostname to the tunnel (creates its DNS record on the edge)')
    .option('--overwrite', 'move the hostname from another tunnel')
    .action(
      action(async (name: string, hostname: string, options: { overwrite?: boolean }) => {
        const answer = await (await zoneClient()).request<{ route: RouteRecord; tunnel: TunnelRecord }>('PUT', `/v1/routes/${encodeURIComponent(hostname)}`, {
          tunnel: name,
          overwrite: options.overwrite === true,
        });
        process.stdout.write(`Added route: ${answer.route.hostname} will route to tunnel ${answer.tunnel.name} (${answer.tunnel.id})\n`);
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
