// PoP-to-PoP links: a TLS 1.3 + HTTP/2 listener that admits only PoPs of the network, one dialed link to every other
// PoP (reconnected with backoff), and the round trip of each link measured with HTTP/2 PING and smoothed.
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import tls, { type TLSSocket } from 'node:tls';
import { Backoff, BurrowError, SESSION_WINDOW, dropSession, http2SessionOptions, splitHostPort, type CertifiedKey, type Logger } from 'burrow';
import { popOfPeer } from '../origin-ca/service.ts';

/** Weight of a new PING sample in a link's smoothed round trip: a lasting change shows within one or two probes. */
const SMOOTHING = 0.5;
/** Raw PING samples a link keeps; the median of them is smoothed (a lasting change shows after 2 probes). */
const SAMPLES = 3;
/** A link whose PING has not come back after this many probe intervals is taken for dead and dialed again. */
const MISSED_PROBES = 3;

/**
 * Bounds on what a hostile peer may make this side of the session keep or tolerate, on top of the wire settings:
 * invalid frames and refused streams before the session is closed, unanswered PINGs of ours, unacknowledged SETTINGS.
 */
const PEER_BOUNDS = { maxSessionInvalidFrames: 100, maxSessionRejectedStreams: 100, maxOutstandingPings: 10, maxSettings: 32 } as const;
export interface PeerLinksOptions {
  readonly self: string;
  /** This PoP's link certificate (server and client auth, `urn:burrow:pop:<self>`). */
  readonly cert: CertifiedKey;
  /** The network CA: the only issuer a peer's certificate may have. */
  readonly caPem: string;
  readonly probeIntervalMs: number;
  readonly log: Logger;
  /** A link came up, went down or its round trip was measured. */
  onChange(): void;
  /** A request another PoP forwarded here. */
  onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, from: string): void;
}

/** The link this PoP dialed to one other PoP. */
class Link {
  session?: ClientHttp2Session;
  /** Smoothed round trip in ms; undefined until the first PING of this session came back. */
  rttMs?: number;
  /** The last raw samples: their median is what the smoothing takes, so one PING delayed by a busy event loop is not a route change. */
  readonly samples: number[] = [];
  pingSentAt?: number;
  retry?: NodeJS.Timeout;
  closed = false;
  readonly backoff = new Backoff({ baseMs: 250, capMs: 10_000 });

  constructor(
    readonly pop: string,
    public address: string,
  ) {}

  get up(): boolean {
    return this.session !== undefined && !this.session.closed && !this.session.destroyed && this.rttMs !== undefined;
  }
}

export class PeerLinks {
  readonly server: http2.Http2SecureServer;
  private readonly links = new Map<string, Link>();
  private readonly accepted = new Set<ServerHttp2Session>();
  private readonly probeTimer: NodeJS.Timeout;

  constructor(private readonly options: PeerLinksOptions) {
    this.server = http2.createSecureServer({
      ...http2SessionOptions,
      ...PEER_BOUNDS,
      key: options.cert.keyPem,
      cert: options.cert.certPem,
      ca: options.caPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      allowHTTP1: false,
    });
    this.server.on('session', (session) => this.admit(session));
    this.server.on('tlsClientError', (error: NodeJS.ErrnoException, socket) => {
      // A certificate from another CA ends as a plain hang-up too; authorizationError tells it from a peer that just left.
      const authorizationError = (socket as TLSSocket).authorizationError;
      const certificate = Boolean(authorizationError) || /certificate/i.test(`${error.code ?? ''} ${error.message}`);
      options.log.warn(
        { err: error.message, authorizationError, remote: socket.remoteAddress },
        certificate ? 'refused a PoP link: its certificate is not from the network CA' : 'refused a PoP link: its TLS handshake failed',
      );
    });
    this.probeTimer = setInterval(() => this.probe(), options.probeIntervalMs);
    this.probeTimer.unref();
  }

  /** Dials the PoPs in `targets` (name -> address): new ones are dialed, moved ones redialed, gone ones dropped when down. */
  sync(targets: ReadonlyMap<string, string>): void {
    for (const [pop, address] of targets) {
      if (pop === this.options.self) continue;
      const link = this.links.get(pop);
      if (!link) {
        const created = new Link(pop, address);
        this.links.set(pop, created);
        this.dial(created);
      } else if (link.address !== address) {
        link.address = address;
        if (link.session) dropSession(link.session);
      }
    }
    // A PoP the registry no longer lists is let go once its link is down too: a live link proves it is there (the
    // registry may have lost its record, e.g. when Redis restarts after the record expired).
    for (const [pop, link] of this.links) {
      if (!targets.has(pop) && !link.up) this.forget(link);
    }
  }

