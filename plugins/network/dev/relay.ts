// A user-space WAN emulator for one PoP-to-PoP link: a TCP relay that holds each byte back by a one-way delay per direction.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { formatHostPort, splitHostPort } from 'burrow';

/** Bytes a direction may hold before the relay stops reading its source (the emulated link's buffer). */
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;

export interface DelayRelayOptions {
  /** `host:port` to forward to; may be given later with setTarget (connections made before then wait for it). */
  target?: string;
  /** One-way delay, client -> target, in milliseconds. */
  forwardMs?: number;
  /** One-way delay, target -> client, in milliseconds. */
  backwardMs?: number;
  /** Per direction of a connection; reading its source pauses above this and resumes once it drains below. */
  maxQueuedBytes?: number;
  /** Where to listen; default 127.0.0.1:0 (any free port). */
  listen?: string;
}

export interface RelayStats {
  /** Connections open now. */
  connections: number;
  /** Bytes held now, summed over connections, per direction. */
  queuedForward: number;
  queuedBackward: number;
  /** The most bytes one direction of one connection held at any time. */
  peakQueued: number;
}

interface Chunk {
  readonly data: Buffer;
  /** performance.now() at which the chunk may leave. */
  readonly due: number;
}

/** One direction of one relayed connection: a FIFO of chunks released at their due time, with one timer. */
class DelayedPipe {
  private readonly queue: Chunk[] = [];
  private head = 0;
  private timer?: { cancel(): void };
  private sink?: net.Socket;
  private sinkBlocked = false;
  private sourceEnded = false;
  private sinkEnded = false;
  private lastDue = 0;
  queued = 0;
  peak = 0;

  constructor(
    private readonly source: net.Socket,
    private readonly delayMs: () => number,
    private readonly maxQueued: number,
    private readonly onPeak: (bytes: number) => void,
  ) {
    source.on('data', (data: Buffer) => this.push(data));
    source.on('end', () => {
      this.sourceEnded = true;
      this.flush();
    });
  }

  /** Where the bytes go; until it is set (the target is not connected yet) they wait in the queue. */
  attach(sink: net.Socket): void {
    this.sink = sink;
    sink.on('drain', () => {
      this.sinkBlocked = false;
      this.flush();
    });
    this.flush();
  }

  dispose(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.queue.length = 0;
    this.head = 0;
    this.queued = 0;
  }

  private push(data: Buffer): void {
    // A later chunk never overtakes an earlier one, even right after the delay was lowered.
    const due = Math.max(performance.now() + this.delayMs(), this.lastDue);
    this.lastDue = due;
    this.queue.push({ data, due });
    this.queued += data.length;
    if (this.queued > this.peak) {
      this.peak = this.queued;
      this.onPeak(this.peak);
    }
    if (this.queued > this.maxQueued) this.source.pause();
    this.flush();
  }

  /** Writes every chunk that is due (while the sink takes them), then arms the timer for the next one. */
  private flush(): void {
    const sink = this.sink;
    if (!sink || sink.destroyed) return;
    const now = performance.now();
    while (this.head < this.queue.length && !this.sinkBlocked) {
      const chunk = this.queue[this.head]!;
      if (chunk.due > now) break;
      this.head++;
      this.queued -= chunk.data.length;
      if (!sink.write(chunk.data)) this.sinkBlocked = true;
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.source.isPaused() && this.queued <= this.maxQueued && !this.source.destroyed) this.source.resume();
    const next = this.queue[this.head];
    if (next) {
      if (!this.timer && !this.sinkBlocked) {
        // Timers count whole milliseconds: wait the whole ones, then the last fraction on the check phase, so a
        // chunk leaves neither early nor a millisecond late. flush() checks the due time again each time.
        const wait = Math.floor(next.due - now);
        const wake = () => {
          this.timer = undefined;
          this.flush();
        };
        if (wait >= 1) {
          const timeout = setTimeout(wake, wait);
          this.timer = { cancel: () => clearTimeout(timeout) };
        } else {
          const immediate = setImmediate(wake);
          this.timer = { cancel: () => clearImmediate(immediate) };
        }
      }
    } else if (this.sourceEnded && !this.sinkEnded) {
      // Half-close travels like a byte: after everything sent before it.
      this.sinkEnded = true;
      sink.end();
    }
  }
}

/** One accepted connection: the client side, the target side once connected, and a pipe each way. */
class RelayedConnection {
  target?: net.Socket;
  readonly forward: DelayedPipe;
  backward?: DelayedPipe;
  private closed = false;

  constructor(
    readonly client: net.Socket,
    private readonly relay: DelayRelay,
    private readonly onGone: (connection: RelayedConnection) => void,
  ) {
    client.setNoDelay(true);
    this.forward = new DelayedPipe(client, () => relay.delay.forwardMs, relay.maxQueuedBytes, (bytes) => relay.notePeak(bytes));
    this.watch(client);
  }

