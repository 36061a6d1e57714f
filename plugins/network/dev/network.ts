// A whole network of PoPs in one process: a throwaway network CA, one edge per PoP, and a delaying relay per PoP-to-PoP direction.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, Edge, TunnelRegistryToken, createLogger, definePlugin, formatHostPort, type EdgeOptions, type Logger } from 'burrow';
import { MemoryRegistry } from '../../registry-memory/store.ts';
import { initNetworkCa } from '../ca-command.ts';
import { oneWayDelay, type LatencyMatrix } from './latency.ts';
import { DelayRelay } from './relay.ts';

/** The zone every dev PoP serves, as `burrow edge --dev` does: visitors reach `http://<name>.localhost:PORT/`. */
export const DEV_ZONE = 'localhost';

const POP_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

export interface DevNetworkOptions {
  /** PoP names, e.g. ['fra', 'lhr', 'ewr', 'iad']. */
  pops: readonly string[];
  /** One-way delays per ordered pair; pairs not listed have 0 ms. */
  latency?: LatencyMatrix;
  /** A Redis URL the PoPs share their registry through; without it they share one in-memory registry. */
  registry?: string;
  log?: Logger;
  /** Link probe interval in milliseconds (edge.network.probeInterval); default 2 s. */
  probeInterval?: number;
  /**
   * Fixed ports instead of free ones: PoP number i (from 0) listens on basePort + 10i (http),
   * + 10i + 1 (tunnel), + 10i + 2 (api) and + 10i + 3 (peer).
   */
  basePort?: number;
  /**
   * Each PoP also serves DNS (listen.dns on a free port, or basePort + 10i + 4) for the dev zone, with SRV discovery
   * under `discovery` (e.g. edges.localhost); `regions` puts PoPs in regions.
   */
  dns?: { discovery?: string; regions?: Readonly<Record<string, string>> };
  /**
   * One-way delay in milliseconds between connectors and a PoP: its tunnel listener is advertised (edge.advertise,
   * and so in SRV answers and logins) behind a relay that holds bytes back this long each way.
   */
  connectorLatency?: Readonly<Record<string, number>>;
  /** The admin token every PoP accepts (BURROW_EDGE_TOKEN wins when set, as at any edge); default a random one. */
  adminToken?: string;
}

export interface DevPop {
  readonly edge: Edge;
  /** Visitors' listener, host:port (`http://<name>.localhost:PORT/`). */
  readonly http: string;
  /** Edge API, host:port. */
  readonly api: string;
  /** Where connectors dial, host:port. */
  readonly tunnel: string;
  /** This PoP's own link listener, host:port (the other PoPs reach it through their relays). */
  readonly peer: string;
  /** Its DNS listener (UDP and TCP), host:port, with `dns`. */
  readonly dns?: string;
  readonly dataDir: string;
}

export interface DevNetwork {
  readonly pops: ReadonlyMap<string, DevPop>;
  /** The temp folder holding the CA and every PoP's dataDir; stop() removes it. */
  readonly dir: string;
  /** The network CA every PoP names in edge.network.ca. */
  readonly caDir: string;
  /** Accepted by every PoP's API. */
  readonly adminToken: string;
  /** The relay PoP `from` dials `to` through. */
  relay(from: string, to: string): DelayRelay;
  /** Applies a new matrix to every relay; bytes already in flight keep their delay. */
  setLatency(matrix: LatencyMatrix): void;
  latency(): LatencyMatrix;
  /**
   * Stops a PoP (requests in flight get `gracePeriodMs`; one already stopped with its edge.stop() stays stopped) and
   * starts it again with the same config and dataDir, as an operator would; its links and its advertised tunnel
   * address (with connectorLatency) stay the same, its other listeners may move.
   */
  restart(pop: string, gracePeriodMs?: number): Promise<DevPop>;
  /** Stops the edges (requests in flight get `gracePeriodMs`, default each edge's), then the relays, and removes the temp folders. */
  stop(gracePeriodMs?: number): Promise<void>;
}

