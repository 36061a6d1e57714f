// Built-in plugin: anonymous quick tunnels (`burrow tunnel --url URL`) on an edge with `edge.quickTunnels` set.
// Each gets a random hostname under that zone and a short-lived certificate bound to it; both vanish with the connector.
import { ApiError, TunnelRegistryToken, definePlugin, durationSchema, splitHostPort, z, type EdgeAddresses } from 'burrow';
import { OriginCaToken } from '../origin-ca/service.ts';
import { registerQuickTunnelCommand } from './cli.ts';
import { quickHostname } from './names.ts';
import { CreationRateLimit } from './rate-limit.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

const options = z
  .strictObject({
    /** Quick tunnels one client address may create per `window`. */
    limit: z.number().int().min(1).default(10),
    window: durationSchema.default(60 * 60_000),
    /** Validity of the certificate a quick tunnel's connector gets. */
    certificateValidity: durationSchema.default(DAY_MS),
    /** A quick tunnel whose connector never connects is removed after this long. */
    connectWithin: durationSchema.default(60_000),
    /** How long a quick tunnel outlives its last connection (rides out a reconnect). */
    linger: durationSchema.default(5_000),
  })
  .prefault({});

export interface QuickTunnelResponse {
  hostname: string;
  url: string;
  tunnel: { id: string; name: string };
  secret: string;
  certificate: string;
  ca: string;
  edge: { api: string; tunnel: string };
  expiresAt: string;
}

export default definePlugin({
  id: 'quick-tunnels',
  description: 'Anonymous quick tunnels under edge.quickTunnels, rate-limited per client address',
  options,
  // The edge signs quick tunnels' certificates with origin-ca's CA; the CLI makes their keys with it.
  requires: ['origin-ca'],
  cli: registerQuickTunnelCommand,

  edge(api, opts) {
    const zone = api.settings.quickTunnels;
    const limiter = new CreationRateLimit(opts.limit, opts.window);
    /** Removal timers of live quick tunnels, by tunnel id. */
    const quick = new Map<string, NodeJS.Timeout | undefined>();
    let addresses: EdgeAddresses | undefined;
    api.hooks.afterListen.tap('quick-tunnels', (bound) => {
      addresses = bound;
    });

    const registry = () => api.services.get(TunnelRegistryToken);
    /** Deleted through the edge, so its route is withdrawn wherever it was published. */
    const remove = async (tunnelId: string) => {
      const tunnel = await registry().getTunnel(tunnelId);
      if (tunnel) await api.tunnels.delete(tunnel);
    };
    const removeLater = (tunnelId: string, ms: number) => {
      clearTimeout(quick.get(tunnelId));
      const timer = setTimeout(() => {
        if (api.connections.forTunnel(tunnelId).length > 0) return;
        quick.delete(tunnelId);
        remove(tunnelId).then(
            () => api.log.info({ tunnel: tunnelId }, 'quick tunnel removed'),
            (error: Error) => api.log.error({ err: error, tunnel: tunnelId }, 'could not remove a quick tunnel'),
          );
      }, ms);
      timer.unref();
      quick.set(tunnelId, timer);
    };

    api.hooks.afterRegister.tap('quick-tunnels', (connection) => {
      if (quick.has(connection.tunnelId)) clearTimeout(quick.get(connection.tunnelId));
    });
    api.hooks.connectionLost.tap('quick-tunnels', (connection) => {
      if (quick.has(connection.tunnelId) && api.connections.forTunnel(connection.tunnelId).length === 0) removeLater(connection.tunnelId, opts.linger);
    });

    api.route(
      'POST',
      '/v1/quick-tunnels',
      async (req) => {
        if (!zone) throw new ApiError(404, 'this edge does not offer quick tunnels', 'set edge.quickTunnels in the edge config, or log in and create a named tunnel');
        const body = await req.json<{ csr?: string }>();
        if (typeof body.csr !== 'string' || body.csr === '') throw new ApiError(400, 'missing csr', 'send { "csr": "<PEM certificate request>" }');
        const client = clientAddress(req.raw.socket.remoteAddress);
        const waitMs = limiter.take(client);
        if (waitMs > 0) {
          api.log.warn({ client }, 'quick tunnel creation rate-limited');
          return {
            status: 429,
            headers: { 'retry-after': String(Math.ceil(waitMs / 1000)) },
            json: { error: `too many quick tunnels from ${client}: at most ${opts.limit} per ${Math.round(opts.window / 60_000)} min`, hint: `try again in ${Math.ceil(waitMs / 1000)} s, or log in and create a named tunnel` },
          };
        }
        // A quick tunnel's zone is its own hostname: its certificate covers that one name and nothing else.
        let hostname = quickHostname(zone);
        while (await registry().tunnelForHostname(hostname)) hostname = quickHostname(zone);
        const created = await api.tunnels.create({ name: hostname.split('.')[0]!, zone: hostname, ephemeral: true });
        const { tunnel } = created;
        quick.set(tunnel.id, undefined);
        removeLater(tunnel.id, opts.connectWithin);
        try {
          const signed = await api.services.get(OriginCaToken).tunnelCertificate(body.csr, tunnel, req.raw.headers.host, opts.certificateValidity / DAY_MS);
          await api.tunnels.route(hostname, tunnel);
          api.log.info({ hostname, tunnel: tunnel.id, client }, 'quick tunnel created');
          const response: QuickTunnelResponse = {
            hostname,
            url: visitorUrl(hostname, addresses),
            tunnel: { id: tunnel.id, name: tunnel.name },
            secret: created.secret,
            certificate: signed.certificate,
            ca: signed.ca,
            edge: signed.edge,
            expiresAt: signed.notAfter,
          };
          return { status: 201, json: response };
        } catch (error) {
          clearTimeout(quick.get(tunnel.id));
          quick.delete(tunnel.id);
          await remove(tunnel.id);
          throw error;
        }
      },
      { auth: 'none' },
    );

    return async () => {
      for (const timer of quick.values()) clearTimeout(timer);
      await Promise.all([...quick.keys()].map((id) => remove(id).catch(() => undefined)));
      quick.clear();
    };
  },
});

/** `::ffff:127.0.0.1` and `127.0.0.1` are the same client. */
function clientAddress(remote: string | undefined): string {
  return (remote ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

/** Where visitors reach the hostname: the https listener if there is one, else http; default ports left out. */
function visitorUrl(hostname: string, addresses: EdgeAddresses | undefined): string {
  const scheme = addresses?.https ? 'https' : 'http';
  const listener = addresses?.https ?? addresses?.http;
  const port = listener ? splitHostPort(listener).port : undefined;
  const defaultPort = scheme === 'https' ? 443 : 80;
  return `${scheme}://${hostname}${port && port !== defaultPort ? `:${port}` : ''}`;
}
