// This PoP's view of the network: it publishes its record and measured links, reads everyone else's, dials the PoPs it
// learns of, and keeps the lowest-latency path to each PoP current (Dijkstra over the matrix, this PoP's row live).
import { publicAddresses, reachableAddress, type EdgePluginApi, type LinkReport, type NetworkStore, type PopRecord } from 'burrow';
import type { PeerLinks } from './links.ts';
import { linkGraph, nearest, shortestPaths, type LinkGraph } from './routes.ts';
import type { HopStatus, NetworkStatus, PathStatus, RouteExplanation } from './view.ts';

/** How long a tunnel's list of serving PoPs is reused before the registry is asked again. */
const PRESENCE_CACHE_MS = 1_000;

export interface NetworkMapOptions {
  readonly api: EdgePluginApi;
  readonly store: NetworkStore;
  readonly links: PeerLinks;
  readonly probeIntervalMs: number;
}

export class NetworkMap {
  private readonly self: string;
  private record?: PopRecord;
  private pops = new Map<string, PopRecord>();
  private reports: LinkReport[] = [];
  private graph: LinkGraph = new Map();
  private paths = new Map<string, PathStatus>();
  private readonly presence = new Map<string, { at: number; pops: Promise<string[]> }>();
  private timer?: NodeJS.Timeout;
  private publishSoon?: NodeJS.Timeout;
  private refreshSoon?: NodeJS.Timeout;
  private unwatch?: () => void;
  private stopped = false;

  constructor(private readonly options: NetworkMapOptions) {
    this.self = options.api.settings.pop;
  }

  /** Publishes this PoP (its listeners are bound), learns the others and starts the probe cycle. */
  async start(addresses: Readonly<Record<string, string | undefined>>): Promise<void> {
    const { settings } = this.options.api;
    const listeners = Object.fromEntries(Object.entries(addresses).filter((entry): entry is [string, string] => entry[1] !== undefined));
    this.record = {
      name: this.self,
      ...(settings.region ? { region: settings.region } : {}),
      peer: settings.network?.advertise ?? reachableAddress(listeners.peer!),
      addresses: listeners,
      ...publicAddresses(settings, listeners),
      startedAt: new Date().toISOString(),
    };
    this.unwatch = this.options.store.watch(() => this.scheduleRefresh());
    await this.publish().catch((error) => this.options.api.log.warn({ err: (error as Error).message }, 'could not publish this PoP to the registry'));
    await this.refresh();
    this.timer = setInterval(() => void this.cycle(), this.options.probeIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.publishSoon);
    clearTimeout(this.refreshSoon);
    this.unwatch?.();
    await this.options.store.removePop(this.self).catch(() => undefined);
  }

  /** A link came up, went down or was measured: this PoP's own row changes now; the others learn at the next publish. */
  linksChanged(): void {
    this.recompute();
    this.publishSoon ??= setTimeout(() => {
      this.publishSoon = undefined;
      void this.publish().catch((error) => this.options.api.log.debug({ err: (error as Error).message }, 'could not publish links'));
    }, 50);
  }

  /** Where a request for `tunnelId` at this PoP goes next: the nearest PoP (by path) with one of its connections. */
  async toward(tunnelId: string): Promise<{ target: string; route: PathStatus } | undefined> {
    const serving = (await this.servingPops(tunnelId)).filter((pop) => pop !== this.self);
    let best = nearest(this.paths, serving);
    // The link to the first hop went down a moment ago (its close not yet handled): route without it now.
    if (best && best.route.path.length > 1 && !this.options.links.session(best.route.path[1]!)) {
      this.recompute();
      best = nearest(this.paths, serving);
    }
    return best && { target: best.pop, route: best.route };
  }

  status(): NetworkStatus {
    const names = [...this.names()].sort();
    const routes: Record<string, Record<string, PathStatus | null>> = {};
    for (const from of names) {
      const paths = this.pathsFrom(from);
      routes[from] = Object.fromEntries(names.filter((to) => to !== from).map((to) => [to, paths.get(to) ?? null]));
    }
    const pops = names.map((name) => {
      const record = this.pops.get(name) ?? (name === this.self ? this.record : undefined);
      return {
        name,
        ...(record?.region ? { region: record.region } : {}),
        peer: record?.peer ?? '',
        addresses: record?.addresses ?? {},
        startedAt: record?.startedAt ?? '',
        links: Object.fromEntries(this.graph.get(name) ?? []),
      };
    });
    return { pop: this.self, pops, routes };
  }

