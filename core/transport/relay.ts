// Copies a body from one stream to another with backpressure measured in bytes held, not in writes refused.
import type { Readable, Writable } from 'node:stream';

/**
 * How much the destination may hold before the source pauses. Far above Node's 16 KiB high-water mark: pausing there
 * stops and restarts the source (a socket: two epoll_ctl calls) once per chunk of a large body.
 */
export const RELAY_BUFFER = 256 * 1024;

/**
 * After a write was refused: pause at RELAY_BUFFER, or at once if the destination holds less than its high-water
 * mark, i.e. what refused the write buffers somewhere `writableLength` does not see (a wrapped `write`).
 */
export function mustPause(destination: { readonly writableLength: number; readonly writableHighWaterMark: number }): boolean {
  const held = destination.writableLength;
  return held >= RELAY_BUFFER || held < destination.writableHighWaterMark;
}

export interface RelayOptions {
  /** End the destination when the source ends (default true). */
  readonly end?: boolean;
  /**
   * Send the chunks of one turn of the event loop in one write (cork, uncork on the check phase): for a destination
   * where each write costs a syscall, fed a few KiB at a time (an HTTP/2 upload to an origin socket).
   */
  readonly coalesce?: boolean;
  /** Adds the bytes written to the destination here. */
  readonly counter?: { bytes: number };
}

/**
 * `source.pipe(destination)`, except that the source pauses only while the destination holds RELAY_BUFFER bytes or
 * more (its `writableLength`; see mustPause), and resumes on its next 'drain'. A destination that closes stops the relay.
 */
export function relay(source: Readable, destination: Writable, { end = true, coalesce = false, counter }: RelayOptions = {}): void {
  new Relay(source, destination, end, coalesce, counter);
}

/** One relay's state; its listeners are inline closures over it (no named closures to create per relay). */
class Relay {
  private corked = false;
  private stopped = false;

  constructor(
    private readonly source: Readable,
    private readonly destination: Writable,
    end: boolean,
    private readonly coalesce: boolean,
    private readonly counter: { bytes: number } | undefined,
  ) {
    source.on('data', (chunk: Buffer) => this.data(chunk));
    destination.on('drain', () => this.stopped || source.resume());
    if (end) source.once('end', () => destination.end());
    destination.once('close', () => {
      this.stopped = true;
      source.pause();
    });
  }

  private data(chunk: Buffer): void {
    if (this.stopped) return;
    const { destination } = this;
    if (this.counter) this.counter.bytes += chunk.length;
    if (this.coalesce && !this.corked) {
      this.corked = true;
      destination.cork();
      setImmediate(uncork, this);
    }
    if (!destination.write(chunk) && mustPause(destination)) this.source.pause();
  }

  uncorkNow(): void {
    this.corked = false;
    this.destination.uncork();
  }
}

function uncork(relay: Relay): void {
  relay.uncorkNow();
}
