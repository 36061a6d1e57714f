// The network map in memory: PoP records and link reports with expiry, for one PoP or several in one process (`burrow network dev`).
import type { LinkReport, NetworkStore, PopRecord } from 'burrow';

interface Expiring<T> {
  readonly value: T;
  readonly expiresAt: number;
}

export class MemoryNetworkStore implements NetworkStore {
  private readonly pops = new Map<string, Expiring<PopRecord>>();
  private readonly links = new Map<string, Expiring<LinkReport>>();
  private readonly listeners = new Set<() => void>();

  async publishPop(pop: PopRecord, ttlMs: number): Promise<void> {
    this.pops.set(pop.name, { value: pop, expiresAt: Date.now() + ttlMs });
    this.changed();
  }

  async removePop(name: string): Promise<void> {
    this.pops.delete(name);
    this.links.delete(name);
    this.changed();
  }

  async listPops(): Promise<PopRecord[]> {
    return live(this.pops);
  }

  async publishLinks(report: LinkReport, ttlMs: number): Promise<void> {
    this.links.set(report.from, { value: report, expiresAt: Date.now() + ttlMs });
    this.changed();
  }

  async listLinks(): Promise<LinkReport[]> {
    return live(this.links);
  }

  watch(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Listeners run after the publisher's turn, and one that throws stops neither the others nor the publisher. */
  private changed(): void {
    for (const listener of this.listeners) {
      queueMicrotask(() => {
        try {
          listener();
        } catch {
          // A watcher's failure is its own.
        }
      });
    }
  }
}

/** The entries that have not expired; expired ones are dropped on the way. */
function live<T>(entries: Map<string, Expiring<T>>): T[] {
  const now = Date.now();
  const out: T[] = [];
  for (const [key, entry] of entries) {
    if (entry.expiresAt <= now) entries.delete(key);
    else out.push(entry.value);
  }
  return out;
}
