// The default tunnel registry: in memory, persisted to `<dataDir>/registry.json` so restarts keep it.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MemoryNetworkStore } from './network-store.ts';
import { AttributedError, BurrowError, RouteConflictError, mintTunnel, publicTunnel, secretMatches, type StoredTunnel, type CreatedTunnel, type PresenceRecord, type RouteRecord, type TunnelRecord, type TunnelRegistry } from 'burrow';

interface Snapshot {
  version: 1;
  tunnels: StoredTunnel[];
  routes: RouteRecord[];
}

export class MemoryRegistry implements TunnelRegistry {
  private readonly tunnels = new Map<string, StoredTunnel>();
  private readonly routes = new Map<string, RouteRecord>();
  /** Live connections by tunnel id, then connection id: one PoP's own, so never persisted. */
  private readonly presence = new Map<string, Map<string, PresenceRecord>>();
  /** PoP records and link reports: this PoP's own, or those of every PoP sharing this registry in one process. */
  readonly network = new MemoryNetworkStore();
  private saving: Promise<void> = Promise.resolve();

  private constructor(private readonly file?: string) {}

  /** Loads `file` if it exists; without a file the registry lives only in memory. */
  static async open(file?: string): Promise<MemoryRegistry> {
    const registry = new MemoryRegistry(file);
    if (!file) return registry;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return registry;
      throw error;
    }
    let snapshot: Snapshot;
    try {
      snapshot = JSON.parse(text) as Snapshot;
    } catch (error) {
      throw new AttributedError('BURROW_ERR_REGISTRY_FILE', `${file} is not valid JSON; restore it from a backup, or move it away to start with no tunnels`, { cause: error });
    }
    for (const tunnel of snapshot.tunnels ?? []) registry.tunnels.set(tunnel.id, tunnel);
    for (const route of snapshot.routes ?? []) registry.routes.set(route.hostname, route);
    return registry;
  }

  async createTunnel(input: { name: string; zone: string; ephemeral?: boolean }): Promise<CreatedTunnel> {
    if ([...this.tunnels.values()].some((t) => t.name === input.name && t.zone === input.zone)) {
      throw new BurrowError('BURROW_ERR_TUNNEL_EXISTS', `a tunnel named "${input.name}" already exists in ${input.zone}`, { hint: 'pick another name or delete the old tunnel' });
    }
    const { stored, secret } = mintTunnel(input);
    this.tunnels.set(stored.id, stored);
    await this.persist();
    return { tunnel: publicTunnel(stored), secret };
  }

  async getTunnel(ref: string, zones?: readonly string[]): Promise<TunnelRecord | undefined> {
    const inZone = (t: StoredTunnel) => !zones || zones.includes(t.zone);
    const byId = this.tunnels.get(ref);
    if (byId && inZone(byId)) return publicTunnel(byId);
    for (const tunnel of this.tunnels.values()) if (tunnel.name === ref && inZone(tunnel)) return publicTunnel(tunnel);
    return undefined;
  }

  async listTunnels(zones?: readonly string[]): Promise<TunnelRecord[]> {
    return [...this.tunnels.values()].filter((t) => !zones || zones.includes(t.zone)).map(publicTunnel);
  }

  async deleteTunnel(id: string): Promise<void> {
    this.tunnels.delete(id);
    for (const [hostname, route] of this.routes) if (route.tunnelId === id) this.routes.delete(hostname);
    await this.persist();
  }

  async verifySecret(tunnelId: string, secret: string): Promise<boolean> {
    const tunnel = this.tunnels.get(tunnelId);
    if (!tunnel) return false;
    return secretMatches(tunnel, secret);
  }

  async routeHostname(hostname: string, tunnelId: string, options: { overwrite?: boolean } = {}): Promise<RouteRecord> {
    const existing = this.routes.get(hostname);
    if (existing && existing.tunnelId !== tunnelId && !options.overwrite) throw new RouteConflictError(hostname, existing.tunnelId);
    if (existing?.tunnelId === tunnelId) return existing;
    const route: RouteRecord = { hostname, tunnelId, createdAt: new Date().toISOString() };
    this.routes.set(hostname, route);
    await this.persist();
    return route;
  }

  async unrouteHostname(hostname: string): Promise<void> {
    if (this.routes.delete(hostname)) await this.persist();
  }

  async listRoutes(tunnelId?: string): Promise<RouteRecord[]> {
    return [...this.routes.values()].filter((r) => !tunnelId || r.tunnelId === tunnelId);
  }

  async tunnelForHostname(hostname: string): Promise<TunnelRecord | undefined> {
    let route = this.routes.get(hostname);
    // Walk up the labels for the closest `*.` wildcard route: a.b.example.test -> *.b.example.test -> *.example.test
    for (let dot = hostname.indexOf('.'); !route && dot >= 0; dot = hostname.indexOf('.', dot + 1)) {
      route = this.routes.get(`*${hostname.slice(dot)}`);
    }
    const tunnel = route && this.tunnels.get(route.tunnelId);
    return tunnel && publicTunnel(tunnel);
  }

  async addPresence(record: PresenceRecord): Promise<void> {
    let live = this.presence.get(record.tunnelId);
    if (!live) this.presence.set(record.tunnelId, (live = new Map()));
    live.set(record.connectionId, record);
  }

  async removePresence(record: PresenceRecord): Promise<void> {
    const live = this.presence.get(record.tunnelId);
    if (live?.delete(record.connectionId) && live.size === 0) this.presence.delete(record.tunnelId);
  }

  async listPresence(tunnelId: string): Promise<PresenceRecord[]> {
    return [...(this.presence.get(tunnelId)?.values() ?? [])];
  }

  /** Writes are serialized and atomic (temp file + rename) so a crash never leaves half a file. */
  private persist(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const snapshot: Snapshot = {
      version: 1,
      tunnels: [...this.tunnels.values()].filter((t) => !t.ephemeral),
      routes: [...this.routes.values()].filter((r) => !this.tunnels.get(r.tunnelId)?.ephemeral),
    };
    this.saving = this.saving.then(async () => {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(snapshot, null, 2), { mode: 0o600 });
      await rename(tmp, file);
    });
    return this.saving;
  }
}
