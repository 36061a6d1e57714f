// The tunnel registry in Redis, shared by every PoP of a network: records, atomic writes, presence refresh and the cache.
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { BurrowError, RouteConflictError, mintTunnel, publicTunnel, secretMatches, type CreatedTunnel, type StoredTunnel, type Logger, type PresenceRecord, type RouteRecord, type TunnelRecord, type TunnelRegistry } from 'burrow';
import { LookupCache } from './cache.ts';
import { RedisNetworkStore } from './network-store.ts';
import { readPresence, readRoute, readTunnel, RegistryKeys, routeCandidates, tunnelFields, type Change, type ChangeMessage } from './keys.ts';
import { defineScripts, script } from './scripts.ts';

export interface RedisRegistryOptions {
  /** redis://[:password@]host:port/db or rediss://… */
  readonly url: string;
  readonly prefix: string;
  /** How long a presence entry lives unless its PoP refreshes it (every third of this). */
  readonly presenceTtlMs: number;
  readonly log: Logger;
}

/*
 * Fail fast instead of queueing: while Redis is away a write must fail at once with an error naming the registry,
 * and a cache miss must not hold a visitor for the length of an outage. ioredis keeps reconnecting meanwhile.
 */
const clientOptions: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2_000,
  commandTimeout: 2_000,
  retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
};

export class RedisRegistry implements TunnelRegistry {
  readonly cache = new LookupCache();
  /** The URL without its password, for messages. */
  readonly address: string;
  /** PoP records and link latencies, for the network plugin. */
  readonly network: RedisNetworkStore;
  private readonly keys: RegistryKeys;
  private readonly client: Redis;
  private readonly subscriber: Redis;
  /** This PoP's own live connections: written again every ttl/3 so they outlive the ttl only while this PoP does. */
  private readonly own = new Map<string, PresenceRecord>();
  private readonly refreshTimer: NodeJS.Timeout;
  /** Marks this instance's own messages on the changes channel: it applied them when its write returned. */
  private readonly instance = randomUUID();
  private unreachable = false;

