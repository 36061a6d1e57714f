// A real HTTP origin for middleware tests: echoes what it received as JSON, and serves bodies of known kinds.
import { gzipSync } from 'node:zlib';
import { startOrigin, type TestOrigin } from './harness.ts';

/** What the origin saw, as JSON in the response body. */
export interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** 64 KiB of compressible text. */
export const BIG_TEXT = 'burrow tunnels traffic to the origin. '.repeat(1725).slice(0, 64 * 1024);

export function startEchoOrigin(): Promise<TestOrigin> {
  return startOrigin((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      if (path.startsWith('/big')) {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(BIG_TEXT), etag: '"big-1"' });
        res.end(BIG_TEXT);
      } else if (path.startsWith('/chunked')) {
        // No Content-Length: written in pieces, as a streaming origin would.
        res.writeHead(200, { 'content-type': 'application/json' });
        const pieces = BIG_TEXT.match(/.{1,4096}/gs)!;
        let i = 0;
        const step = () => {
          if (i === pieces.length) return res.end();
          res.write(JSON.stringify(pieces[i++]));
          setImmediate(step);
        };
        step();
      } else if (path.startsWith('/small')) {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 });
        res.end('small');
      } else if (path.startsWith('/image')) {
        const bytes = Buffer.alloc(8192, 7);
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length });
        res.end(bytes);
      } else if (path.startsWith('/pre-encoded')) {
        const bytes = gzipSync(BIG_TEXT);
        res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': bytes.length });
        res.end(bytes);
      } else {
        const echo: Echo = { method: req.method!, url: path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        const json = JSON.stringify(echo);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'x-origin': 'echo', server: 'echo-origin' });
        res.end(json);
      }
    });
  });
}
