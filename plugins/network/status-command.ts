// `burrow network status` and `burrow tunnel route explain`: the network's PoPs, links and routes, from the edge API.
import { BurrowError, EdgeApiError, EdgeClient, ZoneLoginToken, type CliPluginApi } from 'burrow';
import { readOriginCert } from '../origin-ca/cert-file.ts';
import { certPath } from '../origin-ca/zone-login.ts';
import type { NetworkStatus, RouteExplanation } from './view.ts';

interface EdgeOptions {
  edge?: string;
  json?: boolean;
}

export function registerStatusCommands(api: CliPluginApi): void {
  api
    .command('network', 'a network of PoPs: its CA, its status and a dev network on one machine')
    .command('status')
    .description("the network's PoPs, the round trips of their links and the route each PoP takes to every other")
    .option('--edge <url>', 'ask this edge API, e.g. http://127.0.0.1:7845, with BURROW_EDGE_TOKEN or the token in cert.pem (default: the edge in cert.pem)')
    .option('--json', 'print the edge API answer (GET /v1/network) as JSON')
    .action(
      api.action(async (options: EdgeOptions) => {
        const client = await edgeClient(api, options.edge);
        const status = await networkRequest<NetworkStatus>(client, '/v1/network');
        process.stdout.write(options.json ? json(status) : formatNetworkStatus(status));
      }),
    );

  api
    .command('tunnel route', 'route traffic to a tunnel')
    .command('explain <hostname>')
    .description('the path a request for HOSTNAME that lands at PoP --from takes now, hop by hop with the round trip of each')
    .requiredOption('--from <pop>', 'the PoP the request lands at, e.g. fra (`burrow network status` lists them)')
    .option('--edge <url>', 'ask this edge API, e.g. http://127.0.0.1:7845, with BURROW_EDGE_TOKEN or the token in cert.pem (default: the edge in cert.pem)')
    .option('--json', 'print the edge API answer (GET /v1/network/routes/HOSTNAME) as JSON')
    .action(
      api.action(async (hostname: string, options: EdgeOptions & { from: string }) => {
        const client = await edgeClient(api, options.edge);
        const explanation = await networkRequest<RouteExplanation>(
          client,
          `/v1/network/routes/${encodeURIComponent(hostname)}?from=${encodeURIComponent(options.from)}`,
        );
        process.stdout.write(options.json ? json(explanation) : formatRouteExplanation(explanation));
      }),
    );
}

/** `network status` as text: a table of PoPs and their links, then each PoP's route to every other. */
export function formatNetworkStatus(status: NetworkStatus): string {
  const count = `${status.pops.length} PoP${status.pops.length === 1 ? '' : 's'}`;
  const rows = [['POP', 'REGION', 'PEER', 'LINKS']];
  for (const pop of status.pops) {
    const links = Object.entries(pop.links)
      .sort(([a, x], [b, y]) => x - y || a.localeCompare(b))
      .map(([to, rtt]) => `${to} ${ms(rtt)}`);
    rows.push([pop.name, pop.region ?? '-', pop.peer || '-', links.join(', ') || '(no live links)']);
  }
  let out = `Network as ${status.pop} sees it: ${count}\n\n${table(rows)}`;

  const routes: string[][] = [];
  for (const from of Object.keys(status.routes).sort()) {
    const targets = status.routes[from]!;
    for (const to of Object.keys(targets).sort()) {
      if (to === from) continue;
      const route = targets[to];
      routes.push([`${from} -> ${to}`, route ? route.path.join(' > ') : 'unreachable', route ? ms(route.rttMs) : '']);
    }
  }
  out += `\nRoutes (lowest total round trip through the measured links):\n\n`;
  out += routes.length ? table(routes, '', [false, false, true]) : '(none: the network has one PoP)\n';
  return out;
}

/** `tunnel route explain` as text: where the request is served, then each hop with its round trip and the total. */
export function formatRouteExplanation(route: RouteExplanation): string {
  const where = route.servedAt.length ? `connections at ${route.servedAt.join(', ')}` : 'no live connections';
  if (route.to === null) {
    return (
      `${route.hostname} from ${route.from}: not served (visitors get 530)\n` +
      `  tunnel ${route.tunnel.name} (${route.tunnel.id}) has ${where}` +
      `${route.servedAt.length ? `, and ${route.from} has no path to ${route.servedAt.length === 1 ? 'it' : 'any of them'}` : ''}\n`
    );
  }
  let out = `${route.hostname} from ${route.from}: served at ${route.to}\n`;
  out += `  tunnel ${route.tunnel.name} (${route.tunnel.id}), ${where}\n`;
  if (route.hops.length === 0) return `${out}  no hops: ${route.to} holds a connection of the tunnel\n`;
  const rows = route.hops.map((hop) => [`${hop.from} -> ${hop.to}`, ms(hop.rttMs)]);
  rows.push(['total', ms(route.rttMs)]);
  return out + table(rows, '  ', [false, true]);
}

/** An API client for `--edge URL` (BURROW_EDGE_TOKEN, else cert.pem's zone token), or for the edge in cert.pem. */
async function edgeClient(api: CliPluginApi, edge: string | undefined): Promise<EdgeClient> {
  if (edge === undefined) return api.services.get(ZoneLoginToken).apiClient();
  // An empty BURROW_EDGE_TOKEN means none, as the edge reads it.
  const fromEnv = process.env.BURROW_EDGE_TOKEN || undefined;
  if (fromEnv) return new EdgeClient(edge, fromEnv);
  try {
    return new EdgeClient(edge, (await readOriginCert(certPath())).apiToken);
  } catch (error) {
    if (!(error instanceof BurrowError)) throw error;
    // cert.pem's own advice (log in) is one of two fixes here, so only its problem is kept.
    const problem = error.hint && error.message.endsWith(`; ${error.hint}`) ? error.message.slice(0, -error.hint.length - 2) : error.message;
    const hint = "set BURROW_EDGE_TOKEN to the edge's admin token, or log in with `burrow login --edge URL`";
    throw new BurrowError('BURROW_ERR_ORIGIN_CERT', `--edge ${edge} needs a token: BURROW_EDGE_TOKEN is not set, and ${problem}. Fix: ${hint}.`, { hint, cause: error });
  }
}

/** GET from the network API; an edge without it is not a PoP of a network, which the answer says. */
async function networkRequest<T>(client: EdgeClient, path: string): Promise<T> {
  try {
    return await client.request<T>('GET', path);
  } catch (error) {
    if (error instanceof EdgeApiError && error.status === 404 && error.message.startsWith('no API route')) {
      throw new EdgeApiError(
        404,
        `the edge at ${client.baseUrl} has no network API: it is a single PoP, not part of a network`,
        'set edge.network (registry, ca) in its config, or ask a PoP of the network with --edge',
      );
    }
    throw error;
  }
}

function ms(value: number): string {
  return `${value.toFixed(1)}ms`;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Columns padded to their widest cell, two spaces apart; `right[i]` aligns column i to the right. */
function table(rows: string[][], indent = '', right: boolean[] = []): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows
    .map((row) => indent + row.map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n') + '\n';
}
