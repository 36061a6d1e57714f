// What the dashboard shows, as one JSON snapshot: the PoPs and their links, the tunnels with their connectors and
// connections, and each tunnel's request and error counts per second.
import { TunnelRegistryToken, type EdgePluginApi, type PresenceRecord } from 'burrow';
import { NetworkStatusToken, type PathStatus } from '../network/view.ts';
import { WINDOW_SECONDS, type RequestRates } from './rates.ts';

/** More tunnels than this are counted but not listed, so one snapshot stays small and cheap to build. */
export const MAX_TUNNELS = 200;

export interface PopView {
  readonly name: string;
  readonly region?: string;
  /** Smoothed round trip in ms of its link to each PoP. */
  readonly links: Readonly<Record<string, number>>;
}

export interface ConnectionView {
  readonly id: string;
  readonly pop: string;
  readonly index: number;
  readonly connectedAt: string;
  /** The connector's address as that PoP sees it. */
  readonly address: string;
  /** Requests in flight on it; known for the connections at this PoP only. */
  readonly inFlight?: number;
}

export interface ConnectorView {
  readonly id: string;
  readonly version: string;
  readonly connections: readonly ConnectionView[];
}

export interface TunnelView {
  readonly id: string;
  readonly name: string;
  readonly zone: string;
  readonly hostnames: readonly string[];
  readonly connectors: readonly ConnectorView[];
  /** Requests and errors per second that landed at this PoP, oldest first, the second in progress last. */
  readonly requests: readonly number[];
  readonly errors: readonly number[];
}

export interface DashboardSnapshot {
  readonly at: string;
  readonly pop: string;
  /** False on a single edge (no edge.network): `pops` is then just this PoP. */
  readonly network: boolean;
  readonly pops: readonly PopView[];
  /** routes[from][to]: the path `from` takes to `to` now; null when it cannot reach it. */
  readonly routes: Readonly<Record<string, Readonly<Record<string, PathStatus | null>>>>;
  readonly windowSeconds: number;
  readonly tunnels: readonly TunnelView[];
  /** Tunnels left out of `tunnels` (beyond MAX_TUNNELS). */
  readonly moreTunnels: number;
}

export async function buildSnapshot(api: EdgePluginApi, rates: RequestRates): Promise<DashboardSnapshot> {
  const registry = api.services.get(TunnelRegistryToken);
  const [all, routes] = await Promise.all([registry.listTunnels(), registry.listRoutes()]);
  rates.keepOnly(new Set(all.map((tunnel) => tunnel.id)));
  const hostnames = new Map<string, string[]>();
  for (const route of routes) {
    const list = hostnames.get(route.tunnelId);
    if (list) list.push(route.hostname);
    else hostnames.set(route.tunnelId, [route.hostname]);
  }
  const listed = [...all].sort((a, b) => a.name.localeCompare(b.name)).slice(0, MAX_TUNNELS);
  const tunnels = await Promise.all(
    listed.map(async (tunnel): Promise<TunnelView> => {
      const presence = await api.connections.everywhere(tunnel.id).catch(() => [] as PresenceRecord[]);
      const series = rates.series(tunnel.id);
      return {
        id: tunnel.id,
        name: tunnel.name,
        zone: tunnel.zone,
        hostnames: (hostnames.get(tunnel.id) ?? []).sort(),
        connectors: connectorsOf(api, tunnel.id, presence),
        requests: series.requests,
        errors: series.errors,
      };
    }),
  );
  const status = api.services.find(NetworkStatusToken)?.status();
  const pops: PopView[] = status
    ? status.pops.map((pop) => ({ name: pop.name, ...(pop.region ? { region: pop.region } : {}), links: pop.links }))
    : [{ name: api.settings.pop, ...(api.settings.region ? { region: api.settings.region } : {}), links: {} }];
  return {
    at: new Date().toISOString(),
    pop: api.settings.pop,
    network: status !== undefined,
    pops,
    routes: status?.routes ?? {},
    windowSeconds: WINDOW_SECONDS,
    tunnels,
    moreTunnels: all.length - listed.length,
  };
}

/** The tunnel's connections grouped by connector (replica), with the streams in flight of those at this PoP. */
function connectorsOf(api: EdgePluginApi, tunnelId: string, presence: readonly PresenceRecord[]): ConnectorView[] {
  const local = new Map(api.connections.forTunnel(tunnelId).map((connection) => [connection.id, connection.activeStreams]));
  const byConnector = new Map<string, { id: string; version: string; connections: ConnectionView[] }>();
  for (const record of presence) {
    let connector = byConnector.get(record.connectorId);
    if (!connector) {
      connector = { id: record.connectorId, version: record.version, connections: [] };
      byConnector.set(record.connectorId, connector);
    }
    const inFlight = local.get(record.connectionId);
    connector.connections.push({
      id: record.connectionId,
      pop: record.pop,
      index: record.connIndex,
      connectedAt: record.connectedAt,
      address: record.remoteAddress,
      ...(inFlight !== undefined ? { inFlight } : {}),
    });
  }
  const connectors = [...byConnector.values()].sort((a, b) => a.id.localeCompare(b.id));
  for (const connector of connectors) connector.connections.sort((a, b) => a.pop.localeCompare(b.pop) || a.index - b.index);
  return connectors;
}
