// Live connector connections on this PoP, and the least-loaded pick for each new request.
import type { ClientHttp2Session } from 'node:http2';
import type { EdgeConnectionInfo } from './hooks.ts';

export class EdgeConnection implements EdgeConnectionInfo {
  activeStreams = 0;
  draining = false;
  readonly connectedAt = new Date();

  constructor(
    readonly id: string,
    readonly session: ClientHttp2Session,
    readonly tunnelId: string,
    readonly connIndex: number,
    readonly connectorId: string,
    readonly version: string,
    readonly pop: string,
    readonly remoteAddress: string,
  ) {}

  get usable(): boolean {
    return !this.draining && !this.session.closed && !this.session.destroyed;
  }

  toJSON(): Omit<EdgeConnectionInfo, 'connectedAt'> & { connectedAt: string } {
    const { id, tunnelId, connIndex, connectorId, version, pop, remoteAddress, activeStreams, draining } = this;
    return { id, tunnelId, connIndex, connectorId, version, pop, remoteAddress, activeStreams, draining, connectedAt: this.connectedAt.toISOString() };
  }
}

/** Read-only view for plugins (management API, metrics, dashboard). */
export interface ConnectionView {
  forTunnel(tunnelId: string): readonly EdgeConnection[];
  all(): readonly EdgeConnection[];
  /** Closes every connection of a tunnel (e.g. when it is deleted). */
  disconnectTunnel(tunnelId: string): number;
}

export class ConnectionTable implements ConnectionView {
  private readonly byTunnel = new Map<string, EdgeConnection[]>();

  add(connection: EdgeConnection): void {
    const list = this.byTunnel.get(connection.tunnelId);
    if (list) list.push(connection);
    else this.byTunnel.set(connection.tunnelId, [connection]);
  }

  remove(connection: EdgeConnection): boolean {
    const list = this.byTunnel.get(connection.tunnelId);
    const index = list?.indexOf(connection) ?? -1;
    if (!list || index < 0) return false;
    list.splice(index, 1);
    if (list.length === 0) this.byTunnel.delete(connection.tunnelId);
    return true;
  }

  /** The usable connection with the fewest streams in flight. */
  pick(tunnelId: string): EdgeConnection | undefined {
    const list = this.byTunnel.get(tunnelId);
    if (!list) return undefined;
    let best: EdgeConnection | undefined;
    for (const connection of list) {
      if (connection.usable && (!best || connection.activeStreams < best.activeStreams)) best = connection;
    }
    return best;
  }

  forTunnel(tunnelId: string): readonly EdgeConnection[] {
    return this.byTunnel.get(tunnelId) ?? [];
  }

  all(): readonly EdgeConnection[] {
    return [...this.byTunnel.values()].flat();
  }

  disconnectTunnel(tunnelId: string): number {
    const list = [...this.forTunnel(tunnelId)];
    for (const connection of list) dropSession(connection.session);
    return list.length;
  }
}

/**
 * Destroys a tunnel session on the next turn of the event loop. Destroying it synchronously from inside one of
 * its own stream callbacks while other streams are open sends nghttp2 into a busy loop (RST_STREAM on a session
 * already being torn down), so every teardown goes through here.
 */
export function dropSession(session: ClientHttp2Session): void {
  if (session.destroyed) return;
  setImmediate(() => {
    if (!session.destroyed) session.destroy();
  });
}
