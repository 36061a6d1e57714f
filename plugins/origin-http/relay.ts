// Copies the visitor's request body to the origin with backpressure measured in bytes held, not in writes refused.
import type { Readable, Writable } from 'node:stream';

/**
 * How much the outgoing request may hold before the tunnel stream pauses. Far above Node's 16 KiB high-water mark:
 * pausing there stops and restarts the stream once per chunk of a large upload.
 */
const RELAY_BUFFER = 256 * 1024;

/**
 * `source.pipe(destination)`, except that the source pauses only while the destination holds RELAY_BUFFER bytes or
 * more (or, when a write was refused while it holds less than its high-water mark, at once), and resumes on its next
 * 'drain'. The chunks of one turn of the event loop (HTTP/2 hands them over a few KiB at a time) leave in one write.
 * A destination that closes stops the relay.
 */
export function relay(source: Readable, destination: Writable, end = true): void {
  let corked = false;
  const uncork = () => {
    corked = false;
    destination.uncork();
  };
  const onData = (chunk: Buffer) => {
    if (!corked) {
      corked = true;
      destination.cork();
      setImmediate(uncork);
    }
    if (destination.write(chunk)) return;
    const held = destination.writableLength;
    if (held >= RELAY_BUFFER || held < destination.writableHighWaterMark) source.pause();
  };
  const onDrain = () => source.resume();
  source.on('data', onData);
  destination.on('drain', onDrain);
  if (end) source.once('end', () => destination.end());
  destination.once('close', () => {
    source.off('data', onData);
    destination.off('drain', onDrain);
    source.pause();
  });
}
