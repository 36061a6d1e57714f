// The edge's hooks, declared once: what plugins can observe, refuse or answer on the edge.
import type { ClientHttp2Stream, ClientSessionRequestOptions, OutgoingHttpHeaders } from 'node:http2';
import type { PeerCertificate, SecureContextOptions } from 'node:tls';
import { AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncHook } from 'tapable';
import { declareHooks } from '../kernel/plugin.ts';
import type { RegisterRequest } from '../transport/protocol.ts';
import { BurrowError } from '../kernel/errors.ts';
import type { RouteRecord, TunnelRecord } from './registry.ts';

export type { EdgeConnectionInfo } from './connections.ts';
import type { EdgeConnectionInfo } from './connections.ts';
import type { VisitorContext } from './visitor-context.ts';

/** TLS options of the tunnel listener; the auth plugin fills cert, key and the CA client certs must chain to. */
export interface TunnelTlsOptions extends SecureContextOptions {
  requestCert?: boolean;
}

export interface RegistrationAttempt {
  readonly request: RegisterRequest;
  readonly tunnel: TunnelRecord;
  readonly peerCertificate?: PeerCertificate;
  readonly remoteAddress: string;
}


export interface RouteRequest {
  readonly hostname: string;
  readonly tunnel: TunnelRecord;
}

/** `host:port` of each listener, by name: the core's four, and any a plugin opened with `api.listen` (dns, peer ...). */
export interface EdgeAddresses {
  readonly http?: string;
  readonly https?: string;
  readonly tunnel: string;
  readonly api: string;
  readonly [listener: string]: string | undefined;
}

/**
 * A plugin's answer to "where is this tunnel served?" when it is not here: a stream toward the PoP that serves it.
 * The edge then relays the visitor's request and the answer over that stream exactly as over a local tunnel
 * connection (bodies, trailers, upgrades, error pages).
 */
export interface Forwarding {
  /** The next hop (a PoP name), for logs. */
  readonly via: string;
  /** The PoPs the request is to cross, this one first and the serving PoP last, when the plugin knows them. */
  readonly path?: readonly string[];
  /** Opens the request's stream with the headers the edge built for the connector; throw when it cannot (502). */
  open(headers: OutgoingHttpHeaders, options: ClientSessionRequestOptions): ClientHttp2Stream;
}

/** A visitor request the edge finished (answered, or cut short), as `requestDone` reports it. */
export interface VisitorRecord {
  readonly ray: string;
  readonly method: string;
  /** Host header without port, lowercase. */
  readonly hostname: string;
  /** The request target as the tunnel got it (origin-form). */
  readonly path: string;
  /** The status sent to the visitor (101 for an upgrade that went through). */
  readonly status: number;
  /** Bytes written to the visitor's connection for this request, head included (counted only while something taps `requestDone`). */
  readonly bytes: number;
  /** From the request's arrival to its close. */
  readonly ms: number;
  /** The response was sent in full (false: the visitor or the tunnel went away first). */
  readonly completed: boolean;
  readonly clientIp: string;
  readonly protocol: 'http' | 'https';
  /** An Upgrade (WebSocket) request: `completed` then tells whether the upgrade's answer went out whole. */
  readonly upgrade: boolean;
  /** The tunnel that served it, once the lookup ran. */
  readonly tunnel?: string;
  /** The PoPs a forwarded request crossed, this one first; undefined when it was served here. */
  readonly forwardedPath?: readonly string[];
  /** The request's headers, for what else an observer wants to read. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Refuses a registration; `retry` tells the connector whether trying again can succeed. */
export class RegistrationRefused extends BurrowError {
  readonly expected = true;
  constructor(
    message: string,
    readonly retry: boolean,
    readonly retryAfterMs?: number,
  ) {
    super('BURROW_ERR_REGISTRATION_REFUSED', message);
  }
}

export function createEdgeHooks() {
  return declareHooks({
    /** Waterfall: each tap returns the TLS options with its additions (certificate, client CA). */
    prepareTunnelTls: new AsyncSeriesWaterfallHook<[TunnelTlsOptions]>(['tls']),
    /** Vets a registration whose tunnel and secret already checked out; throw RegistrationRefused to refuse. */
    beforeRegister: new AsyncSeriesHook<[RegistrationAttempt]>(['attempt']),
    /** A connection registered (and its presence was recorded); awaited before the connector is told. */
    afterRegister: new AsyncSeriesHook<[EdgeConnectionInfo]>(['connection']),
    /** A registered connection ended (and its presence was removed). */
    connectionLost: new AsyncSeriesHook<[EdgeConnectionInfo, string]>(['connection', 'reason']),
    /** Tunnel lookup for a visitor's hostname; the first answer wins. */
    resolveTunnel: new AsyncSeriesBailHook<[string], TunnelRecord | undefined>(['hostname']),
    /**
     * Between the tunnel lookup and the pick of a local connection: a plugin that knows the tunnel is better
     * served elsewhere (another PoP) answers with a Forwarding and takes the request there; the first answer wins.
     */
    resolveForwarding: new AsyncSeriesBailHook<[VisitorContext], Forwarding | undefined>(['context']),
    afterCreateTunnel: new AsyncSeriesHook<[TunnelRecord]>(['tunnel']),
    /** A tunnel was deleted (its routes first fire afterUnrouteHostname, its connections are cut). */
    afterDeleteTunnel: new AsyncSeriesHook<[TunnelRecord]>(['tunnel']),
    /** A hostname is about to be routed to a tunnel; throw to refuse (e.g. outside the tunnel's zone). */
    beforeRouteHostname: new AsyncSeriesHook<[RouteRequest]>(['route']),
    /** Publish a new route (e.g. a DNS record). */
    afterRouteHostname: new AsyncSeriesHook<[RouteRecord]>(['route']),
    /** Withdraw a route (unrouted, or its tunnel deleted). */
    afterUnrouteHostname: new AsyncSeriesHook<[RouteRecord]>(['route']),
    afterListen: new AsyncSeriesHook<[EdgeAddresses]>(['addresses']),
    /**
     * Each visitor request once its response closed, however it ended (refusals included): for logs and metrics,
     * which need no part in the request itself (middleware would; with none, the edge skips the chain).
     */
    requestDone: new SyncHook<[VisitorRecord]>(['request']),
  });
}

export type EdgeHooks = ReturnType<typeof createEdgeHooks>;
