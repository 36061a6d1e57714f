// What the edge API answers about the network (GET /v1/network, GET /v1/network/routes/:hostname?from=POP), and the CLI prints.
import { serviceToken } from 'burrow';

/** One PoP as the network knows it, with the round trips it measured to the others. */
export interface PopStatus {
  readonly name: string;
  readonly region?: string;
  /** Where the other PoPs dial it for a link. */
  readonly peer: string;
  /** Its listeners (tunnel, http, api ...). */
  readonly addresses: Readonly<Record<string, string>>;
  readonly startedAt: string;
  /** Smoothed round trip in milliseconds to each PoP it has a live link to. */
  readonly links: Readonly<Record<string, number>>;
}

/** The lowest-latency path from one PoP to another through the measured links. */
export interface PathStatus {
  /** PoP names, first the one the request is at and last the one it reaches. */
  readonly path: readonly string[];
  /** Sum of the round trips of its links, in milliseconds. */
  readonly rttMs: number;
}

export interface NetworkStatus {
  /** The PoP that answered. */
  readonly pop: string;
  readonly pops: readonly PopStatus[];
  /** routes[from][to]: the path `from` takes to reach `to` now; null when `to` cannot be reached. */
  readonly routes: Readonly<Record<string, Readonly<Record<string, PathStatus | null>>>>;
}

export interface HopStatus {
  readonly from: string;
  readonly to: string;
  readonly rttMs: number;
}

/** The path a request for `hostname` landing at `from` takes now. */
export interface RouteExplanation {
  readonly hostname: string;
  readonly tunnel: { readonly id: string; readonly name: string };
  readonly from: string;
  /** The PoP whose tunnel connection serves it; null when no PoP holding one can be reached (the visitor gets 530). */
  readonly to: string | null;
  /** The PoPs with a live connection of the tunnel. */
  readonly servedAt: readonly string[];
  readonly path: readonly string[];
  readonly hops: readonly HopStatus[];
  readonly rttMs: number;
}

/** This PoP's live view of the network, for other plugins that show it (read-only). */
export interface NetworkStatusView {
  status(): NetworkStatus;
}

export const NetworkStatusToken = serviceToken<NetworkStatusView>('NetworkStatus');
