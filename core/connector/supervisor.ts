// Keeps `ha-connections` connections registered, spread over the nearest edges, reconnecting with backoff.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { burrowHome } from '../kernel/config.ts';
import { BurrowError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/logger.ts';
import { Backoff } from '../transport/backoff.ts';
import type { ConnectorHooks, EdgeAddress } from './hooks.ts';
import { EDGE_CLOSED_AFTER_HANDSHAKE, RegistrationError, type TunnelConnection } from './tunnel-connection.ts';

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
/** An address that failed is passed over this long (a dead PoP leaves SRV answers within about as long). */
const FAILED_COOLDOWN_MS = 15_000;
/** After a failure, when another address is there to try, the next try comes this soon. */
const ROTATE_WAIT_MS = 250;
/** A TLS refusal that cannot go away is fatal once every known address gave it, this many times in a row in all. */
const TLS_REFUSALS_BEFORE_FATAL = 3;

/** Emits `ready` on the first registration and `fatal` (Error) when no slot can ever connect again. */
export class ConnectionSupervisor extends EventEmitter {
  private readonly live = new Map<number, TunnelConnection>();
  private readonly wakers = new Set<() => void>();
  private stopping = false;
  private deadSlots = 0;
  private edges: EdgeAddress[] = [];
  /** The PoP (or address) each slot is connected or connecting to. */
  private readonly assigned = new Map<number, string>();
  /** Addresses that failed, by `host:port`, until when they are passed over. */
  private readonly failedUntil = new Map<string, number>();
  /** Addresses whose last attempts ended in the same TLS refusal, by `host:port`: which one and how often in a row. */
  private readonly tlsRefusals = new Map<string, { kind: TlsRefusal; count: number; detail: string }>();
  private failed = false;

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
    while (!this.stopping && !this.failed) {
      let wait: number;
      let edge: EdgeAddress | undefined;
      try {
        if (this.edges.length === 0 || backoff.attempts > 0) this.edges = await this.options.resolveEdges();
        if (this.edges.length === 0) {
          throw new BurrowError('BURROW_ERR_NO_EDGES', 'no edge addresses found; pass --edge HOST:PORT, log in again so cert.pem names the edge, or enable an edge-discovery plugin (discovery-static is the default)');
        }
        edge = this.pick(index);
        const connection = this.options.createConnection(edge, index);
        const closed = new Promise<string>((resolve) => connection.once('closed', resolve));
        const registered = await connection.connect();
        if (this.stopping) {
          connection.close();
          return;
        }
        this.live.set(index, connection);
        this.tlsRefusals.delete(addressOf(edge));
        backoff.reset();
        const info = { index, connectionId: registered.connectionId, pop: registered.pop, edge };
        log.info({ index, pop: registered.pop, connection: registered.connectionId, edge: `${edge.host}:${edge.port}` }, 'connection registered');
        hooks.afterConnect.call(info);
        this.emit('ready', info);
        const reason = await closed;
        this.live.delete(index);
        this.assigned.delete(index);
        hooks.connectionLost.call(info, reason);
        if (this.stopping) return;
        log.warn({ index, reason }, 'connection lost; reconnecting');
        wait = backoff.next();
      } catch (error) {
        this.assigned.delete(index);
        if (this.stopping || this.failed) return;
        if (edge) {
          this.failedUntil.set(addressOf(edge), Date.now() + FAILED_COOLDOWN_MS);
          const fatal = this.noteTlsOutcome(edge, error);
          if (fatal) {
            this.failed = true;
            log.error({ index, err: fatal.message }, 'every edge refuses the TLS handshake the same way; the connector stops instead of retrying');
            for (const wake of [...this.wakers]) wake();
            this.emit('fatal', fatal);
            return;
          }
        }
        if (error instanceof RegistrationError && !error.retry) {
          log.error({ index, reason: error.message }, 'registration refused for good; this connection will not retry');
          if (++this.deadSlots === this.options.haConnections) this.emit('fatal', error);
          return;
        }
        wait = error instanceof RegistrationError && error.retryAfterMs ? Math.max(error.retryAfterMs, backoff.next()) : backoff.next();
        if (this.options.retries > 0 && backoff.attempts > this.options.retries) {
          this.emit('fatal', new BurrowError('BURROW_ERR_EDGE_UNREACHABLE', `gave up after ${this.options.retries} retries: ${(error as Error).message}`, { cause: error }));
          return;
        }
        // Rotate: another address is there to try, so try it soon rather than waiting out the backoff.
        if (edge && this.healthy().some((other) => addressOf(other) !== addressOf(edge!))) wait = Math.min(wait, ROTATE_WAIT_MS);
        log.warn({ index, edge: edge ? addressOf(edge) : undefined, err: (error as Error).message, retryInMs: wait }, 'could not connect to the edge');
      }
      await this.sleep(wait);
    }
  }

  /**
   * Counts a TLS refusal that retrying cannot cure (any other outcome clears the address's count) and returns the
   * error to stop with once every known address refused the same way: a single edge mid-rotation is just skipped.
   */
  private noteTlsOutcome(edge: EdgeAddress, error: unknown): BurrowError | undefined {
    const kind = tlsRefusalOf(error);
    if (!kind) {
      this.tlsRefusals.delete(addressOf(edge));
      return undefined;
    }
    const previous = this.tlsRefusals.get(addressOf(edge));
    const detail = describeError(error);
    this.tlsRefusals.set(addressOf(edge), { kind, count: previous?.kind === kind ? previous.count + 1 : 1, detail });
    const all = this.edges.map((known) => this.tlsRefusals.get(addressOf(known)));
    if (all.length === 0 || !all.every((refusal) => refusal?.kind === kind)) return undefined;
    const times = all.reduce((sum, refusal) => sum + refusal!.count, 0);
    if (times < TLS_REFUSALS_BEFORE_FATAL) return undefined;
    return tlsRefusalError(kind, this.edges.map(addressOf), detail, times);
  }

  /** The edges not passed over for a recent failure (all of them when every one failed). */
  private healthy(): EdgeAddress[] {
    const now = Date.now();
    const healthy = this.edges.filter((edge) => (this.failedUntil.get(addressOf(edge)) ?? 0) <= now);
    return healthy.length ? healthy : this.edges;
  }

  /**
   * Where slot `index` connects: among the 2 nearest healthy PoPs, one that holds fewer than its share of the
   * connections (2 + 2 for 4), else the least loaded of them. A PoP that failed is skipped for a while, so its
   * connections move to the next nearest; once it answers again it is taken at the next reconnect.
   */
  private pick(index: number): EdgeAddress {
    const byPop = new Map<string, EdgeAddress>();
    for (const edge of this.healthy()) if (!byPop.has(popOf(edge))) byPop.set(popOf(edge), edge);
    const nearest = [...byPop.values()].slice(0, SPREAD_POPS);
    const load = (edge: EdgeAddress) => [...this.assigned.values()].filter((pop) => pop === popOf(edge)).length;
    const share = Math.ceil(this.options.haConnections / SPREAD_POPS);
    const edge = nearest.find((candidate) => load(candidate) < share) ?? nearest.reduce((best, candidate) => (load(candidate) < load(best) ? candidate : best));
    this.assigned.set(index, popOf(edge));
    return edge;
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

function addressOf(edge: EdgeAddress): string {
  return `${edge.host}:${edge.port}`;
}

/** Connections are spread by PoP; an address whose PoP is unknown counts as one of its own. */
function popOf(edge: EdgeAddress): string {
  return edge.pop ?? addressOf(edge);
}

/**
 * TLS failures that retrying cannot cure: the edge refuses this connector's client certificate (another CA's: an alert,
 * or, from Node's edge, a close right after the handshake before any HTTP/2 frame), or the connector cannot verify the
 * edge's certificate against the CA it was given. A reset or a close at any other moment is an ordinary failure (an
 * edge restarting, a load balancer with no edge behind it) and is retried.
 */
type TlsRefusal = 'client-certificate' | 'edge-certificate';

const CLIENT_CERTIFICATE_REFUSED = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
  EDGE_CLOSED_AFTER_HANDSHAKE,
]);
/** Expiry is left out: an edge renews its certificate, and a wrong clock gets fixed, while the connector waits. */
const EDGE_CERTIFICATE_UNVERIFIED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function tlsRefusalOf(error: unknown): TlsRefusal | undefined {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 4; cause = cause.cause, depth++) {
    const code = (cause as NodeJS.ErrnoException).code ?? '';
    if (EDGE_CERTIFICATE_UNVERIFIED.has(code)) return 'edge-certificate';
    if (CLIENT_CERTIFICATE_REFUSED.has(code)) return 'client-certificate';
  }
  return undefined;
}

