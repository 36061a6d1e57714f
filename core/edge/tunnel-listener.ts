// Accepts connectors over TLS 1.3, becomes the HTTP/2 client on each socket and runs the control stream.
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import tls, { type TLSSocket } from 'node:tls';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../kernel/logger.ts';
import {
  CONTROL_PATH,
  PROTOCOL_VERSION,
  ProtocolError,
  SESSION_WINDOW,
  encodeMessage,
  http2SessionOptions,
  parseConnectorMessage,
  readMessages,
  type EdgeMessage,
  type RegisterRequest,
} from '../transport/protocol.ts';
import { ConnectionTable, EdgeConnection, dropSession } from './connections.ts';
import { RegistrationRefused, type EdgeHooks, type TunnelTlsOptions } from './hooks.ts';
import type { TunnelRegistry } from './registry.ts';

/**
 * Bounds on what a hostile peer may make this side of the session keep or tolerate, on top of the wire settings:
 * invalid frames and refused streams before the session is closed, unanswered PINGs of ours, unacknowledged SETTINGS.
 */
const PEER_BOUNDS = { maxSessionInvalidFrames: 100, maxSessionRejectedStreams: 100, maxOutstandingPings: 10, maxSettings: 32 } as const;
export interface TunnelListenerOptions {
  pop: string;
  heartbeatIntervalMs: number;
  heartbeatCount: number;
  /** How long a new socket may take to register before it is dropped. */
  registerTimeoutMs?: number;
}

export class TunnelListener {
  readonly server: tls.Server;
  private readonly sessions = new Set<ClientHttp2Session>();
  /** When each registered connection was last pinged and last answered a ping (ms since the epoch). */
  private readonly heartbeats = new Map<EdgeConnection, { lastAck: number; lastPing: number }>();
  private heartbeatTimer?: NodeJS.Timeout;

  constructor(
    tlsOptions: TunnelTlsOptions,
    private readonly options: TunnelListenerOptions,
    private readonly hooks: EdgeHooks,
    private readonly registry: () => TunnelRegistry,
    private readonly table: ConnectionTable,
    private readonly log: Logger,
  ) {
    this.server = tls.createServer({
      ...tlsOptions,
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.3',
      rejectUnauthorized: tlsOptions.requestCert ?? false,
    });
    this.server.on('secureConnection', (socket) => this.accept(socket));
    this.server.on('tlsClientError', (error, socket) => {
      // A certificate from another CA ends as a plain hang-up; authorizationError says why it was refused.
      this.log.warn({ err: error.message, authorizationError: socket.authorizationError, remote: socket.remoteAddress }, 'connector TLS handshake refused');
    });
  }

  private accept(socket: TLSSocket): void {
    socket.setNoDelay(true);
    const remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    const session = http2.connect('http://connector.burrow.internal', { ...http2SessionOptions, ...PEER_BOUNDS, createConnection: () => socket });
    this.sessions.add(session);
    // One line per failed session, saying why (a flood, a protocol error, a reset), however many errors it raised.
    let failure: string | undefined;
    session.on('error', (error) => {
      failure ??= error.message;
    });
    const timer = setTimeout(() => dropSession(session), this.options.registerTimeoutMs ?? 10_000);
    // One close listener for the session's own bookkeeping: thousands of idle sessions each keep their listeners.
    session.once('close', () => {
      clearTimeout(timer);
      this.sessions.delete(session);
      if (failure !== undefined) this.log.warn({ reason: failure, remote: remoteAddress }, 'tunnel session closed on an error');
    });
    session.once('connect', () => session.setLocalWindowSize(SESSION_WINDOW));
    session.on('goaway', (code) => {
      if (code !== 0) this.log.warn({ code, remote: remoteAddress }, 'connector closed the connection with an error');
    });
    session.on('frameError', (type, code, id) => this.log.warn({ type, code, id }, 'tunnel frame error'));

    const control = session.request({ ':method': 'POST', ':path': CONTROL_PATH }, { endStream: false });
    control.on('error', () => dropSession(session));
    this.runControl(session, control, socket, remoteAddress, timer).catch((error) => {
      // A session error is logged once when the session closes; this is the control stream's own failure.
      if (!session.destroyed && failure === undefined) this.log.debug({ err: (error as Error).message, remote: remoteAddress }, 'control stream ended');
      dropSession(session);
    });
  }

  private async runControl(session: ClientHttp2Session, control: ClientHttp2Stream, socket: TLSSocket, remoteAddress: string, timer: NodeJS.Timeout): Promise<void> {
    let connection: EdgeConnection | undefined;
    const send = (message: EdgeMessage) => control.write(encodeMessage(message));
    let refused = false;
    for await (const message of readMessages(control, parseConnectorMessage)) {
      if (refused) continue;
      if (!connection) {
        if (message.type !== 'register') throw new ProtocolError('first control message must be register');
        clearTimeout(timer);
        try {
          connection = await this.register(session, message, socket, remoteAddress);
        } catch (error) {
          const refusal = error instanceof RegistrationRefused ? error : new RegistrationRefused('registration failed on the edge; see its log', true, 5_000);
          if (!(error instanceof RegistrationRefused)) this.log.error({ err: error }, 'registration failed');
          this.log.warn({ remote: remoteAddress, tunnel: message.tunnelId, reason: refusal.message }, 'registration refused');
          send({ type: 'refused', message: refusal.message, retry: refusal.retry, retryAfterMs: refusal.retryAfterMs });
          control.end();
          // Leaving the loop would reset the control stream and could discard the refusal before the connector
          // reads it (it would then retry at once instead of backing off). The connector hangs up once it has read it.
          refused = true;
          setTimeout(() => dropSession(session), 5_000).unref();
          continue;
        }
        send({ type: 'registered', connectionId: connection.id, pop: this.options.pop, tunnelId: connection.tunnelId });
      } else if (message.type === 'unregister') {
        connection.draining = true;
        this.log.info({ tunnel: connection.tunnelId, connection: connection.id }, 'connector unregistered; draining');
        send({ type: 'unregistered' });
      }
    }
  }

