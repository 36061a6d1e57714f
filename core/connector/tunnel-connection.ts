// One connection to an edge: dial TLS 1.3, serve HTTP/2 on the dialed socket, register over the control stream.
import http2, { type Http2ServerRequest, type Http2ServerResponse, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import tls from 'node:tls';
import { EventEmitter, once } from 'node:events';
import { BurrowError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';
import {
  CONTROL_PATH,
  EDGE_SERVER_NAME,
  PROTOCOL_VERSION,
  ProtocolError,
  SESSION_WINDOW,
  encodeMessage,
  http2SessionOptions,
  parseEdgeMessage,
  readMessages,
  type EdgeMessage,
  type RegisterRequest,
} from '../transport/protocol.ts';
import type { EdgeAddress, TunnelCredentials } from './hooks.ts';

/**
 * Bounds on what a hostile peer may make this side of the session keep or tolerate, on top of the wire settings:
 * invalid frames and refused streams before the session is closed, unanswered PINGs of ours, unacknowledged SETTINGS.
 */
const PEER_BOUNDS = { maxSessionInvalidFrames: 100, maxSessionRejectedStreams: 100, maxOutstandingPings: 10, maxSettings: 32 } as const;
/** Takes each request stream the edge opens, as Node's `stream` event gives it (no compat request and response built). */
export type RequestHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]) => void;

export interface TunnelConnectionOptions {
  index: number;
  connectorId: string;
  version: string;
  heartbeatIntervalMs: number;
  heartbeatCount: number;
  connectTimeoutMs?: number;
}

/** The edge said no; `retry` says whether trying again can help. It carries the code of the edge's RegistrationRefused, so both sides name a refusal alike. */
export class RegistrationError extends BurrowError {
  constructor(
    message: string,
    readonly retry: boolean,
    readonly retryAfterMs?: number,
  ) {
    super('BURROW_ERR_REGISTRATION_REFUSED', message);
  }
}

export interface Registered {
  connectionId: string;
  pop: string;
}

/** Emits `closed` (reason) once, whatever ends the connection. */
export class TunnelConnection extends EventEmitter {
  private session?: ServerHttp2Session;
  private control?: Http2ServerResponse;
  private controlMessages?: AsyncGenerator<EdgeMessage>;
  private activeStreams = 0;
  private closed = false;
  registered?: Registered;

  constructor(
    readonly edge: EdgeAddress,
    private readonly credentials: TunnelCredentials,
    private readonly options: TunnelConnectionOptions,
    private readonly handler: RequestHandler,
    private readonly log: Logger,
  ) {
    super();
  }

  get inFlight(): number {
    return this.activeStreams;
  }