/** Starts every PoP of a dev network in this process and links them through delaying relays. */
export async function startDevNetwork(options: DevNetworkOptions): Promise<DevNetwork> {
  const pops = checkPops(options.pops);
  if (options.basePort !== undefined && (!Number.isInteger(options.basePort) || options.basePort < 1 || options.basePort + 10 * pops.length > 65535)) {
    throw new ConfigError(`${options.basePort} is not a usable base port for ${pops.length} PoPs`, { keyPath: '--base-port', hint: `use a port from 1 to ${65535 - 10 * pops.length}, like 20000 (each PoP takes the next ten)` });
  }
  const log = options.log ?? createLogger({ level: 'silent', pretty: false });
  // An empty BURROW_EDGE_TOKEN means none, as api-tokens reads it.
  const fromEnv = process.env.BURROW_EDGE_TOKEN || undefined;
  const adminToken = fromEnv ?? options.adminToken ?? randomBytes(24).toString('base64url');
  let matrix: LatencyMatrix = { ...(options.latency ?? {}) };

  const root = await mkdtemp(path.join(os.tmpdir(), 'burrow-network-dev-'));
  const relays = new Map<string, DelayRelay>();
  const started: Edge[] = [];
  const cleanup = async (gracePeriodMs?: number) => {
    await Promise.allSettled(started.map((edge) => edge.stop(gracePeriodMs)));
    await Promise.allSettled([...relays.values()].map((relay) => relay.close()));
    await rm(root, { recursive: true, force: true });
  };

  try {
    const { dir: caDir } = await initNetworkCa(path.join(root, 'network-ca'));

    // One relay per direction: A dials B at relay A->B, which holds bytes back by A->B's delay one way and B->A's the other.
    for (const from of pops) {
      for (const to of pops) {
        if (from === to) continue;
        relays.set(pairKey(from, to), await DelayRelay.start({ forwardMs: oneWayDelay(matrix, from, to), backwardMs: oneWayDelay(matrix, to, from) }));
      }
    }

    type PluginSpec = NonNullable<EdgeOptions['plugins']>[number];
    const plugins: PluginSpec[] = [];
    if (!options.registry) {
      const shared = await MemoryRegistry.open();
      const devRegistry = definePlugin({
        id: 'dev-registry',
        description: 'One in-memory registry shared by every PoP of `burrow network dev`',
        provides: ['registry'],
        edge(api) {
          api.services.provide(TunnelRegistryToken, shared);
          api.hooks.resolveTunnel.tapPromise('dev-registry', (hostname) => shared.tunnelForHostname(hostname));
        },
      });
      // Given inline, the way the config loader hands over a plugin it imported.
      plugins.push({ use: devRegistry } as unknown as PluginSpec);
    }

    // Each PoP's connector-facing relay lives as long as the network, so its advertised address survives a restart.
    for (const pop of pops) {
      const delay = options.connectorLatency?.[pop];
      if (delay !== undefined) relays.set(`connectors->${pop}`, await DelayRelay.start({ forwardMs: delay, backwardMs: delay }));
    }
    const startPop = async (pop: string): Promise<DevPop> => {
      const i = pops.indexOf(pop);
      const dataDir = path.join(root, 'pops', pop);
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      // api-tokens reads an existing <dataDir>/admin-token, so one token works at every PoP.
      if (!fromEnv) await writeFile(path.join(dataDir, 'admin-token'), `${adminToken}\n`, { mode: 0o600 });
      const port = (n: number) => formatHostPort('127.0.0.1', options.basePort === undefined ? 0 : options.basePort + 10 * i + n);
      const front = relays.get(`connectors->${pop}`);
      const peers = Object.fromEntries(pops.filter((other) => other !== pop).map((other) => [other, relays.get(pairKey(pop, other))!.address]));
      const edge = Edge.fromConfig(
        {
          pop,
          dataDir,
          zones: [DEV_ZONE],
          quickTunnels: DEV_ZONE,
          listen: { http: port(0), tunnel: port(1), api: port(2), peer: port(3), ...(options.dns ? { dns: port(4) } : {}) },
          ...(options.dns?.regions?.[pop] ? { region: options.dns.regions[pop] } : {}),
          ...(front ? { advertise: front.address } : {}),
          ...(options.dns?.discovery ? { dns: { discovery: options.dns.discovery } } : {}),
          network: {
            ca: caDir,
            ...(options.registry ? { registry: options.registry } : {}),
            peers,
            // A bare number would be seconds in the config; the option is milliseconds.
            ...(options.probeInterval !== undefined ? { probeInterval: `${options.probeInterval}ms` } : {}),
          },
        },
        { plugins, log },
      );
      started.push(edge);
      const addresses = await edge.start();
      front?.setTarget(addresses.tunnel);
      const peer = addresses.peer;
      if (!addresses.http || !peer) throw new Error(`PoP ${pop} started without ${addresses.http ? 'a peer' : 'an http'} listener`);
      return { edge, http: addresses.http, api: addresses.api, tunnel: addresses.tunnel, peer, ...(addresses.dns ? { dns: addresses.dns } : {}), dataDir };
    };

    // All at once; every start settles before a failure is reported, so cleanup never races a PoP still starting.
    const settled = await Promise.allSettled(pops.map(async (pop) => [pop, await startPop(pop)] as const));
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const popMap = new Map<string, DevPop>(settled.map((result) => (result as PromiseFulfilledResult<readonly [string, DevPop]>).value));

    // The PoPs exist now: each relay forwards to the real link listener of its destination.
    for (const from of pops) for (const to of pops) if (from !== to) relays.get(pairKey(from, to))!.setTarget(popMap.get(to)!.peer);

    let stopping: Promise<void> | undefined;
    return {
      pops: popMap,
      dir: root,
      caDir,
      adminToken,
      relay(from, to) {
        const relay = relays.get(pairKey(from, to));
        if (!relay) throw new Error(`no link from ${from} to ${to} in this dev network (PoPs: ${pops.join(', ')})`);
        return relay;
      },
      setLatency(next) {
        matrix = { ...next };
        for (const from of pops) {
          for (const to of pops) {
            if (from !== to) relays.get(pairKey(from, to))!.setDelay({ forwardMs: oneWayDelay(matrix, from, to), backwardMs: oneWayDelay(matrix, to, from) });
          }
        }
      },
      latency: () => matrix,
      async restart(pop, gracePeriodMs) {
        const old = popMap.get(pop);
        if (!old) throw new Error(`no PoP ${pop} in this dev network (PoPs: ${pops.join(', ')})`);
        await old.edge.stop(gracePeriodMs);
        started.splice(started.indexOf(old.edge), 1);
        const entry = await startPop(pop);
        popMap.set(pop, entry);
        for (const from of pops) if (from !== pop) relays.get(pairKey(from, pop))!.setTarget(entry.peer);
        return entry;
      },
      stop: (gracePeriodMs) => (stopping ??= cleanup(gracePeriodMs)),
    };
  } catch (error) {
    await cleanup(0);
    throw error;
  }
}

function pairKey(from: string, to: string): string {
  return `${from}->${to}`;
}

function checkPops(input: readonly string[]): string[] {
  const pops = input.map((pop) => pop.trim()).filter(Boolean);
  const hint = 'give a comma-separated list of short lowercase names, like fra,lhr,ewr,iad';
  if (pops.length === 0) throw new ConfigError('no PoPs to run', { keyPath: '--pops', hint });
  for (const pop of pops) {
    if (!POP_NAME.test(pop)) throw new ConfigError(`"${pop}" is not a PoP name`, { keyPath: '--pops', hint });
  }
  const twice = pops.find((pop, i) => pops.indexOf(pop) !== i);
  if (twice) throw new ConfigError(`the PoP ${twice} is listed twice`, { keyPath: '--pops', hint: 'list each PoP once' });
  return pops;
}
