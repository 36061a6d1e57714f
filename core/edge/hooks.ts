// The edge's hooks, declared once: what plugins can observe, refuse or answer on the edge.
import type { PeerCertificate, SecureContextOptions } from 'node:tls';
import { AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncHook } from 'tapable';
import { declareHooks } from '../kernel/plugin.ts';
import type { RegisterRequest } from '../transport/protocol.ts';
import type { RouteRecord, TunnelRecord } from './registry.ts';

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

/** One live connector connection as the edge sees it. */
export interface EdgeConnectionInfo {
  readonly id: string;
  readonly tunnelId: string;
  readonly connIndex: number;
  readonly connectorId: string;
  readonly version: string;
  readonly pop: string;
  readonly remoteAddress: string;
  readonly connectedAt: Date;
  readonly activeStreams: number;
  readonly draining: boolean;
}

export interface RouteRequest {
  readonly hostname: string;
  readonly tunnel: TunnelRecord;
}

export interface EdgeAddresses {
  readonly http?: string;
  readonly https?: string;
  readonly tunnel: string;
  readonly api: string;
}

/** Refuses a registration; `retry` tells the connector whether trying again can succeed. */
export class RegistrationRefused extends Error {
  readonly code = 'BURROW_ERR_REGISTRATION_REFUSED';
  readonly expected = true;
  constructor(
    message: string,
    readonly retry: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export function createEdgeHooks() {
  return declareHooks({
    /** Waterfall: each tap returns the TLS options with its additions (certificate, client CA). */
    prepareTunnelTls: new AsyncSeriesWaterfallHook<[TunnelTlsOptions]>(['tls']),
    /** Vets a registration whose tunnel and secret already checked out; throw RegistrationRefused to refuse. */
    beforeRegister: new AsyncSeriesHook<[RegistrationAttempt]>(['attempt']),
    afterRegister: new SyncHook<[EdgeConnectionInfo]>(['connection']),
    connectionLost: new SyncHook<[EdgeConnectionInfo, string]>(['connection', 'reason']),
    /** Tunnel lookup for a visitor's hostname; the first answer wins. */
    resolveTunnel: new AsyncSeriesBailHook<[string], TunnelRecord | undefined>(['hostname']),
    /** A hostname is about to be routed to a tunnel; throw to refuse (e.g. outside the tunnel's zone). */
    beforeRouteHostname: new AsyncSeriesHook<[RouteRequest]>(['route']),
    /** Publish a new route (e.g. a DNS record). */
    afterRouteHostname: new AsyncSeriesHook<[RouteRecord]>(['route']),
    afterListen: new AsyncSeriesHook<[EdgeAddresses]>(['addresses']),
  });
}

export type EdgeHooks = ReturnType<typeof createEdgeHooks>;
