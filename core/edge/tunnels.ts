// Creating, routing, unrouting and deleting tunnels: the one place that changes the registry and fires the hooks.
import type { ConnectionTable } from './connections.ts';
import type { EdgeHooks } from './hooks.ts';
import type { CreatedTunnel, RouteRecord, TunnelRecord, TunnelRegistry } from './registry.ts';

/**
 * What plugins call instead of writing to the registry themselves (the management API, quick tunnels), so that
 * every route and removal reaches the plugins that publish them (DNS records, other PoPs).
 */
export class TunnelDirectory {
  constructor(
    private readonly registry: () => TunnelRegistry,
    private readonly hooks: EdgeHooks,
    private readonly connections: ConnectionTable,
  ) {}

  async create(input: { name: string; zone: string; ephemeral?: boolean }): Promise<CreatedTunnel> {
    const created = await this.registry().createTunnel(input);
    await this.hooks.afterCreateTunnel.promise(created.tunnel);
    return created;
  }

  /** Routes `hostname` to `tunnel` once beforeRouteHostname let it; RouteConflictError if routed elsewhere without `overwrite`. */
  async route(hostname: string, tunnel: TunnelRecord, options: { overwrite?: boolean } = {}): Promise<RouteRecord> {
    await this.hooks.beforeRouteHostname.promise({ hostname, tunnel });
    const route = await this.registry().routeHostname(hostname, tunnel.id, options);
    await this.hooks.afterRouteHostname.promise(route);
    return route;
  }

  /** Removes a route; resolves undefined when the hostname was not routed. */
  async unroute(hostname: string): Promise<RouteRecord | undefined> {
    const route = (await this.registry().listRoutes()).find((r) => r.hostname === hostname);
    if (!route) return undefined;
    await this.registry().unrouteHostname(hostname);
    await this.hooks.afterUnrouteHostname.promise(route);
    return route;
  }

  /** Deletes the tunnel and its routes and cuts its connections on this PoP; resolves how many were cut. */
  async delete(tunnel: TunnelRecord): Promise<{ disconnected: number }> {
    const routes = await this.registry().listRoutes(tunnel.id);
    await this.registry().deleteTunnel(tunnel.id);
    const disconnected = this.connections.disconnectTunnel(tunnel.id);
    for (const route of routes) await this.hooks.afterUnrouteHostname.promise(route);
    await this.hooks.afterDeleteTunnel.promise(tunnel);
    return { disconnected };
  }
}