  connect(address: string): void {
    if (this.closed || this.target) return;
    const { host, port } = splitHostPort(address);
    const target = net.connect({ host, port, allowHalfOpen: true });
    this.target = target;
    target.setNoDelay(true);
    this.watch(target);
    target.once('connect', () => {
      this.backward = new DelayedPipe(target, () => this.relay.delay.backwardMs, this.relay.maxQueuedBytes, (bytes) => this.relay.notePeak(bytes));
      this.backward.attach(this.client);
      this.forward.attach(target);
    });
  }

  /** Drops both sides with a reset, as a link that fails does, so neither peer takes it for a clean end. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.forward.dispose();
    this.backward?.dispose();
    for (const socket of [this.client, this.target]) if (socket && !socket.destroyed) socket.resetAndDestroy();
    this.onGone(this);
  }

  /** An error or an abrupt close on either side takes down both; a clean close (both halves ended) only retires it. */
  private watch(socket: net.Socket): void {
    socket.on('error', () => this.destroy());
    socket.on('close', () => {
      const clean = socket.readableEnded && socket.writableFinished;
      const other = socket === this.client ? this.target : this.client;
      if (!clean) this.destroy();
      else if (!other || other.destroyed) this.destroy();
    });
  }
}

/**
 * Listens on loopback and relays each connection to the target, delaying every byte by the one-way delay
 * of its direction: an emulated WAN link for one direction of a PoP pair (A dials B through relay A->B).
 */
export class DelayRelay {
  readonly maxQueuedBytes: number;
  private current: { forwardMs: number; backwardMs: number };
  private targetAddress?: string;
  private readonly connections = new Set<RelayedConnection>();
  private peak = 0;
  private closing?: Promise<void>;

  private constructor(
    private readonly server: net.Server,
    readonly address: string,
    options: DelayRelayOptions,
  ) {
    this.maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.current = { forwardMs: checkDelay(options.forwardMs ?? 0, 'forwardMs'), backwardMs: checkDelay(options.backwardMs ?? 0, 'backwardMs') };
    this.targetAddress = options.target;
    server.on('connection', (client) => this.accept(client));
  }

  /** Starts listening (default 127.0.0.1:0); `address` is where to dial. */
  static async start(options: DelayRelayOptions = {}): Promise<DelayRelay> {
    // Checked before listening, so a bad option leaves no listener behind.
    checkDelay(options.forwardMs ?? 0, 'forwardMs');
    checkDelay(options.backwardMs ?? 0, 'backwardMs');
    if (options.target !== undefined) hostPort(options.target, 'target');
    const { host, port } = hostPort(options.listen ?? '127.0.0.1:0', 'listen', true);
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address() as net.AddressInfo;
    return new DelayRelay(server, formatHostPort(bound.address, bound.port), options);
  }

  get target(): string | undefined {
    return this.targetAddress;
  }

  get delay(): { readonly forwardMs: number; readonly backwardMs: number } {
    return this.current;
  }

  /** Sets where new connections go; the ones waiting for a target connect now, those already relayed stay. */
  setTarget(target: string): void {
    hostPort(target, 'target');
    this.targetAddress = target;
    for (const connection of this.connections) connection.connect(target);
  }

  /** New delays apply to bytes that arrive from now on; bytes already held keep their due time. */
  setDelay(delay: { forwardMs?: number; backwardMs?: number }): void {
    this.current = {
      forwardMs: delay.forwardMs === undefined ? this.current.forwardMs : checkDelay(delay.forwardMs, 'forwardMs'),
      backwardMs: delay.backwardMs === undefined ? this.current.backwardMs : checkDelay(delay.backwardMs, 'backwardMs'),
    };
  }

  stats(): RelayStats {
    let queuedForward = 0;
    let queuedBackward = 0;
    for (const connection of this.connections) {
      queuedForward += connection.forward.queued;
      queuedBackward += connection.backward?.queued ?? 0;
    }
    return { connections: this.connections.size, queuedForward, queuedBackward, peakQueued: this.peak };
  }

  /** @internal */
  notePeak(bytes: number): void {
    if (bytes > this.peak) this.peak = bytes;
  }

  /** Drops every connection now (a link failure) but keeps listening, so the PoP that dialed through it can dial again. */
  cut(): number {
    const dropped = [...this.connections];
    for (const connection of dropped) connection.destroy();
    return dropped.length;
  }

  /** Stops listening and drops every connection (both sides are destroyed, held bytes are discarded). */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const connection of [...this.connections]) connection.destroy();
    });
    return this.closing;
  }

  private accept(client: net.Socket): void {
    if (this.closing) {
      client.destroy();
      return;
    }
    const connection = new RelayedConnection(client, this, (gone) => this.connections.delete(gone));
    this.connections.add(connection);
    if (this.targetAddress !== undefined) connection.connect(this.targetAddress);
  }
}

function hostPort(address: string, name: string, anyPort = false): { host: string; port: number } {
  const { host, port } = splitHostPort(address);
  if (!host || !Number.isInteger(port) || port < (anyPort ? 0 : 1) || port > 65535) {
    throw new RangeError(`${name} must be host:port, like 127.0.0.1:7846, not ${JSON.stringify(address)}`);
  }
  return { host, port };
}

function checkDelay(ms: number, name: string): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${name} must be a number of milliseconds >= 0, not ${ms}`);
  return ms;
}
