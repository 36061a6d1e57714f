// Two connected in-memory duplex streams: what one end writes, the other reads. Stands in for a socket.
import { Duplex } from 'node:stream';

/**
 * A connected pair; `remoteAddress` is what a server sees on its end (req.socket.remoteAddress).
 * Writes complete at once, as a socket's write into kernel buffers does; on the tunnel pair HTTP/2
 * flow control still bounds what is in flight. (Holding writes until the peer reads deadlocks the
 * HTTP/2 session's stream wrapper, which waits for its own writes before reading.)
 */
export function duplexPair(remoteAddress?: string): [client: Duplex, server: Duplex] {
  let client!: Duplex;
  let server!: Duplex;
  const end = (peer: () => Duplex) =>
    new Duplex({
      // The peer pushes into this end as it writes; nothing to pull.
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        const other = peer();
        if (other.destroyed) return callback(new Error('the other end is closed'));
        other.push(chunk);
        callback();
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
