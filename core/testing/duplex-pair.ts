// Two connected in-memory duplex streams: what one end writes, the other reads. Stands in for a socket.
import { Duplex } from 'node:stream';

/** A connected pair; `remoteAddress` is what a server sees on its end (req.socket.remoteAddress). */
export function duplexPair(remoteAddress?: string): [client: Duplex, server: Duplex] {
  let client!: Duplex;
  let server!: Duplex;
  // A writer whose chunk the other end's reader has not asked for yet: released by that reader's read(),
  // so a slow reader holds back the writer (backpressure) instead of queueing without bound.
  const blocked = new Map<Duplex, () => void>();
  const end = (peer: () => Duplex) =>
    new Duplex({
      read() {
        const release = blocked.get(this);
        blocked.delete(this);
        release?.();
      },
      write(chunk: Buffer, _encoding, callback) {
        const other = peer();
        if (other.destroyed) return callback(new Error('the other end is closed'));
        if (other.push(chunk)) callback();
        else blocked.set(other, () => callback());
      },
      final(callback) {
        peer().push(null);
        callback();
      },
      destroy(error, callback) {
        const other = peer();
        if (!other.destroyed) other.destroy();
        callback(error);
      },
    });
  client = end(() => server);
  server = end(() => client);
  if (remoteAddress !== undefined) {
    Object.defineProperties(server, {
      remoteAddress: { value: remoteAddress },
      remotePort: { value: 50_000 },
      remoteFamily: { value: remoteAddress.includes(':') ? 'IPv6' : 'IPv4' },
    });
  }
  return [client, server];
}