  /** The path a request for `hostname` that lands at `from` takes now. */
  async explain(hostname: string, tunnel: { id: string; name: string }, from: string): Promise<RouteExplanation> {
    const servedAt = [...new Set(await this.servingPops(tunnel.id))].sort();
    const best = nearest(this.pathsFrom(from), servedAt);
    const path = best?.route.path ?? [];
    const hops: HopStatus[] = [];
    for (let i = 1; i < path.length; i++) hops.push({ from: path[i - 1]!, to: path[i]!, rttMs: this.graph.get(path[i - 1]!)?.get(path[i]!) ?? 0 });
    return { hostname, tunnel: { id: tunnel.id, name: tunnel.name }, from, to: best?.pop ?? null, servedAt, path, hops, rttMs: best?.route.rttMs ?? 0 };
  }

  /** Whether `pop` is a PoP of the network as this PoP knows it. */
  knows(pop: string): boolean {
    return this.names().has(pop);
  }

  /** The PoPs holding a live connection of the tunnel, by the registry's presence (cached briefly). */
  private servingPops(tunnelId: string): Promise<string[]> {
    const now = Date.now();
    const cached = this.presence.get(tunnelId);
    if (cached && now - cached.at < PRESENCE_CACHE_MS) return cached.pops;
    const pops = this.options.api.connections.everywhere(tunnelId).then(
      (records) => [...new Set(records.map((record) => record.pop))],
      // Redis away: the last answer stands (it is what keeps known tunnels reachable through an outage).
      (error) => {
        this.options.api.log.debug({ err: (error as Error).message }, 'presence lookup failed');
        return cached?.pops ?? [];
      },
    );
    if (this.presence.size > 10_000) this.presence.clear();
    this.presence.set(tunnelId, { at: now, pops });
    return pops;
  }

  /** The PoPs of the network: this one, those the registry lists, and those with a live link from here. */
  private names(): Set<string> {
    return new Set([this.self, ...this.pops.keys(), ...Object.keys(this.options.links.rtts())]);
  }

  private pathsFrom(pop: string): Map<string, PathStatus> {
    return pop === this.self ? this.paths : shortestPaths(this.graph, pop);
  }

  private async cycle(): Promise<void> {
    if (this.stopped) return;
    await this.publish().catch((error) => this.options.api.log.debug({ err: (error as Error).message }, 'could not publish to the registry'));
    await this.refresh();
  }

  private ttlMs(): number {
    return 3 * this.options.probeIntervalMs + 1_000;
  }

  private async publish(): Promise<void> {
    if (!this.record || this.stopped) return;
    const { store, links } = this.options;
    const ttl = this.ttlMs();
    await Promise.all([store.publishPop(this.record, ttl), store.publishLinks({ from: this.self, rtts: links.rtts(), at: new Date().toISOString() }, ttl)]);
  }

  private scheduleRefresh(): void {
    this.refreshSoon ??= setTimeout(() => {
      this.refreshSoon = undefined;
      void this.refresh();
    }, 20);
  }

  /** Reads the PoPs and their links; dials the PoPs it learned of and drops the ones that left. */
  private async refresh(): Promise<void> {
    if (this.stopped) return;
    const { store, links, api } = this.options;
    try {
      const [pops, reports] = await Promise.all([store.listPops(), store.listLinks()]);
      this.pops = new Map(pops.filter((pop) => pop.name !== this.self).map((pop) => [pop.name, pop]));
      this.reports = reports.filter((report) => report.from !== this.self);
    } catch (error) {
      api.log.debug({ err: (error as Error).message }, 'could not read the network from the registry; keeping the last view');
    }
    if (this.stopped) return;
    const overrides = api.settings.network?.peers ?? {};
    links.sync(new Map([...this.pops.values()].map((pop) => [pop.name, overrides[pop.name] ?? pop.peer])));
    this.recompute();
  }

  private recompute(): void {
    const names = this.names();
    const graph = linkGraph(this.reports, names);
    graph.set(this.self, new Map(Object.entries(this.options.links.rtts()).filter(([to]) => names.has(to))));
    this.graph = graph;
    this.paths = shortestPaths(graph, this.self);
  }
}
