// The config file's schema: connector keys (cloudflared-compatible), the `edge` section and plugins.
import { z } from 'zod';
import { durationSchema } from '../core/kernel/duration.ts';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:7844 or [::1]:7844');
const zoneName = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'expected a lowercase DNS name like example.test');

export const pluginSpecSchema = z.union([
  z.string().min(1),
  z.strictObject({
    use: z.string().min(1).describe('built-in plugin id, path relative to the config file, or npm package name'),
    options: z.unknown().optional().describe("checked by the plugin's own options schema"),
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]*$/i, 'expected a short name like staff-login (letters, digits, ".", "_", "-")')
      .optional()
      .describe('instance name: the middleware of a named instance runs only on the ingress rules whose middleware: lists this name'),
    enabled: z
      .boolean()
      .optional()
      .describe('false switches the plugin off, a built-in default included; a plugin that is not loaded anyway is left as it is'),
  }),
]);
export type PluginSpec = z.infer<typeof pluginSpecSchema>;

export const edgeSchema = z.strictObject({
  pop: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'expected a short lowercase PoP name like fra').default('local'),
  listen: z
    .strictObject({
      http: hostPort.optional(),
      https: hostPort.optional(),
      tunnel: hostPort.default('0.0.0.0:7844'),
      api: hostPort.default('127.0.0.1:7845'),
      /** PoP-to-PoP links; bound only when the PoP belongs to a network (edge.network). */
      peer: hostPort.default('0.0.0.0:7846'),
      /** Authoritative DNS for the edge's zones, UDP and TCP (optional). */
      dns: hostPort.optional(),
    })
    .prefault({}),
  /** Address connectors are told to dial; defaults to the host they reached the API on plus the tunnel port. */
  advertise: hostPort.optional(),
  /** TLS certificate for the visitor https listener. */
  tls: z.strictObject({ cert: z.string(), key: z.string() }).optional(),
  dataDir: z.string().default('/var/lib/burrow'),
  zones: z.array(zoneName).default([]),
  quickTunnels: zoneName.optional(),
  /** Groups PoPs in SRV discovery and `network status`. */
  region: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'expected a short lowercase region name like eu').optional(),
  gracePeriod: durationSchema.prefault('30s'),
  heartbeatInterval: durationSchema.prefault('5s'),
  heartbeatCount: z.number().int().min(1).max(100).default(5),
  /** How long visitors may take on the http/https listeners; a slower connection is answered 408 and closed. */
  visitorTimeouts: z
    .strictObject({
      headers: durationSchema.prefault('10s').describe('time to send a whole request head (request line and headers), from its first byte'),
      request: durationSchema.prefault('300s').describe('time to send a whole request, body included; 0 for no limit'),
      idle: durationSchema.prefault('65s').describe('how long a keep-alive connection may wait for its next request'),
    })
    .refine((t) => t.headers > 0, { message: 'visitorTimeouts.headers must be more than 0', path: ['headers'] })
    .refine((t) => t.request === 0 || t.headers <= t.request, { message: 'visitorTimeouts.headers must not be longer than visitorTimeouts.request', path: ['headers'] })
    .prefault({}),
  /** The network this PoP belongs to with the other PoPs that share its registry. */
  network: z
    .strictObject({
      registry: z
        .string()
        .regex(/^rediss?:\/\//, 'expected a Redis URL like redis://127.0.0.1:6379/0 (rediss:// for TLS)')
        .optional()
        .describe('the Redis every PoP of the network shares tunnels, routes, presence and latencies through, redis://HOST:PORT/DB; without it the PoP keeps its registry in memory'),
      ca: z.string().min(1).optional().describe('the folder `burrow network ca init --out DIR` created: the origin CA and token key every PoP of the network shares'),
      advertise: hostPort.optional().describe('how the other PoPs reach this one for a link; defaults to listen.peer (with this host when it listens on 0.0.0.0)'),
      peers: z
        .record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'expected a PoP name like lhr'), hostPort)
        .default({})
        .describe('addresses to reach given PoPs at instead of what they advertise (private links, emulated WANs): { lhr: 10.1.0.2:7846 }'),
      probeInterval: durationSchema.prefault('2s').describe('how often each link round trip is measured (HTTP/2 PING) and published'),
      maxHops: z.number().int().min(1).max(64).default(8).describe('PoP-to-PoP hops a request may take; one more is answered 508'),
    })
    .optional(),
  /** What the DNS listener (listen.dns) answers with. */
  dns: z
    .strictObject({
      discovery: zoneName.optional().describe('publish _burrow._tcp.<discovery> (and _burrow._tcp.<region>.<discovery>) SRV records for the live PoPs, e.g. edges.example.test'),
      visitorAddresses: z.array(z.ipv4().or(z.ipv6())).optional().describe("the A/AAAA answers for routed hostnames; default: the host of listen.http / listen.https"),
      ttl: durationSchema.prefault('30s').describe('TTL of the records served'),
    })
    .prefault({}),
  plugins: z.array(pluginSpecSchema).optional(),
});
export type EdgeConfigInput = z.input<typeof edgeSchema>;
export type EdgeSettings = z.output<typeof edgeSchema>;

