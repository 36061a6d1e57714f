// The tunnel registry contract: tunnels, their secrets, hostname routes and presence. Provided by a plugin (the registry role).
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { BurrowError } from '../kernel/errors.ts';
import { serviceToken } from '../kernel/services.ts';

export interface TunnelRecord {
  readonly id: string;
  readonly name: string;
  /** The zone whose certificate may run this tunnel and whose hostnames it may claim. */
  readonly zone: string;
  readonly createdAt: string;
  /** Ephemeral tunnels (quick tunnels) vanish with their last connection. */
  readonly ephemeral?: boolean;
}

export interface RouteRecord {
  readonly hostname: string;
  readonly tunnelId: string;
  readonly createdAt: string;
}

/** One live connector connection, as the registry keeps it for every PoP of a network to see. */
export interface PresenceRecord {
  readonly connectionId: string;
  readonly tunnelId: string;
  readonly connectorId: string;
  readonly connIndex: number;
  readonly version: string;
  /** The PoP the connection is registered at. */
  readonly pop: string;
  /** The connector's address as that PoP sees it. */
  readonly remoteAddress: string;
  readonly connectedAt: string;
}

export interface CreatedTunnel {
  readonly tunnel: TunnelRecord;
  /** Base64 of 32 random bytes. Only its hash is stored; this is the one time it is seen. */
  readonly secret: string;
}

export interface TunnelRegistry {
  createTunnel(input: { name: string; zone: string; ephemeral?: boolean }): Promise<CreatedTunnel>;
  /** By id or by name; `zones` limits the lookup to tunnels of those zones. */
  getTunnel(ref: string, zones?: readonly string[]): Promise<TunnelRecord | undefined>;
  listTunnels(zones?: readonly string[]): Promise<TunnelRecord[]>;
  /** Deletes the tunnel and its routes. */
  deleteTunnel(id: string): Promise<void>;
  verifySecret(tunnelId: string, secret: string): Promise<boolean>;
  routeHostname(hostname: string, tunnelId: string, options?: { overwrite?: boolean }): Promise<RouteRecord>;
  unrouteHostname(hostname: string): Promise<void>;
  listRoutes(tunnelId?: string): Promise<RouteRecord[]>;
  /** Exact route first, then the closest `*.` wildcard route. */
  tunnelForHostname(hostname: string): Promise<TunnelRecord | undefined>;
  /** Records a live connection (a PoP calls it when a connector registers there). */
  addPresence(record: PresenceRecord): Promise<void>;
  removePresence(record: PresenceRecord): Promise<void>;
  /** The live connections of a tunnel at every PoP that shares this registry. */
  listPresence(tunnelId: string): Promise<PresenceRecord[]>;
  /** PoP records and measured link RTTs, for a registry that a network of PoPs shares. */
  readonly network?: NetworkStore;
}

/** A PoP of a network, as it publishes itself for the others. */
export interface PopRecord {
  readonly name: string;
  readonly region?: string;
  /** `host:port` the other PoPs dial for a link (`edge.network.advertise`). */
  readonly peer: string;
  /** Its listeners by name (tunnel, http, api, dns ...), for discovery and `network status`. */
  readonly addresses: Readonly<Record<string, string>>;
  /** `host:port` connectors dial (SRV discovery answers with it). */
  readonly tunnel?: string;
  /** The IP addresses visitors reach it at (DNS answers routed names with those of every live PoP). */
  readonly visitors?: readonly string[];
  readonly startedAt: string;
}

/** One PoP's smoothed round-trip times, in milliseconds, to the PoPs it has a live link to. */
export interface LinkReport {
  readonly from: string;
  readonly rtts: Readonly<Record<string, number>>;
  /** When it was measured (ISO time). */
  readonly at: string;
}

/**
 * The network's shared map: which PoPs are up and what each measured. Entries expire unless their PoP
 * refreshes them, so a PoP that dies leaves the map by itself.
 */
export interface NetworkStore {
  /** Publishes or refreshes `pop`; it leaves after `ttlMs` without a refresh. */
  publishPop(pop: PopRecord, ttlMs: number): Promise<void>;
  removePop(name: string): Promise<void>;
  listPops(): Promise<PopRecord[]>;
  /** Replaces the links `report.from` measured; they leave after `ttlMs` without a refresh. */
  publishLinks(report: LinkReport, ttlMs: number): Promise<void>;
  listLinks(): Promise<LinkReport[]>;
  /** Calls `listener` whenever any PoP publishes, so routes can be recomputed at once; returns the unsubscribe. */
  watch(listener: () => void): () => void;
}

/** A tunnel as a registry keeps it: its public record and the hash of its secret, never the secret itself. */
export interface StoredTunnel extends TunnelRecord {
  readonly secretHash: string;
}

/** A new tunnel with a fresh 32-byte secret: the registry stores `stored` and hands `secret` back, once. */
export function mintTunnel(input: { name: string; zone: string; ephemeral?: boolean }): { stored: StoredTunnel; secret: string } {
  const secret = randomBytes(32).toString('base64');
  const stored: StoredTunnel = {
    id: randomUUID(),
    name: input.name,
    zone: input.zone,
    createdAt: new Date().toISOString(),
    ...(input.ephemeral ? { ephemeral: true } : {}),
    secretHash: hashSecret(secret),
  };
  return { stored, secret };
}

/** Whether `secret` is the stored tunnel's, compared in constant time. */
export function secretMatches(tunnel: StoredTunnel, secret: string): boolean {
  return timingSafeEqual(Buffer.from(tunnel.secretHash, 'hex'), Buffer.from(hashSecret(secret), 'hex'));
}

/** The record without its secret hash, as the registry hands tunnels out. */
export function publicTunnel(tunnel: StoredTunnel): TunnelRecord {
  const { secretHash: _omit, ...record } = tunnel;
  return record;
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export const TunnelRegistryToken = serviceToken<TunnelRegistry>('TunnelRegistry');

export class RouteConflictError extends BurrowError {
  readonly expected = true;
  constructor(
    readonly hostname: string,
    readonly tunnelId: string,
  ) {
    super('BURROW_ERR_ROUTE_CONFLICT', `${hostname} is already routed to tunnel ${tunnelId}; pass --overwrite to move it`);
  }
}
