// The network map in Redis: each PoP's record and link report under its own key with a Redis-side expiry, and a
// pub/sub channel that tells every PoP to re-read the map as soon as any PoP publishes.
import type { Redis } from 'ioredis';
import type { LinkReport, NetworkStore, PopRecord } from 'burrow';

/**
 * Keys (under the registry's prefix): `pop:<name>` and `links:<name>` are JSON strings SET with PX, so Redis itself
 * expires a PoP that stopped refreshing (no PoP's clock is trusted); `pops` is the set of names ever published,
 * pruned as their keys vanish; `network` is the channel a publish announces itself on.
 */
export class RedisNetworkStore implements NetworkStore {
  private readonly listeners = new Set<() => void>();
  private lastPops: PopRecord[] = [];
  private lastLinks: LinkReport[] = [];

  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
    private readonly call: <T>(what: string, run: () => Promise<T>) => Promise<T>,
  ) {}

  get channel(): string {
    return `${this.prefix}network`;
  }

  async publishPop(pop: PopRecord, ttlMs: number): Promise<void> {
    await this.call('publish this PoP', () =>
      this.client.multi().set(this.key('pop', pop.name), JSON.stringify(pop), 'PX', Math.ceil(ttlMs)).sadd(this.names, pop.name).publish(this.channel, pop.name).exec(),
    );
  }

  async removePop(name: string): Promise<void> {
    await this.call('remove this PoP', () => this.client.multi().del(this.key('pop', name), this.key('links', name)).srem(this.names, name).publish(this.channel, name).exec());
  }

  async listPops(): Promise<PopRecord[]> {
    this.lastPops = await this.read('pop', this.lastPops);
    return this.lastPops;
  }

  async publishLinks(report: LinkReport, ttlMs: number): Promise<void> {
    await this.call('publish link latencies', () =>
      this.client.multi().set(this.key('links', report.from), JSON.stringify(report), 'PX', Math.ceil(ttlMs)).sadd(this.names, report.from).publish(this.channel, report.from).exec(),
    );
  }

  async listLinks(): Promise<LinkReport[]> {
    this.lastLinks = await this.read('links', this.lastLinks);
    return this.lastLinks;
  }

  watch(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A PoP published (a message on the channel), or the subscription came back after an outage that may have hidden some. */
  notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch {
        // A watcher's failure is its own.
      }
    }
  }

  private get names(): string {
    return `${this.prefix}pops`;
  }

  private key(kind: 'pop' | 'links', name: string): string {
    return `${this.prefix}${kind}:${name}`;
  }

  /** Every live entry of one kind; while Redis is away, the last ones read (routing keeps its map through an outage). */
  private async read<T>(kind: 'pop' | 'links', last: T[]): Promise<T[]> {
    let names: string[];
    let values: Array<string | null>;
    try {
      names = await this.client.smembers(this.names);
      values = names.length ? await this.client.mget(names.map((name) => this.key(kind, name))) : [];
    } catch {
      return last;
    }
    const out: T[] = [];
    const gone: string[] = [];
    values.forEach((value, i) => {
      if (value === null) gone.push(names[i]!);
      else out.push(JSON.parse(value) as T);
    });
    // A name whose record and links both expired leaves the set.
    if (kind === 'pop' && gone.length) {
      const stale = await this.client.mget(gone.map((name) => this.key('links', name))).catch(() => []);
      const prune = gone.filter((_, i) => stale[i] === null);
      if (prune.length) await this.client.srem(this.names, ...prune).catch(() => undefined);
    }
    return out;
  }
}