  /** Smoothed round trips of the links that are up, in ms. */
  rtts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const link of this.links.values()) if (link.up) out[link.pop] = round(link.rttMs!);
    return out;
  }

  /** The live session toward `pop`, to open a forwarded request's stream on. */
  session(pop: string): ClientHttp2Session | undefined {
    const link = this.links.get(pop);
    return link?.up ? link.session : undefined;
  }

  /** The PoPs currently dialed, with where. */
  dialed(): Array<{ pop: string; address: string; up: boolean; rttMs?: number }> {
    return [...this.links.values()].map((link) => ({ pop: link.pop, address: link.address, up: link.up, rttMs: link.rttMs }));
  }

  close(): void {
    clearInterval(this.probeTimer);
    for (const link of this.links.values()) this.forget(link);
    for (const session of this.accepted) dropSession(session as unknown as ClientHttp2Session);
  }

  /** An incoming link: only a certificate naming a PoP (not a connector's zone certificate) may carry requests. */
  private admit(session: ServerHttp2Session): void {
    const socket = session.socket as TLSSocket;
    const from = popOfPeer(socket.getPeerCertificate?.()?.subjectaltname);
    if (!from || from === this.options.self) {
      this.options.log.warn({ remote: socket.remoteAddress, claimed: from }, 'refused a PoP link: the certificate does not name another PoP of this network');
      session.destroy();
      return;
    }
    this.accepted.add(session);
    session.setLocalWindowSize(SESSION_WINDOW);
    // One line per failed link, saying why (a flood, a protocol error), however many errors it raised.
    let failure: string | undefined;
    // Read now: the session's socket proxy throws once the socket is unbound, as it is by 'close'.
    const remote = socket.remoteAddress;
    session.on('error', (error) => {
      failure ??= error.message;
    });
    session.on('stream', (stream, headers) => this.options.onStream(stream, headers, from));
    session.once('close', () => {
      this.accepted.delete(session);
      if (failure !== undefined) this.options.log.warn({ reason: failure, from, remote }, 'incoming PoP link closed on an error');
    });
  }

  private dial(link: Link): void {
    if (link.closed) return;
    const { host, port } = splitHostPort(link.address);
    const { cert, caPem } = this.options;
    const session = http2.connect(`https://${link.address}`, {
      ...http2SessionOptions,
      ...PEER_BOUNDS,
      createConnection: () =>
        tls.connect({
          host,
          port,
          key: cert.keyPem,
          cert: cert.certPem,
          ca: caPem,
          minVersion: 'TLSv1.3',
          ALPNProtocols: ['h2'],
          // The name that matters is the PoP the certificate is for, not a DNS name.
          checkServerIdentity: (_host, peer) =>
            popOfPeer(peer.subjectaltname) === link.pop ? undefined : new BurrowError('BURROW_ERR_POP_LINK', `the PoP at ${link.address} is not ${link.pop} (its certificate names ${popOfPeer(peer.subjectaltname) ?? 'no PoP'})`),
        }),
    });
    link.session = session;
    link.rttMs = undefined;
    link.samples.length = 0;
    link.pingSentAt = undefined;
    session.on('error', (error) => this.options.log.debug({ err: error.message, to: link.pop, address: link.address }, 'PoP link failed'));
    session.once('connect', () => {
      session.setLocalWindowSize(SESSION_WINDOW);
      this.ping(link, session);
    });
    session.once('close', () => {
      const wasUp = link.rttMs !== undefined;
      if (link.session === session) {
        link.session = undefined;
        link.rttMs = undefined;
      }
      if (wasUp && !link.closed) {
        this.options.log.warn({ to: link.pop, address: link.address }, 'PoP link lost');
        this.options.onChange();
      }
      if (link.closed) return;
      const wait = link.backoff.next();
      link.retry = setTimeout(() => this.dial(link), wait);
      link.retry.unref();
    });
  }

  private probe(): void {
    const now = Date.now();
    for (const link of this.links.values()) {
      const session = link.session;
      if (!session || session.destroyed) continue;
      if (link.pingSentAt !== undefined) {
        if (now - link.pingSentAt > MISSED_PROBES * this.options.probeIntervalMs) {
          this.options.log.warn({ to: link.pop }, 'PoP link stopped answering PINGs');
          dropSession(session);
        }
        continue;
      }
      this.ping(link, session);
    }
  }

  private ping(link: Link, session: ClientHttp2Session): void {
    link.pingSentAt = Date.now();
    const sent = session.ping((error, duration) => {
      if (link.session !== session) return;
      link.pingSentAt = undefined;
      if (error) return;
      const first = link.rttMs === undefined;
      link.samples.push(duration);
      if (link.samples.length > SAMPLES) link.samples.shift();
      const sample = median(link.samples);
      link.rttMs = first ? duration : link.rttMs! + SMOOTHING * (sample - link.rttMs!);
      if (first) {
        link.backoff.reset();
        this.options.log.info({ to: link.pop, address: link.address, rttMs: round(duration) }, 'PoP link up');
      }
      this.options.onChange();
    });
    if (!sent) link.pingSentAt = undefined;
  }

  private forget(link: Link): void {
    link.closed = true;
    clearTimeout(link.retry);
    if (link.session) dropSession(link.session);
    this.links.delete(link.pop);
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
