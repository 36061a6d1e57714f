// A TunnelRegistry that keeps tunnels and routes in one JSON file, rewritten whole on every change.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { BurrowError, RouteConflictError, mintTunnel, publicTunnel, secretMatches, type CreatedTunnel, type PresenceRecord, type RouteRecord, type StoredTunnel, type TunnelRecord, type TunnelRegistry } from 'burrow';

/** The file's shape: readable, and easy to edit by hand while the edge is stopped. */
interface RegistryFile {
  tunnels: StoredTunnel[];
  routes: RouteRecord[];
}

export class JsonFileRegistry implements TunnelRegistry {
  /** Live connections are one PoP's own and gone after a restart, so they stay out of the file. */
  private readonly presence = new Map<string, PresenceRecord>();
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    private readonly data: RegistryFile,
  ) {}

  static async open(file: string): Promise<JsonFileRegistry> {
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text === undefined) return new JsonFileRegistry(file, { tunnels: [], routes: [] });
    try {
      const data = JSON.parse(text) as Partial<RegistryFile>;
      return new JsonFileRegistry(file, { tunnels: data.tunnels ?? [], routes: data.routes ?? [] });
    } catch {
      throw new Error(`${file} is not valid JSON; fix it by hand, or move it away to start with no tunnels`);
    }
  }

  async createTunnel(input: { name: string; zone: string; ephemeral?: boolean }): Promise<CreatedTunnel> {
    if (this.data.tunnels.some((t) => t.name === input.name && t.zone === input.zone)) {
      throw new BurrowError('BURROW_ERR_TUNNEL_EXISTS', `a tunnel named "${input.name}" already exists in ${input.zone}`, { hint: 'pick another name or delete the old tunnel' });
    }
    const { stored, secret } = mintTunnel(input);
    this.data.tunnels.push(stored);
    await this.save();
    return { tunnel: publicTunnel(stored), secret };
  }

  async getTunnel(ref: string, zones?: readonly string[]): Promise<TunnelRecord | undefined> {
    const visible = this.data.tunnels.filter((t) => !zones || zones.includes(t.zone));
    const tunnel = visible.find((t) => t.id === ref) ?? visible.find((t) => t.name === ref);
    return tunnel && publicTunnel(tunnel);
  }

  async listTunnels(zones?: readonly string[]): Promise<TunnelRecord[]> {
    return this.data.tunnels.filter((t) => !zones || zones.includes(t.zone)).map(publicTunnel);
  }

  async deleteTunnel(id: string): Promise<void> {
    this.data.tunnels = this.data.tunnels.filter((t) => t.id !== id);
    this.data.routes = this.data.routes.filter((r) => r.tunnelId !== id);
    await this.save();
  }

  async verifySecret(tunnelId: string, secret: string): Promise<boolean> {
    const tunnel = this.data.tunnels.find((t) => t.id === tunnelId);
    return tunnel !== undefined && secretMatches(tunnel, secret);
  }

  async routeHostname(hostname: string, tunnelId: string, options: { overwrite?: boolean } = {}): Promise<RouteRecord> {
    const existing = this.data.routes.find((r) => r.hostname === hostname);
    if (existing?.tunnelId === tunnelId) return existing;
    if (existing && !options.overwrite) throw new RouteConflictError(hostname, existing.tunnelId);
    const route: RouteRecord = { hostname, tunnelId, createdAt: new Date().toISOString() };
    this.data.routes = [...this.data.routes.filter((r) => r.hostname !== hostname), route];
    await this.save();
    return route;
  }

  async unrouteHostname(hostname: string): Promise<void> {
    const before = this.data.routes.length;
    this.data.routes = this.data.routes.filter((r) => r.hostname !== hostname);
    if (this.data.routes.length !== before) await this.save();
  }

  async listRoutes(tunnelId?: string): Promise<RouteRecord[]> {
    return this.data.routes.filter((r) => !tunnelId || r.tunnelId === tunnelId);
  }

  async tunnelForHostname(hostname: string): Promise<TunnelRecord | undefined> {
    const byName = new Map(this.data.routes.map((r) => [r.hostname, r]));
    // Exact first, then the closest wildcard: a.b.example.test tries *.b.example.test before *.example.test.
    const labels = hostname.split('.');
    const candidates = [hostname, ...labels.slice(1).map((_, i) => `*.${labels.slice(i + 1).join('.')}`)];
    const route = candidates.map((name) => byName.get(name)).find((r) => r !== undefined);
    const tunnel = route && this.data.tunnels.find((t) => t.id === route.tunnelId);
    return tunnel && publicTunnel(tunnel);
  }

  async addPresence(record: PresenceRecord): Promise<void> {
    this.presence.set(record.connectionId, record);
  }

  async removePresence(record: PresenceRecord): Promise<void> {
    this.presence.delete(record.connectionId);
  }

  async listPresence(tunnelId: string): Promise<PresenceRecord[]> {
    return [...this.presence.values()].filter((p) => p.tunnelId === tunnelId);
  }

  /** One write at a time, each to a temp file renamed over the old one, so a crash never leaves half a file. */
  private save(): Promise<void> {
    const text = `${JSON.stringify(this.data, null, 2)}\n`;
    const temp = `${this.file}.${process.pid}.tmp`;
    // A failed write is reported to its caller; the next write still runs.
    this.writing = this.writing.catch(() => undefined).then(async () => {
      await writeFile(temp, text, { mode: 0o600 });
      await rename(temp, this.file);
    });
    return this.writing;
  }
}
