// `burrow network dev`: a whole network of PoPs on one machine, with emulated WAN delays between them.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, createLogger, splitHostPort, type CliPluginApi } from 'burrow';
import { DEFAULT_LATENCY_TEXT, DEFAULT_POPS, defaultLatency, describeLatency, loadLatencyFile, watchLatencyFile } from './latency.ts';
import { DEV_ZONE, startDevNetwork, type DevNetwork } from './network.ts';

interface DevCommandOptions {
  pops: string;
  latency?: string;
  registry?: string;
  basePort?: string;
  discovery?: string;
}

export function registerDevCommand(api: CliPluginApi): void {
  api
    .command('network', 'a network of PoPs: its CA, its status and a dev network on one machine')
    .command('dev')
    .description('run a whole network on this machine: the PoPs, a shared registry and emulated WAN delays between them')
    .option('--pops <list>', 'comma-separated PoP names', DEFAULT_POPS.join(','))
    .option('--latency <file>', 'YAML one-way delays per PoP pair, like `fra-lhr: 10ms`; watched, edits apply at once')
    .option('--registry <url>', 'share the registry through this Redis (redis://HOST:PORT/DB) instead of in memory')
    .option('--base-port <n>', 'fixed ports: PoP i (from 0) listens on N+10i (http), +1 (tunnel), +2 (api), +3 (peer), +4 (dns)')
    .option('--discovery <domain>', 'every PoP serves DNS for the dev zone with SRV discovery under DOMAIN (e.g. edges.localhost)')
    .addHelpText(
      'after',
      `\nWithout --latency the delays are:\n${DEFAULT_LATENCY_TEXT.trimEnd().replace(/^/gm, '  ')}\n` +
        '`a-b` applies both ways unless `b-a` is listed too; pairs not listed have no delay.\n' +
        'Every PoP accepts the same admin token: BURROW_EDGE_TOKEN, or one made up at start and printed.',
    )
    .action(api.action((options: DevCommandOptions) => runDevNetwork(api, options)));
}

async function runDevNetwork(api: CliPluginApi, options: DevCommandOptions): Promise<void> {
  const pops = options.pops.split(',').map((pop) => pop.trim()).filter(Boolean);
  const basePort = options.basePort === undefined ? undefined : parsePort(options.basePort);
  const latencyFile = options.latency === undefined ? undefined : path.resolve(options.latency);
  const latency = latencyFile ? await loadLatencyFile(latencyFile, pops) : defaultLatency(pops);
  const log = createLogger();

  const network = await startDevNetwork({ pops, latency, registry: options.registry, basePort, log, ...(options.discovery ? { dns: { discovery: options.discovery } } : {}) });
  let unwatch = () => {};
  if (latencyFile) {
    unwatch = watchLatencyFile(latencyFile, pops, latency, {
      onChange(matrix) {
        network.setLatency(matrix);
        log.info({ file: latencyFile }, `latency matrix changed: ${describeLatency(matrix, pops)}`);
      },
      onError(error) {
        log.error({ file: latencyFile }, `latency file not applied, the previous matrix stays: ${error.message}`);
      },
    });
  }
  api.onShutdownSignals(
    async () => {
      unwatch();
      await network.stop();
    },
    () => {
      unwatch();
      rmSync(network.dir, { recursive: true, force: true });
    },
  );
  process.stdout.write(summary(network, pops, latencyFile, options.discovery));
}

function summary(network: DevNetwork, pops: readonly string[], latencyFile: string | undefined, discovery: string | undefined): string {
  const rows = [['POP', 'VISITORS', 'API', 'TUNNEL', ...(discovery ? ['DNS'] : [])]];
  for (const pop of pops) {
    const p = network.pops.get(pop)!;
    rows.push([pop, `http://<name>.${DEV_ZONE}:${port(p.http)}/`, `http://${p.api}`, p.tunnel, ...(discovery ? [p.dns ?? ''] : [])]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
  const first = network.pops.get(pops[0]!)!;
  const delays = describeLatency(network.latency(), pops);
  return [
    '',
    `Dev network ready: ${pops.length} PoP${pops.length === 1 ? '' : 's'}, zone ${DEV_ZONE}, quick tunnels on.`,
    '',
    table,
    '',
    `Admin token (every PoP): ${network.adminToken}`,
    `Delays (one-way): ${delays}${latencyFile ? `\n  from ${latencyFile}, watched: edits apply to new bytes at once` : ''}`,
    '',
    'Quick tunnel through one PoP:',
    `  burrow tunnel --url http://127.0.0.1:3000 --edge http://${first.api}`,
    'The network as a PoP sees it:',
    `  BURROW_EDGE_TOKEN=${network.adminToken} burrow network status --edge http://${first.api}`,
    'Log in to a PoP (works at all of them):',
    `  burrow login --edge http://${first.api} --token ${network.adminToken}`,
    '',
    ...(discovery
      ? ['The PoPs as a connector discovers them:', `  dig @${splitHostPort(first.dns!).host} -p ${splitHostPort(first.dns!).port} +norec SRV _burrow._tcp.${discovery}`, '']
      : []),
    'Ctrl-C stops every PoP and removes their temp folders.',
    '',
    '',
  ].join('\n');
}

function port(address: string): string {
  return address.slice(address.lastIndexOf(':') + 1);
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw new ConfigError(`"${text}" is not a port number`, { keyPath: '--base-port', hint: 'give a port like 20000; PoP i uses the ten ports from N+10i' });
  }
  return n;
}