  private async register(session: ClientHttp2Session, request: RegisterRequest, socket: TLSSocket, remoteAddress: string): Promise<EdgeConnection> {
    // Connectors from before the protocol field speak version 1.
    const protocol = request.protocol ?? 1;
    if (protocol !== PROTOCOL_VERSION) {
      throw new RegistrationRefused(`the connector speaks tunnel protocol ${protocol}, this edge speaks ${PROTOCOL_VERSION}; run the same Burrow version on both`, false);
    }
    const registry = this.registry();
    const tunnel = await registry.getTunnel(String(request.tunnelId));
    // One message for "no such tunnel" and "wrong secret": do not confirm which tunnel ids exist. Retrying cannot
    // help (a registry that cannot answer throws instead, and that is retried), so the connector stops.
    if (!tunnel || !(await registry.verifySecret(tunnel.id, String(request.tunnelSecret)))) {
      throw new RegistrationRefused('unknown tunnel or wrong tunnel secret; check the credentials file or tunnel token', false);
    }
    const peerCertificate = socket.getPeerCertificate();
    await this.hooks.beforeRegister.promise({ request, tunnel, peerCertificate: peerCertificate?.raw ? peerCertificate : undefined, remoteAddress });

    const connection = new EdgeConnection(randomUUID(), session, tunnel.id, request.connIndex, String(request.connectorId), String(request.version), this.options.pop, remoteAddress);
    this.table.add(connection);
    this.startHeartbeat(connection);
    let recorded: Promise<void> | undefined;
    session.once('close', () => {
      this.heartbeats.delete(connection);
      if (!this.table.remove(connection)) return;
      // After the write that recorded it, so a quick hang-up cannot leave presence behind.
      void (recorded ?? Promise.resolve()).then(() => this.lost(connection));
    });
    recorded = this.recordPresence(connection);
    await recorded;
    await this.hooks.afterRegister.promise(connection);
    this.log.info({ tunnel: tunnel.name, connection: connection.id, index: request.connIndex, remote: remoteAddress }, 'connector registered');
    return connection;
  }

  /**
   * Presence is best effort: a registry that cannot be written (a shared one that is down) must not keep a
   * connector off this PoP, where its requests still flow.
   */
  private async recordPresence(connection: EdgeConnection): Promise<void> {
    try {
      await this.registry().addPresence(connection.presence());
    } catch (error) {
      this.log.warn({ err: (error as Error).message, connection: connection.id }, 'could not record the connection in the registry');
    }
  }

  private async lost(connection: EdgeConnection): Promise<void> {
    try {
      await this.registry().removePresence(connection.presence());
    } catch (error) {
      this.log.warn({ err: (error as Error).message, connection: connection.id }, 'could not remove the connection from the registry');
    }
    await this.hooks.connectionLost.promise(connection, 'closed').catch((error: unknown) => {
      this.log.error({ err: error, connection: connection.id }, 'a connectionLost hook failed');
    });
  }

  /**
   * Pings each registered connection every heartbeat interval; one that misses `heartbeatCount` intervals is closed.
   * One timer for all of them (ticking at an eighth of the interval, so the pings stay spread over it as the
   * connections registered) instead of a timer and its closures for each of thousands of idle connections.
   */
  private startHeartbeat(connection: EdgeConnection): void {
    const now = Date.now();
    this.heartbeats.set(connection, { lastAck: now, lastPing: now });
    if (this.heartbeatTimer) return;
    const { heartbeatIntervalMs } = this.options;
    this.heartbeatTimer = setInterval(() => this.sweepHeartbeats(), Math.max(10, Math.floor(heartbeatIntervalMs / 8)));
    this.heartbeatTimer.unref();
  }

  private sweepHeartbeats(): void {
    const { heartbeatIntervalMs, heartbeatCount } = this.options;
    const now = Date.now();
    for (const [connection, beat] of this.heartbeats) {
      const { session } = connection;
      if (session.closed || session.destroyed) {
        this.heartbeats.delete(connection);
        continue;
      }
      if (now - beat.lastPing < heartbeatIntervalMs) continue;
      if (now - beat.lastAck > heartbeatIntervalMs * heartbeatCount) {
        this.log.warn({ connection: connection.id }, 'connector missed its heartbeats; closing the connection');
        this.heartbeats.delete(connection);
        dropSession(session);
        continue;
      }
      beat.lastPing = now;
      session.ping((error) => {
        if (!error) beat.lastAck = Date.now();
      });
    }
    if (this.heartbeats.size === 0) {
      clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = undefined;
    }
  }

  closeSessions(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.heartbeats.clear();
    for (const session of this.sessions) dropSession(session);
  }
}

