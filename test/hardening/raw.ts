// Raw visitor bytes over a plain TCP socket, and what came back: the parsed responses and whether the edge hung up.
import net from 'node:net';
import tls from 'node:tls';

export interface RawResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  text: string;
}

export interface RawResult {
  /** Every byte the edge sent. */
  raw: Buffer;
  /** The complete responses found in `raw`, in order. */
  responses: RawResponse[];
  /** The first response (status 0 when none came). */
  status: number;
  /** True when the edge closed the connection (or reset it) before the wait ended. */
  closed: boolean;
  /** The socket error, if the connection was reset. */
  error?: string;
}

export interface RawOptions {
  /** Stop as soon as this many complete responses arrived (the socket may still be open); default: wait for the close. */
  responses?: number;
  /** Upper bound on the whole exchange; the result says `closed: false` when the edge kept the socket past it. */
  timeoutMs?: number;
  /** Pause between the chunks of an array of writes, so each reaches the edge as its own read. */
  gapMs?: number;
  /** Speak TLS (to the https listener), trusting this CA. */
  tlsCa?: string;
}

/** `127.0.0.1:40001` or `http://127.0.0.1:40001` -> host and port. */
export function target(address: string): { host: string; port: number } {
  const bare = address.replace(/^https?:\/\//, '');
  const index = bare.lastIndexOf(':');
  return { host: bare.slice(0, index), port: Number(bare.slice(index + 1)) };
}

/** Sends `data` (one write, or several with `gapMs` between them) and collects the answer. */
export function sendRaw(address: string, data: string | Buffer | ReadonlyArray<string | Buffer>, options: RawOptions = {}): Promise<RawResult> {
  const { responses: wanted, timeoutMs = 10_000, gapMs = 20, tlsCa } = options;
  const chunks = typeof data === 'string' || Buffer.isBuffer(data) ? [data] : data;
  return new Promise((resolve) => {
    const socket = tlsCa ? tls.connect({ ...target(address), ca: tlsCa, servername: 'localhost' }) : net.connect(target(address));
    const received: Buffer[] = [];
    let settled = false;
    let error: string | undefined;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(received);
      const responses = parseResponses(raw);
      resolve({ raw, responses, status: responses[0]?.status ?? 0, closed, error });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (wanted !== undefined && parseResponses(Buffer.concat(received)).length >= wanted) finish(false);
    });
    socket.on('error', (err) => {
      error = err.message;
    });
    socket.on('close', () => finish(true));
    socket.once(tlsCa ? 'secureConnect' : 'connect', async () => {
      for (let i = 0; i < chunks.length && !socket.destroyed; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (!socket.destroyed) socket.write(chunks[i]!);
      }
    });
  });
}

/**
 * A slowloris: a socket that sends `head` one byte every `intervalMs`, then `filler` bytes the same way, never
 * finishing the request head. `closed` resolves when the edge hangs up; `received` is what it answered.
 */
export function trickle(address: string, head: string, intervalMs: number, filler = 'a'): { connected: Promise<void>; closed: Promise<void>; received(): string; stop(): void } {
  const socket = net.connect(target(address));
  const chunks: Buffer[] = [];
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  let index = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || !socket.writable) return;
    socket.write(index < head.length ? head[index]! : filler);
    index++;
  }, intervalMs);
  const connected = new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => resolve());
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void closed.then(() => clearInterval(timer));
  return {
    connected,
    closed,
    received: () => Buffer.concat(chunks).toString('latin1'),
    stop: () => {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

/** Parses the complete HTTP/1.1 responses in `raw` (Content-Length, chunked, or no body for 1xx/204/304). */
export function parseResponses(raw: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let offset = 0;
  for (let guard = 0; guard < 100 && offset < raw.length; guard++) {
    const end = raw.indexOf('\r\n\r\n', offset);
    if (end < 0) break;
    const lines = raw.subarray(offset, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let bodyStart = end + 4;
    let body: Buffer;
    if (status === 101 || (status >= 100 && status < 200) || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (raw.length < bodyStart + length) break;
      body = raw.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      let at = bodyStart;
      let complete = false;
      for (let g = 0; g < 10_000; g++) {
        const lineEnd = raw.indexOf('\r\n', at);
        if (lineEnd < 0) break;
        const size = parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16);
        if (size === 0) {
          const trailerEnd = raw.indexOf('\r\n\r\n', lineEnd);
          if (trailerEnd < 0) break;
          at = trailerEnd + 4;
          complete = true;
          break;
        }
        if (raw.length < lineEnd + 2 + size + 2) break;
        parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      bodyStart = at;
    } else {
      body = raw.subarray(bodyStart);
      bodyStart = raw.length;
    }
    out.push({ status, headers, body, text: body.toString('utf8') });
    offset = bodyStart;
  }
  return out;
}