/** Keys cloudflared's config.yml may carry that have no meaning for Burrow; accepted so files work as-is. */
const cloudflaredOnlyKeys = {
  'no-autoupdate': z.unknown().optional(),
  'autoupdate-freq': z.unknown().optional(),
  protocol: z.unknown().optional(),
  logfile: z.unknown().optional(),
  'log-directory': z.unknown().optional(),
  'warp-routing': z.unknown().optional(),
  'edge-ip-version': z.unknown().optional(),
  region: z.unknown().optional(),
};

export const configSchema = z.strictObject({
  // connector (cloudflared's names)
  tunnel: z.string().min(1).optional(),
  'credentials-file': z.string().min(1).optional(),
  origincert: z.string().min(1).optional(),
  ingress: z.array(z.record(z.string(), z.unknown())).optional(),
  originRequest: z.record(z.string(), z.unknown()).optional(),
  // Defaults live here, not in the runtime, so plugins reading `api.settings` see the values the connector uses.
  // Durations default through `prefault` (input side) so the editor schema shows "30s", not milliseconds.
  'ha-connections': z.number().int().min(1).max(32).default(4),
  'grace-period': durationSchema.prefault('30s'),
  'heartbeat-interval': durationSchema.prefault('5s'),
  'heartbeat-count': z.number().int().min(1).max(100).default(5),
  retries: z.number().int().min(0).default(0).describe('reconnect attempts before the connector gives up; 0 keeps trying'),
  metrics: hostPort.optional(),
  /** `host:port` of the request inspector's web UI (`tunnel run --inspect`); not listening without it. */
  inspect: hostPort.optional(),
  /** Where the connector finds edges: SRV records first, then `edge:` / --edge, then cert.pem's edge address. */
  discovery: z
    .strictObject({
      domain: zoneName.describe('SRV discovery: _burrow._tcp.<domain> lists the PoPs'),
      resolver: hostPort.optional().describe('a DNS server to ask instead of the system resolver, e.g. 127.0.0.1:5353'),
      region: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'expected a short lowercase region name like eu').optional().describe('ask _burrow._tcp.<region>.<domain> first'),
    })
    .optional(),
  loglevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).optional(),
  ...cloudflaredOnlyKeys,
  // shared
  plugins: z.array(pluginSpecSchema).optional(),
  // edge: the `edge:` section of an edge, or on a connector a static list of edge addresses (`edge: [127.0.0.1:7844]`)
  edge: z.union([z.array(hostPort).min(1), edgeSchema]).optional(),
});
export type BurrowConfigInput = z.input<typeof configSchema>;
export type BurrowConfig = z.output<typeof configSchema>;

/** The `edge:` section of a config, when it is one (on a connector, `edge:` may instead list edge addresses). */
export function edgeSection(config: BurrowConfig): EdgeSettings | undefined {
  return Array.isArray(config.edge) ? undefined : config.edge;
}
