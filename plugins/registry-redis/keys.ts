// The Redis layout of the registry: key names under the prefix, and how records are written into them and read back.
import type { PresenceRecord, RouteRecord, StoredTunnel } from 'burrow';

/** A tunnel as stored: the public record plus the sha256 of its secret. */
/** What a write changed: a route (its hostname) or a tunnel (its id). Every PoP drops what it cached of it. */
export type Change = { readonly route: string } | { readonly tunnel: string };

/** A Change on the changes channel, with the registry instance that made it (which applied it already). */
export type ChangeMessage = Change & { readonly from: string };

/**
 * Every key of one network, under one prefix:
 * - `tunnel:<id>` hash: id, name, zone, createdAt, ephemeral ("1"), secretHash
 * - `tunnels` set of every tunnel id; `zones` set of every zone with a tunnel; `names:<zone>` hash name -> id
 * - `routes` hash hostname -> route JSON (one HMGET answers a lookup with all its wildcard candidates);
 *   `routes:<tunnel id>` set of that tunnel's hostnames
 * - `presence:<tunnel id>` sorted set of connection ids scored by expiry (ms, Redis clock);
 *   `presence:<tunnel id>:records` hash connection id -> presence JSON
 * - `changes` pub/sub channel of Change messages
 * - `pop:<name>`, `links:<name>`, `pops` and the `network` channel: the network map (network-store.ts)
 */
export class RegistryKeys {
  constructor(readonly prefix: string) {}

  tunnel(id: string): string {
    return `${this.prefix}tunnel:${id}`;
  }
  get tunnels(): string {
    return `${this.prefix}tunnels`;
  }
  get zones(): string {
    return `${this.prefix}zones`;
  }
  names(zone: string): string {
    return `${this.prefix}names:${zone}`;
  }
  get routes(): string {
    return `${this.prefix}routes`;
  }
  routesOf(tunnelId: string): string {
    return `${this.prefix}routes:${tunnelId}`;
  }
  presence(tunnelId: string): string {
    return `${this.prefix}presence:${tunnelId}`;
  }
  presenceRecords(tunnelId: string): string {
    return `${this.prefix}presence:${tunnelId}:records`;
  }
  get changes(): string {
    return `${this.prefix}changes`;
  }
}

export function tunnelFields(tunnel: StoredTunnel): string[] {
  const fields = ['id', tunnel.id, 'name', tunnel.name, 'zone', tunnel.zone, 'createdAt', tunnel.createdAt, 'secretHash', tunnel.secretHash];
  if (tunnel.ephemeral) fields.push('ephemeral', '1');
  return fields;
}

/** A `tunnel:<id>` hash as HGETALL returns it; undefined when the key does not exist. */
export function readTunnel(hash: Record<string, string>): StoredTunnel | undefined {
  if (!hash.id || !hash.name || !hash.zone || !hash.createdAt || !hash.secretHash) return undefined;
  return {
    id: hash.id,
    name: hash.name,
    zone: hash.zone,
    createdAt: hash.createdAt,
    ...(hash.ephemeral === '1' ? { ephemeral: true } : {}),
    secretHash: hash.secretHash,
  };
}

export function readRoute(json: string): RouteRecord {
  return JSON.parse(json) as RouteRecord;
}

export function readPresence(json: string): PresenceRecord {
  return JSON.parse(json) as PresenceRecord;
}

/** The route keys a visitor hostname can match, best first: itself, then its `*.` wildcards from closest to widest. */
export function routeCandidates(hostname: string): string[] {
  const candidates = [hostname];
  for (let dot = hostname.indexOf('.'); dot >= 0; dot = hostname.indexOf('.', dot + 1)) candidates.push(`*${hostname.slice(dot)}`);
  return candidates;
}