function describeError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

function tlsRefusalError(kind: TlsRefusal, edges: string[], detail: string, times: number): BurrowError {
  const where = `${edges.length === 1 ? 'the edge' : `every edge (${edges.length})`} at ${edges.join(', ')}`;
  const certFile = `cert.pem (${path.join(burrowHome(), 'cert.pem')} unless \`origincert:\` names another)`;
  if (kind === 'client-certificate') {
    const hint = `run \`burrow login\` against this edge again and run the tunnel with the new ${certFile} (or, for a tunnel token, make a new token with \`burrow tunnel token NAME\`); the edge logs why it refused ("connector TLS handshake refused")`;
    return new BurrowError(
      'BURROW_ERR_REGISTRATION_REFUSED',
      `${where} refused this connector's client certificate in the TLS handshake, ${times} times in a row (${detail}): the certificate is not signed by the edge's CA (it was issued by another edge, or the edge's CA was replaced). Fix: ${hint}.`,
      { hint },
    );
  }
  const hint = `check that ${certFile} came from \`burrow login\` at this edge (log in again to get its current CA), and that --edge or \`edge:\` names this edge's tunnel listener`;
  return new BurrowError(
    'BURROW_ERR_EDGE_CERT',
    `the connector cannot verify the certificate of ${where}, ${times} times in a row (${detail}): the CA in cert.pem or the tunnel token is not the one that signed it. Fix: ${hint}.`,
    { hint },
  );
}
