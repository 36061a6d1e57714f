// Built-in plugin: the edge API for tunnels and routes (`burrow tunnel create/list/info/delete/route dns`).
import { ApiError, RouteConflictError, TunnelRegistryToken, definePlugin, normalizeHost, type ApiRequest, type EdgePluginApi, type TunnelRecord } from 'burrow';
import { registerTunnelCommands } from './cli.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const HOSTNAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export default definePlugin({
  id: 'management-api',
  description: 'Tunnel and route management on the edge API',
  cli: registerTunnelCommands,
  edge(api) {
    const registry = () => api.services.get(TunnelRegistryToken);
    const view = async (tunnel: TunnelRecord) => ({ ...tunnel, connections: await connectionsOf(api, tunnel.id) });
    const find = async (req: ApiRequest): Promise<TunnelRecord> => {
      // A tunnel is named by its id (a UUID) or its name (at most 63 characters).
      if (req.params.ref!.length > 64) throw new ApiError(400, 'a tunnel is named by its id or a name of 1-63 letters, digits, ".", "_" or "-"');
      const tunnel = await registry().getTunnel(req.params.ref!, req.principal.zones);
      if (!tunnel) throw new ApiError(404, `no tunnel "${req.params.ref}"`, 'see `burrow tunnel list`');
      return tunnel;
    };

    api.route('GET', '/healthz', () => ({ json: { status: 'ok' } }), { auth: 'none' });
    api.route('GET', '/ready', () => ({ json: { status: 'ok', pop: api.settings.pop, connections: api.connections.all().length } }), { auth: 'none' });
    api.route('GET', '/v1/edge', () => ({ json: { pop: api.settings.pop, zones: api.settings.zones, quickTunnels: api.settings.quickTunnels ?? null } }), { auth: 'none' });

    api.route('GET', '/v1/tunnels', async (req) => ({ json: { tunnels: await Promise.all((await registry().listTunnels(req.principal.zones)).map(view)) } }), { auth: 'zone' });

    api.route(
      'POST',
      '/v1/tunnels',
      async (req) => {
        const body = await req.json<{ name?: string; zone?: string }>();
        if (!body.name || !NAME.test(body.name)) throw new ApiError(400, 'a tunnel name is 1-63 letters, digits, ".", "_" or "-"');
        const zones = req.principal.zones;
        const zone = body.zone ?? (zones.length === 1 ? zones[0] : undefined);
        if (!zone || !zones.includes(zone)) throw new ApiError(400, `say which zone the tunnel belongs to (one of ${zones.join(', ') || 'none'})`);
        if (await registry().getTunnel(body.name, [zone])) throw new ApiError(409, `a tunnel named "${body.name}" already exists`, 'pick another name or delete the old tunnel');
        const created = await api.tunnels.create({ name: body.name, zone });
        api.log.info({ tunnel: created.tunnel.name, id: created.tunnel.id }, 'tunnel created');
        return { status: 201, json: created };
      },
      { auth: 'zone' },
    );

    api.route(
      'GET',
      '/v1/tunnels/:ref',
      async (req) => {
        const tunnel = await find(req);
        return { json: { tunnel: await view(tunnel), routes: await registry().listRoutes(tunnel.id) } };
      },
      { auth: 'zone' },
    );

    api.route(
      'DELETE',
      '/v1/tunnels/:ref',
      async (req) => {
        const tunnel = await find(req);
        const live = (await api.connections.everywhere(tunnel.id)).length;
        if (live > 0 && req.query.get('force') !== 'true') {
          throw new ApiError(409, `tunnel ${tunnel.name} has ${live} live connection(s)`, 'stop its connector first, or pass -f to cut them off');
        }
        const { disconnected: cut } = await api.tunnels.delete(tunnel);
        api.log.info({ tunnel: tunnel.name, disconnected: cut }, 'tunnel deleted');
        return { json: { deleted: tunnel.id, disconnected: cut } };
      },
      { auth: 'zone' },
    );

    api.route('GET', '/v1/routes', async (req) => {
      const tunnels = new Set((await registry().listTunnels(req.principal.zones)).map((t) => t.id));
      return { json: { routes: (await registry().listRoutes()).filter((r) => tunnels.has(r.tunnelId)) } };
    }, { auth: 'zone' });

    api.route(
      'PUT',
      '/v1/routes/:hostname',
      async (req) => {
        const hostname = routeHostname(req);
        const body = await req.json<{ tunnel?: string; overwrite?: boolean }>();
        const tunnel = await registry().getTunnel(String(body.tunnel), req.principal.zones);
        if (!tunnel) throw new ApiError(404, `no tunnel "${body.tunnel}"`, 'see `burrow tunnel list`');
        try {
          const route = await api.tunnels.route(hostname, tunnel, { overwrite: body.overwrite === true });
          return { json: { route, tunnel } };
        } catch (error) {
          if (error instanceof RouteConflictError) throw new ApiError(409, error.message);
          throw error;
        }
      },
      { auth: 'zone' },
    );

    api.route(
      'DELETE',
      '/v1/routes/:hostname',
      async (req) => {
        const hostname = routeHostname(req);
        const route = (await registry().listRoutes()).find((r) => r.hostname === hostname);
        const tunnel = route && (await registry().getTunnel(route.tunnelId, req.principal.zones));
        if (!route || !tunnel) throw new ApiError(404, `${hostname} is not routed to a tunnel of yours`, 'see `GET /v1/routes`');
        await api.tunnels.unroute(hostname);
        api.log.info({ hostname, tunnel: tunnel.name }, 'route removed');
        return { json: { unrouted: hostname, tunnel: tunnel.id } };
      },
      { auth: 'zone' },
    );
  },
});

function routeHostname(req: ApiRequest): string {
  const hostname = normalizeHost(req.params.hostname);
  if (!HOSTNAME.test(hostname)) throw new ApiError(400, `"${hostname}" is not a valid hostname`);
  return hostname;
}

/** A tunnel's live connections at every PoP: this PoP's with their load, the others' as the registry has them. */
async function connectionsOf(api: EdgePluginApi, tunnelId: string) {
  const local = new Map(api.connections.forTunnel(tunnelId).map((c) => [c.id, c.toJSON()]));
  const everywhere = await api.connections.everywhere(tunnelId);
  return everywhere.map(({ connectionId, ...record }) => local.get(connectionId) ?? { id: connectionId, ...record });
}
