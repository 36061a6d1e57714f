// Keeps `ha-connections` connections registered, spread over the nearest edges, reconnecting with backoff.
import { EventEmitter } from 'node:events';
import type { Logger } from '../kernel/logger.ts';
import { Backoff } from '../transport/backoff.ts';
import type { ConnectorHooks, EdgeAddress } from './hooks.ts';
import { RegistrationError, type TunnelConnection } from './tunnel-connection.ts';

export interface SupervisorOptions {
  haConnections: number;
  /** 0 means retry forever. */
  retries: number;
  resolveEdges: () => Promise<EdgeAddress[]>;
  createConnection: (edge: EdgeAddress, index: number) => TunnelConnection;
  hooks: ConnectorHooks;
  log: Logger;
  backoff?: { baseMs: number; capMs: number };
}

/** How many of the nearest PoPs connections are spread over. */
const SPREAD_POPS = 2;

/** Emits `ready` on the first registration and `fatal` (Error) when no slot can ever connect again. */
export class ConnectionSupervisor extends EventEmitter {
  private readonly live = new Map<number, TunnelConnection>();
  private readonly wakers = new Set<() => void>();
  private stopping = false;
  private deadSlots = 0;
  private edges: EdgeAddress[] = [];

  constructor(private readonly options: SupervisorOptions) {
    super();
  }

  get connections(): readonly TunnelConnection[] {
    return [...this.live.values()];
  }

  start(): void {
    for (let index = 0; index < this.options.haConnections; index++) void this.runSlot(index);
  }

  private async runSlot(index: number): Promise<void> {
    const { log, hooks } = this.options;
    const backoff = new Backoff(this.options.backoff);
    while (!this.stopping) {
      let wait: number;
      try {
        if (this.edges.length === 0 || backoff.attempts > 0) this.edges = await this.options.resolveEdges();
        if (this.edges.length === 0) {
          throw new Error('no edge addresses found; pass --edge HOST:PORT, log in again so cert.pem names the edge, or enable an edge-discovery plugin (discovery-static is the default)');
        }
        const nearest = this.edges.slice(0, SPREAD_POPS);
        // Alternate PoPs per slot, and move to the other PoP after a failure.
        const edge = nearest[(index + backoff.attempts) % nearest.length]!;
        const connection = this.options.createConnection(edge, index);
        const closed = new Promise<string>((resolve) => connection.once('closed', resolve));
        const registered = await connection.connect();
        if (this.stopping) {
          connection.close();
          return;
        }
        this.live.set(index, connection);
        backoff.reset();
        const info = { index, connectionId: registered.connectionId, pop: registered.pop, edge };
        log.info({ index, pop: registered.pop, connection: registered.connectionId, edge: `${edge.host}:${edge.port}` }, 'connection registered');
        hooks.afterConnect.call(info);
        this.emit('ready', info);
        const reason = await closed;
        this.live.delete(index);
        hooks.connectionLost.call(info, reason);
        if (this.stopping) return;
        log.warn({ index, reason }, 'connection lost; reconnecting');
        wait = backoff.next();
      } catch (error) {
        if (this.stopping) return;
        if (error instanceof RegistrationError && !error.retry) {
          log.error({ index, reason: error.message }, 'registration refused for good; this connection will not retry');
          if (++this.deadSlots === this.options.haConnections) this.emit('fatal', error);
          return;
        }
        wait = error instanceof RegistrationError && error.retryAfterMs ? Math.max(error.retryAfterMs, backoff.next()) : backoff.next();
        if (this.options.retries > 0 && backoff.attempts > this.options.retries) {
          this.emit('fatal', new Error(`gave up after ${this.options.retries} retries: ${(error as Error).message}`));
          return;
        }
        log.warn({ index, err: (error as Error).message, retryInMs: wait }, 'could not connect to the edge');
      }
      await this.sleep(wait);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  /** Unregisters every connection, lets requests in flight finish within `graceMs`, then closes. */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const wake of [...this.wakers]) wake();
    const connections = [...this.live.values()];
    await Promise.all(connections.map((c) => c.unregister()));
    await Promise.all(connections.map((c) => c.drain(graceMs)));
  }

  /** Closes everything at once (second signal). */
  abort(): void {
    this.stopping = true;
    for (const wake of [...this.wakers]) wake();
    for (const connection of this.live.values()) connection.close();
  }
}
