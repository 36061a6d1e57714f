// Live connector connections on this PoP, the least-loaded pick for each new stream, and presence across PoPs.
import type { ClientHttp2Session, ClientHttp2Stream, ClientSessionRequestOptions, OutgoingHttpHeaders } from 'node:http2';
import type { PresenceRecord, TunnelRegistry } from './registry.ts';

/** One live connector connection as the edge sees it. */
export interface EdgeConnectionInfo {
  readonly id: string;
  readonly tunnelId: string;
  readonly connIndex: number;
  readonly connectorId: string;
  readonly version: string;
  readonly pop: string;
  readonly remoteAddress: string;
  readonly connectedAt: Date;
  readonly activeStreams: number;
  readonly draining: boolean;
}

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

  /** This connection as the registry records it. */
  presence(): PresenceRecord {
    const { id: connectionId, tunnelId, connIndex, connectorId, version, pop, remoteAddress } = this;
    return { connectionId, tunnelId, connIndex, connectorId, version, pop, remoteAddress, connectedAt: this.connectedAt.toISOString() };
  }

  toJSON(): Omit<EdgeConnectionInfo, 'connectedAt'> & { connectedAt: string } {
    const { id, tunnelId, connIndex, connectorId, version, pop, remoteAddress, activeStreams, draining } = this;
    return { id, tunnelId, connIndex, connectorId, version, pop, remoteAddress, activeStreams, draining, connectedAt: this.connectedAt.toISOString() };
  }
}

/** A stream opened to a tunnel, and the connection it runs on. */
export interface TunnelStream {
  readonly stream: ClientHttp2Stream;
  readonly connection: EdgeConnection;
}

/** What plugins see of the connections (management API, metrics, quick tunnels, PoP-to-PoP forwarding). */
export interface ConnectionView {
  /** The connections of a tunnel registered on this PoP. */
  forTunnel(tunnelId: string): readonly EdgeConnection[];
  all(): readonly EdgeConnection[];
  /** The connections of a tunnel at every PoP that shares the registry (this PoP's included). */
  everywhere(tunnelId: string): Promise<PresenceRecord[]>;
  /**
   * Opens one HTTP/2 stream to the tunnel on its least-loaded connection here (request headers with
   * `:method`, `:path`, `:authority`, `:scheme`), not on the session `avoid`; undefined when no connection here is usable.
   */
  openStream(tunnelId: string, headers: OutgoingHttpHeaders, options?: ClientSessionRequestOptions, avoid?: ClientHttp2Session): TunnelStream | undefined;
  /** Closes every connection of a tunnel on this PoP (e.g. when it is deleted). */
  disconnectTunnel(tunnelId: string): number;
}

export class ConnectionTable implements ConnectionView {
  private readonly byTunnel = new Map<string, EdgeConnection[]>();

  /** `registry` answers `everywhere()`; without one (the test kit) only this PoP's connections are known. */
  constructor(private readonly registry?: () => TunnelRegistry) {}

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

  /** The usable connection with the fewest streams in flight (other than on `avoid`). */
  pick(tunnelId: string, avoid?: ClientHttp2Session): EdgeConnection | undefined {
    const list = this.byTunnel.get(tunnelId);
    if (!list) return undefined;
    let best: EdgeConnection | undefined;
    for (const connection of list) {
      if (connection.usable && connection.session !== avoid && (!best || connection.activeStreams < best.activeStreams)) best = connection;
    }
    return best;
  }

  openStream(tunnelId: string, headers: OutgoingHttpHeaders, options?: ClientSessionRequestOptions, avoid?: ClientHttp2Session): TunnelStream | undefined {
    const connection = this.pick(tunnelId, avoid);
    if (!connection) return undefined;
    const stream = connection.session.request(headers, options);
    connection.activeStreams++;
    stream.once('close', () => connection.activeStreams--);
    return { stream, connection };
  }

  forTunnel(tunnelId: string): readonly EdgeConnection[] {
    return this.byTunnel.get(tunnelId) ?? [];
  }

  all(): readonly EdgeConnection[] {
    return [...this.byTunnel.values()].flat();
  }

  async everywhere(tunnelId: string): Promise<PresenceRecord[]> {
    const local = this.forTunnel(tunnelId).map((connection) => connection.presence());
    if (!this.registry) return local;
    const known = await this.registry().listPresence(tunnelId);
    // This PoP's own connections are always current here, whatever the registry's view.
    const ids = new Set(local.map((record) => record.connectionId));
    return [...local, ...known.filter((record) => !ids.has(record.connectionId))];
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
