// Visitor-side HTTP helpers for integration tests: bounded requests through an edge, free ports, hashing streams.
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export interface VisitorResponse {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
}

export interface VisitOptions {
  /** Host header (the routed hostname); default app.example.test. */
  host?: string;
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer | Readable;
  /** The request fails (rejects) if no complete response arrives within this time. */
  timeoutMs?: number;
}

// No keep-alive: each request gets its own connection, so an edge restart never leaves a stale socket behind.
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

/** Sends one request to `baseUrl` (an edge's visitor URL) and buffers the response. */
export function visit(baseUrl: string, path = '/', options: VisitOptions = {}): Promise<VisitorResponse> {
  const { host = 'app.example.test', method = 'GET', headers = {}, body, timeoutMs = 15_000 } = options;
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, baseUrl), { method, agent, headers: { host, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        const buffer = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: buffer, text: buffer.toString('utf8') });
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no complete response to ${method} ${path} within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

/** A free TCP port on 127.0.0.1 (listen on 0, then close). */
/** The status of `GET /` at `address` (`host:port`) for `host`, or 0 when no answer came (refused, reset, 5 s silence). */
export function statusAt(address: string, host: string): Promise<number> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const req = http.get({ host: address.slice(0, i), port: Number(address.slice(i + 1)), path: '/', headers: { host }, timeout: 5_000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', () => resolve(0));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
  });
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A readable of `total` random bytes in chunks, hashing what it emits; `digest()` is valid once it ended. */
export function randomStream(total: number, chunkSize = 64 * 1024): Readable & { digest(): string } {
  const hash = createHash('sha256');
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(chunkSize, total - sent);
      const chunk = randomBytes(size);
      sent += size;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return Object.assign(stream, { digest: () => hash.copy().digest('hex') });
}

/** Reads a stream to its end, returning its sha256 and length without keeping the bytes. */
export async function hashStream(stream: AsyncIterable<Buffer>): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Stops everything given, ignoring failures, so one broken stop does not leak the rest. */
export async function stopAll(...stoppers: Array<(() => Promise<unknown> | unknown) | undefined>): Promise<void> {
  for (const stop of stoppers) {
    try {
      await stop?.();
    } catch {
      // cleanup is best effort
    }
  }
}