  async connect(): Promise<Registered> {
    const { tls: material } = this.credentials;
    const socket = tls.connect({
      host: this.edge.host,
      port: this.edge.port,
      servername: EDGE_SERVER_NAME,
      ca: material.caPem,
      cert: material.certPem,
      key: material.keyPem,
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.3',
    });
    socket.setNoDelay(true);
    const timeout = setTimeout(() => socket.destroy(new Error(`timed out connecting to ${this.edge.host}:${this.edge.port}`)), this.options.connectTimeoutMs ?? 10_000);
    try {
      await once(socket, 'secureConnect');
    } finally {
      clearTimeout(timeout);
    }

    const server = http2.createServer({ ...http2SessionOptions, ...PEER_BOUNDS });
    // An edge that accepts the connection speaks first (its HTTP/2 preface and SETTINGS). One that closes right after
    // the TLS handshake without a word refuses the client certificate: Node's TLS server hangs up without an alert.
    let edgeSpoke = false;
    const controlReady = new Promise<{ req: Http2ServerRequest; res: Http2ServerResponse }>((resolve, reject) => {
      server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
        if (headers[':path'] === CONTROL_PATH && !this.control) {
          resolve({ req: new http2.Http2ServerRequest(stream, headers, undefined as never, rawHeaders), res: new http2.Http2ServerResponse(stream) });
          return;
        }
        this.activeStreams++;
        stream.once('close', () => this.activeStreams--);
        this.handler(stream, headers, rawHeaders);
      });
      socket.once('close', () => reject(edgeSpoke ? new Error('the edge closed the connection before registration') : hungUpAfterHandshake()));
    });
    server.on('sessionError', (error) => this.log.warn({ err: error }, 'tunnel session failed'));
    server.on('session', (session: ServerHttp2Session) => {
      this.session = session;
      session.setLocalWindowSize(SESSION_WINDOW);
      session.once('remoteSettings', () => (edgeSpoke = true));
      session.on('error', (error) => this.log.debug({ err: error.message }, 'tunnel session error'));
      session.on('goaway', (code) => {
        if (code !== 0) this.log.warn({ code }, 'the edge closed the connection with an error');
      });
      session.on('frameError', (type, code, id) => this.log.warn({ type, code, id }, 'tunnel frame error'));
      session.once('close', () => this.finish('connection closed'));
    });
    server.emit('connection', socket);

    const { req, res } = await withTimeout(controlReady, 10_000, 'the edge did not open the control stream');
    this.control = res;
    res.writeHead(200);
    const register: RegisterRequest = {
      type: 'register',
      tunnelId: this.credentials.tunnelId,
      tunnelSecret: this.credentials.tunnelSecret,
      connIndex: this.options.index,
      connectorId: this.options.connectorId,
      version: this.options.version,
      protocol: PROTOCOL_VERSION,
    };
    res.write(encodeMessage(register));
    this.controlMessages = readMessages(req, parseEdgeMessage);
    // A reply that is no control message, or none in time, ends this connection as a refusal does.
    const answer = await withTimeout(this.controlMessages.next(), 10_000, 'the edge did not answer the registration').catch((error: unknown) => {
      this.close();
      throw error;
    });
    const message = answer.value;
    if (!message || message.type === 'refused') {
      this.close();
      throw new RegistrationError(message?.message ?? 'the edge closed the control stream', message?.retry ?? true, message?.retryAfterMs);
    }
    if (message.type !== 'registered') {
      this.close();
      throw new ProtocolError(`the edge answered the registration with a "${message.type}" control message`);
    }
    this.registered = { connectionId: message.connectionId, pop: message.pop };
    this.startHeartbeat();
    return this.registered;
  }

  /** Tells the edge to send no new requests here; resolves when it acknowledged (or after 2 s). */
  async unregister(): Promise<void> {
    if (!this.control || !this.controlMessages || this.closed || this.session?.destroyed) return;
    this.control.write(encodeMessage({ type: 'unregister' }));
    await withTimeout(
      (async () => {
        for await (const message of this.controlMessages!) if (message.type === 'unregistered') return;
      })(),
      2_000,
      'unregister not acknowledged',
    ).catch(() => undefined);
  }

  /** Waits for requests in flight to finish, at most `graceMs`, then closes. */
  async drain(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.activeStreams > 0 && Date.now() < deadline && !this.closed) await delay(50);
    this.close();
  }

  close(): void {
    this.session?.destroy();
    this.finish('closed by connector');
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('closed', reason);
  }

  private startHeartbeat(): void {
    const { heartbeatIntervalMs, heartbeatCount } = this.options;
    let lastAck = Date.now();
    const timer = setInterval(() => {
      const session = this.session;
      if (!session || session.closed || session.destroyed) return clearInterval(timer);
      if (Date.now() - lastAck > heartbeatIntervalMs * heartbeatCount) {
        this.log.warn({ edge: this.edge, index: this.options.index }, 'edge missed its heartbeats; reconnecting');
        clearInterval(timer);
        session.destroy();
        return;
      }
      session.ping((error) => {
        if (!error) lastAck = Date.now();
      });
    }, heartbeatIntervalMs);
    timer.unref();
  }
}

/** `code` of the error for an edge that closed the connection right after the TLS handshake, before any HTTP/2 frame. */
export const EDGE_CLOSED_AFTER_HANDSHAKE = 'EDGE_CLOSED_AFTER_HANDSHAKE';

function hungUpAfterHandshake(): Error {
  const message = 'the edge closed the connection right after the TLS handshake, before any HTTP/2 frame (it does not accept this client certificate)';
  return Object.assign(new Error(message), { code: EDGE_CLOSED_AFTER_HANDSHAKE });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}

/** A `stream` event listener (session or server) that hands each stream to `handler`. */
export function streamListener(handler: RequestHandler): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void {
  return (stream, headers, _flags, rawHeaders) => handler(stream, headers, rawHeaders);
}
