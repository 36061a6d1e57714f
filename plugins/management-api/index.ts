// Built-in plugin: the edge API for tunnels and routes (`burrow tunnel create/list/info/delete/route dns`).
import { definePlugin } from '../../core/plugin.ts';
import { ApiError, type ApiRequest } from '../../core/edge/api-server.ts';
import { RouteConflictError, TunnelRegistryToken, type TunnelRecord } from '../../core/edge/registry.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const HOSTNAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export default definePlugin({
  id: 'management-api',
  description: 'Tunnel and route management on the edge API',
  edge(api) {
    const registry = () => api.services.get(TunnelRegistryToken);
    const view = (tunnel: TunnelRecord) => ({ ...tunnel, connections: api.connections.forTunnel(tunnel.id).map((c) => c.toJSON()) });
    const find = async (req: ApiRequest): Promise<TunnelRecord> => {
      const tunnel = await registry().getTunnel(req.params.ref!, req.principal.zones);
      if (!tunnel) throw new ApiError(404, `no tunnel "${req.params.ref}"`, 'see `burrow tunnel list`');
      return tunnel;
    };

    api.route('GET', '/ready', () => ({ json: { status: 'ok', pop: api.settings.pop, connections: api.connections.all().length } }), { auth: 'none' });
    api.route('GET', '/v1/edge', () => ({ json: { pop: api.settings.pop, zones: api.settings.zones, quickTunnels: api.settings.quickTunnels ?? null } }), { auth: 'none' });

    api.route('GET', '/v1/tunnels', async (req) => ({ json: { tunnels: (await registry().listTunnels(req.principal.zones)).map(view) } }), { auth: 'zone' });

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
        const created = await registry().createTunnel({ name: body.name, zone });
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
        return { json: { tunnel: view(tunnel), routes: await registry().listRoutes(tunnel.id) } };
      },
      { auth: 'zone' },
    );

    api.route(
      'DELETE',
      '/v1/tunnels/:ref',
      async (req) => {
        const tunnel = await find(req);
        const live = api.connections.forTunnel(tunnel.id).length;
        if (live > 0 && req.query.get('force') !== 'true') {
          throw new ApiError(409, `tunnel ${tunnel.name} has ${live} live connection(s)`, 'stop its connector first, or pass -f to cut them off');
        }
        await registry().deleteTunnel(tunnel.id);
        const cut = api.connections.disconnectTunnel(tunnel.id);
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
        const hostname = req.params.hostname!.toLowerCase().replace(/\.$/, '');
        if (!HOSTNAME.test(hostname)) throw new ApiError(400, `"${hostname}" is not a valid hostname`);
        const body = await req.json<{ tunnel?: string; overwrite?: boolean }>();
        const tunnel = await registry().getTunnel(String(body.tunnel), req.principal.zones);
        if (!tunnel) throw new ApiError(404, `no tunnel "${body.tunnel}"`, 'see `burrow tunnel list`');
        await api.hooks.beforeRouteHostname.promise({ hostname, tunnel });
        try {
          const route = await registry().routeHostname(hostname, tunnel.id, { overwrite: body.overwrite === true });
          await api.hooks.afterRouteHostname.promise(route);
          return { json: { route, tunnel } };
        } catch (error) {
          if (error instanceof RouteConflictError) throw new ApiError(409, error.message);
          throw error;
        }
      },
      { auth: 'zone' },
    );
  },
});
