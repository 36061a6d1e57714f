// The connector's hooks, declared once: credentials, edge discovery and connection lifecycle (origins are declared, see origin.ts).
import { AsyncSeriesBailHook, SyncHook } from 'tapable';
import { declareHooks } from '../kernel/plugin.ts';

/** What the connector was asked to run, from flags and the config file. */
export interface CredentialsQuery {
  readonly tunnel?: string;
  readonly credentialsFile?: string;
  readonly originCert?: string;
  readonly token?: string;
  /** Folder of the config file, for relative paths. */
  readonly configDir: string;
}

export interface TunnelCredentials {
  readonly tunnelId: string;
  readonly tunnelSecret: string;
  readonly tunnelName?: string;
  /** The zone the tunnel belongs to (a quick tunnel's is its own hostname). */
  readonly zone: string;
  /** Client certificate and the CA the edge must chain to. */
  readonly tls: { readonly caPem: string; readonly certPem?: string; readonly keyPem?: string };
  /** Where the credentials say the edge is (`host:port` of its tunnel listener). */
  readonly edge?: string;
  /** The network's SRV discovery domain, when the edge logged in at has one (and the DNS server to ask). */
  readonly discovery?: { readonly domain: string; readonly resolver?: string };
}

export interface EdgeAddress {
  readonly host: string;
  readonly port: number;
  /** PoP name when known (from discovery), for logs and spreading connections. */
  readonly pop?: string;
  /** Measured round trip (TCP connect), when discovery measured it. */
  readonly rttMs?: number;
}

export interface EdgeQuery {
  readonly credentials: TunnelCredentials;
  /** Explicit `--edge` addresses, if any. */
  readonly overrides: readonly string[];
  /** The config's static edge list (`edge: [HOST:PORT, ...]`), if any. */
  readonly configured: readonly string[];
}

export interface ConnectorConnectionInfo {
  readonly index: number;
  readonly connectionId: string;
  readonly pop: string;
  readonly edge: EdgeAddress;
}

/** A request the connector finished (answered, or cut short), as `requestDone` reports it. */
export interface RequestRecord {
  readonly ray: string;
  readonly method: string;
  readonly hostname: string;
  /** The request path with its query, as the visitor sent it. */
  readonly path: string;
  /** The ingress rule that served it (its index in `ingress:`). */
  readonly rule: number;
  /** The status sent to the edge; 0 when the stream closed before any response. */
  readonly status: number;
  /** Response body bytes sent to the edge (counted only while something taps `requestDone`). */
  readonly bytes: number;
  /** From the stream's arrival to its close. */
  readonly ms: number;
  /** The response was sent in full (false: the visitor or the connection went away first). */
  readonly completed: boolean;
  /** The connector made the answer up because the origin failed (a 502/504 carrying the reason for the edge's page). */
  readonly originFailed: boolean;
  readonly clientIp: string;
  /** The request's HTTP/2 headers, for what else an observer wants to read (e.g. `burrow-path`). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export function createConnectorHooks() {
  return declareHooks({
    /** Turns what the user asked to run into tunnel id, secret and TLS material; first answer wins. */
    resolveCredentials: new AsyncSeriesBailHook<[CredentialsQuery], TunnelCredentials | undefined>(['query']),
    /**
     * Lists edge addresses, nearest first; first answer wins. The built-ins tap in this order: SRV discovery from
     * `discovery:` (stage 0), then `--edge` / `edge:` (stage 0, after), then SRV discovery from cert.pem's domain
     * (stage 10), then cert.pem's edge address (stage 20).
     */
    resolveEdges: new AsyncSeriesBailHook<[EdgeQuery], EdgeAddress[] | undefined>(['query']),
    afterConnect: new SyncHook<[ConnectorConnectionInfo]>(['connection']),
    connectionLost: new SyncHook<[ConnectorConnectionInfo, string]>(['connection', 'reason']),
    /**
     * Each request once its stream closed, however it was served: for logs and metrics, which need no part in the
     * request itself (middleware would; a request no middleware sees takes the lighter way to its origin).
     */
    requestDone: new SyncHook<[RequestRecord]>(['request']),
  });
}

export type ConnectorHooks = ReturnType<typeof createConnectorHooks>;