  private constructor(private readonly options: RedisRegistryOptions) {
    this.address = redact(options.url);
    this.keys = new RegistryKeys(options.prefix);
    this.client = new Redis(options.url, clientOptions);
    // ioredis re-subscribes after a reconnect without handling that promise; queueing it, not failing it, keeps that safe.
    this.subscriber = new Redis(options.url, { ...clientOptions, enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.network = new RedisNetworkStore(this.client, options.prefix, (what, run) => this.call(what, run));
    defineScripts(this.client);
    this.client.on('error', (error: Error) => this.lost(error));
    this.subscriber.on('error', (error: Error) => this.lost(error));
    this.client.on('ready', () => this.regained());
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.network.channel) return this.network.notify();
      const heard = JSON.parse(message) as ChangeMessage;
      if (heard.from !== this.instance) this.cache.apply(heard);
    });
    this.subscriber.on('close', () => {
      this.cache.live = false;
    });
    this.refreshTimer = setInterval(() => void this.refreshPresence(), Math.max(100, options.presenceTtlMs / 3));
    this.refreshTimer.unref();
  }

  /** Connects both clients and subscribes to the changes channel; fails naming the address when Redis cannot be reached. */
  static async open(options: RedisRegistryOptions): Promise<RedisRegistry> {
    const registry = new RedisRegistry(options);
    try {
      await Promise.all([registry.client.connect(), registry.subscriber.connect()]);
      await registry.subscriber.subscribe(registry.keys.changes, registry.network.channel);
    } catch (error) {
      await registry.close();
      throw registry.failure('connect', error);
    }
    registry.cache.live = true;
    // Set after the first subscription so that only a reconnect (which may have missed changes) drops the cache.
    registry.subscriber.on('ready', () => {
      registry.cache.clear();
      registry.cache.live = true;
      registry.network.notify();
    });
    return registry;
  }

  async close(): Promise<void> {
    clearInterval(this.refreshTimer);
    const records = [...this.own.values()];
    this.own.clear();
    if (records.length > 0 && this.client.status === 'ready') await Promise.allSettled(records.map((record) => this.deletePresence(record)));
    this.client.disconnect();
    this.subscriber.disconnect();
  }

  async createTunnel(input: { name: string; zone: string; ephemeral?: boolean }): Promise<CreatedTunnel> {
    const { stored, secret } = mintTunnel(input);
    const { keys } = this;
    const created = await this.call('create the tunnel', () =>
      script(this.client, 'burrowCreateTunnel')(keys.names(stored.zone), keys.tunnel(stored.id), keys.tunnels, keys.zones, stored.name, stored.id, stored.zone, ...tunnelFields(stored)),
    );
    if (created === 0) {
      throw new BurrowError('BURROW_ERR_TUNNEL_EXISTS', `a tunnel named "${input.name}" already exists in ${input.zone}`, { hint: 'pick another name or delete the old tunnel' });
    }
    return { tunnel: publicTunnel(stored), secret };
  }

  async getTunnel(ref: string, zones?: readonly string[]): Promise<TunnelRecord | undefined> {
    const tunnel = await this.findTunnel(ref, zones);
    return tunnel && publicTunnel(tunnel);
  }

  async listTunnels(zones?: readonly string[]): Promise<TunnelRecord[]> {
    const ids = await this.call('list tunnels', async () => {
      if (!zones) return this.client.smembers(this.keys.tunnels);
      const pipeline = this.client.pipeline();
      for (const zone of zones) pipeline.hvals(this.keys.names(zone));
      return (await pipeline.exec())!.flatMap(([error, result]) => {
        if (error) throw error;
        return result as string[];
      });
    });
    const tunnels = await this.fetchTunnels(ids);
    return tunnels.sort(byCreation).map(publicTunnel);
  }

  async deleteTunnel(id: string): Promise<void> {
    const { keys } = this;
    const [tunnel] = await this.fetchTunnels([id]);
    await this.call('delete the tunnel', () =>
      script(this.client, 'burrowDeleteTunnel')(keys.tunnel(id), keys.tunnels, keys.names(tunnel?.zone ?? ''), keys.routes, keys.routesOf(id), id, tunnel?.name ?? '', keys.changes, this.message({ tunnel: id })),
    );
    this.cache.apply({ tunnel: id });
  }

  async verifySecret(tunnelId: string, secret: string): Promise<boolean> {
    // From the cache when known: secrets never change, and connectors can then re-register while Redis is away.
    const tunnel = this.cache.tunnel(tunnelId) ?? (await this.loadTunnel(tunnelId));
    if (!tunnel) return false;
    return secretMatches(tunnel, secret);
  }

  async routeHostname(hostname: string, tunnelId: string, options: { overwrite?: boolean } = {}): Promise<RouteRecord> {
    const { keys } = this;
    const route: RouteRecord = { hostname, tunnelId, createdAt: new Date().toISOString() };
    const [outcome, value] = (await this.call(`route ${hostname}`, () =>
      script(this.client, 'burrowRouteHostname')(
        keys.routes,
        keys.routesOf(tunnelId),
        hostname,
        tunnelId,
        JSON.stringify(route),
        options.overwrite ? '1' : '0',
        keys.prefix,
        keys.changes,
        this.message({ route: hostname }),
      ),
    )) as [string, string];
    if (outcome === 'conflict') throw new RouteConflictError(hostname, value);
    if (outcome === 'routed') this.cache.apply({ route: hostname });
    return readRoute(value);
  }

  async unrouteHostname(hostname: string): Promise<void> {
    const { keys } = this;
    const removed = await this.call(`unroute ${hostname}`, () => script(this.client, 'burrowUnrouteHostname')(keys.routes, hostname, keys.prefix, keys.changes, this.message({ route: hostname })));
    if (removed === 1) this.cache.apply({ route: hostname });
  }

  async listRoutes(tunnelId?: string): Promise<RouteRecord[]> {
    const routes = await this.call('list routes', async () => {
      if (!tunnelId) return Object.values(await this.client.hgetall(this.keys.routes)).map(readRoute);
      const hostnames = await this.client.smembers(this.keys.routesOf(tunnelId));
      if (hostnames.length === 0) return [];
      const found = await this.client.hmget(this.keys.routes, ...hostnames);
      return found.filter((json) => json !== null).map(readRoute).filter((route) => route.tunnelId === tunnelId);
    });
    return routes.sort(byCreation);
  }

  async tunnelForHostname(hostname: string): Promise<TunnelRecord | undefined> {
    const cached = this.cache.hostname(hostname);
    if (cached !== undefined) return cached ?? undefined;
    const ticket = this.cache.ticket();
    try {
      const found = await this.call(`look up ${hostname}`, () => this.client.hmget(this.keys.routes, ...routeCandidates(hostname)));
      const json = found.find((candidate) => candidate !== null);
      const tunnelId = json ? readRoute(json).tunnelId : undefined;
      const tunnel = tunnelId === undefined ? undefined : (this.cache.tunnel(tunnelId) ?? (await this.loadTunnel(tunnelId)));
      this.cache.storeHostname(ticket, hostname, tunnel);
      return tunnel && publicTunnel(tunnel);
    } catch (error) {
      // Right after an outage the cache was set aside; while Redis still cannot answer, its old answer stands.
      const stale = this.cache.staleHostname(hostname);
      if (stale === undefined) throw error;
      return stale ?? undefined;
    }
  }

  async addPresence(record: PresenceRecord): Promise<void> {
    // Kept even when the write fails: the next refresh puts it in once Redis is back.
    this.own.set(record.connectionId, record);
    await this.call('record the connection', () => this.writePresence(record));
  }

  async removePresence(record: PresenceRecord): Promise<void> {
    this.own.delete(record.connectionId);
    await this.call('remove the connection', () => this.deletePresence(record));
  }

  async listPresence(tunnelId: string): Promise<PresenceRecord[]> {
    const found = (await this.call('list connections', () => script(this.client, 'burrowListPresence')(this.keys.presence(tunnelId), this.keys.presenceRecords(tunnelId)))) as Array<string | null>;
    return found.filter((json) => json !== null).map(readPresence);
  }

  private writePresence(record: PresenceRecord): Promise<unknown> {
    return script(this.client, 'burrowAddPresence')(this.keys.presence(record.tunnelId), this.keys.presenceRecords(record.tunnelId), record.connectionId, JSON.stringify(record), this.options.presenceTtlMs);
  }

  private deletePresence(record: PresenceRecord): Promise<unknown> {
    return this.client.multi().zrem(this.keys.presence(record.tunnelId), record.connectionId).hdel(this.keys.presenceRecords(record.tunnelId), record.connectionId).exec();
  }

  private async refreshPresence(): Promise<void> {
    if (this.own.size === 0 || this.client.status !== 'ready') return;
    const pipeline = this.client.pipeline();
    for (const record of this.own.values()) {
      script(pipeline, 'burrowAddPresence')(this.keys.presence(record.tunnelId), this.keys.presenceRecords(record.tunnelId), record.connectionId, JSON.stringify(record), this.options.presenceTtlMs);
    }
    try {
      await pipeline.exec();
    } catch (error) {
      this.options.log.debug({ err: (error as Error).message }, 'presence refresh failed; retrying at the next one');
    }
  }

  /** By id, then by name in `zones` (every zone without it), the way registry-memory answers. */
  private async findTunnel(ref: string, zones?: readonly string[]): Promise<StoredTunnel | undefined> {
    const inZone = (tunnel: StoredTunnel) => !zones || zones.includes(tunnel.zone);
    const byId = this.cache.tunnel(ref) ?? (await this.loadTunnel(ref));
    if (byId && inZone(byId)) return byId;
    const cached = this.cache.tunnelNamed(ref, zones);
    if (cached) return cached;
    const ids = await this.call('look up the tunnel', async () => {
      const searched = zones ?? (await this.client.smembers(this.keys.zones));
      const pipeline = this.client.pipeline();
      for (const zone of searched) pipeline.hget(this.keys.names(zone), ref);
      return (await pipeline.exec())!.map(([error, id]) => {
        if (error) throw error;
        return id as string | null;
      });
    });
    const id = ids.find((candidate) => candidate !== null);
    return id ? this.loadTunnel(id) : undefined;
  }

  /** One tunnel from Redis, remembered in the cache. */
  private async loadTunnel(id: string): Promise<StoredTunnel | undefined> {
    const ticket = this.cache.ticket();
    const [tunnel] = await this.fetchTunnels([id]);
    if (tunnel) this.cache.storeTunnel(ticket, tunnel);
    return tunnel;
  }

  private async fetchTunnels(ids: readonly string[]): Promise<StoredTunnel[]> {
    if (ids.length === 0) return [];
    return this.call('read tunnels', async () => {
      const pipeline = this.client.pipeline();
      for (const id of ids) pipeline.hgetall(this.keys.tunnel(id));
      return (await pipeline.exec())!.flatMap(([error, hash]) => {
        if (error) throw error;
        const tunnel = readTunnel(hash as Record<string, string>);
        return tunnel ? [tunnel] : [];
      });
    });
  }

  /** Runs a Redis call; its failure becomes a BurrowError naming the registry and what could not be done. */
  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.failure(what, error);
    }
  }

  private failure(what: string, error: unknown): BurrowError {
    const reason = error instanceof Error ? error.message : String(error);
    // A ReplyError is Redis answering with an error; anything else (closed, refused, timed out) means it was not reached.
    const state = error instanceof Error && error.name === 'ReplyError' ? 'failed' : 'cannot be reached';
    return new BurrowError('BURROW_ERR_REGISTRY', `could not ${what}: the registry at ${this.address} ${state} (${reason})`, {
      hint: 'check that Redis runs at that address and this PoP can reach it; hostnames this PoP already serves keep working meanwhile',
      cause: error,
    });
  }

  private message(change: Change): string {
    return JSON.stringify({ ...change, from: this.instance } satisfies ChangeMessage);
  }

  private lost(error: Error): void {
    if (this.unreachable) return;
    this.unreachable = true;
    this.options.log.warn({ registry: this.address, err: error.message }, 'registry unreachable: writes fail, known hostnames answer from the cache');
  }

  private regained(): void {
    if (!this.unreachable) return;
    this.unreachable = false;
    this.options.log.info({ registry: this.address }, 'registry reachable again');
    void this.refreshPresence();
  }
}


function byCreation(a: { createdAt: string }, b: { createdAt: string }): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0;
}

function redact(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
