// End to end: 10 MiB uploads, downloads and full-duplex echoes arrive byte for byte (sha256 compared), streamed.
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { createTunnel, startConnector, startEdge, startOrigin, type TestEdge, type TestOrigin, stopWorld } from '../helpers/harness.ts';
import { hashStream, randomStream } from '../helpers/http.ts';

const SIZE = 10 * 1024 * 1024;
const TIMEOUT_MS = 60_000;

let edge: TestEdge;
let origin: TestOrigin;
let connector: Connector;
/** sha256 of each download the origin sent, by request id. */
const sent = new Map<string, { sha256: string; bytes: number }>();

before(async () => {
  origin = await startOrigin((req, res) => {
    const url = new URL(req.url!, 'http://origin');
    if (url.pathname === '/upload') {
      // Hash what arrives; answer with the digest.
      void hashStream(req).then((digest) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...digest, contentLength: req.headers['content-length'] ?? null, chunked: req.headers['transfer-encoding'] ?? null }));
      });
    } else if (url.pathname === '/download') {
      // Stream random bytes in chunks, remembering their digest for the test.
      const id = url.searchParams.get('id')!;
      const chunked = url.searchParams.has('chunked');
      res.writeHead(200, { 'content-type': 'application/octet-stream', ...(chunked ? {} : { 'content-length': SIZE }) });
      const hash = createHash('sha256');
      let written = 0;
      const pump = () => {
        while (written < SIZE) {
          const chunk = randomBytes(Math.min(256 * 1024, SIZE - written));
          hash.update(chunk);
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        sent.set(id, { sha256: hash.digest('hex'), bytes: written });
        res.end();
      };
      pump();
    } else if (url.pathname === '/echo') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
    } else {
      res.writeHead(404).end();
    }
  });
  edge = await startEdge();
  const credentials = await createTunnel(edge, 'big', ['app.example.test']);
  connector = await startConnector(credentials, { ingress: [{ service: origin.url }] });
});

after(() => stopWorld({ connector, edge, origin }));

/** Starts a request through the edge and resolves with its response (streaming, not buffered). */
function open(path: string, method: string, headers: http.OutgoingHttpHeaders = {}): { req: http.ClientRequest; response: Promise<http.IncomingMessage> } {
  const req = http.request(new URL(path, edge.url), { method, agent: false, headers: { host: 'app.example.test', ...headers } });
  const timer = setTimeout(() => req.destroy(new Error(`${method} ${path} did not finish within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  req.once('close', () => clearTimeout(timer));
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  return { req, response };
}

describe('10 MiB bodies', () => {
  const uploads: Array<{ name: string; headers: http.OutgoingHttpHeaders }> = [
    { name: 'with content-length', headers: { 'content-length': SIZE } },
    { name: 'chunked', headers: {} },
  ];
  for (const c of uploads) {
    it(`upload ${c.name}: the origin receives every byte`, async () => {
      const body = randomStream(SIZE);
      const { req, response } = open('/upload', 'POST', { 'content-type': 'application/octet-stream', ...c.headers });
      body.pipe(req);
      const res = await response;
      assert.equal(res.statusCode, 200);
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      const received = JSON.parse(Buffer.concat(chunks).toString()) as { sha256: string; bytes: number; contentLength: string | null };
      assert.equal(received.bytes, SIZE);
      assert.equal(received.sha256, body.digest());
      if (c.headers['content-length']) assert.equal(received.contentLength, String(SIZE));
    });
  }

  const downloads: Array<{ name: string; query: string; contentLength: boolean }> = [
    { name: 'with content-length', query: '', contentLength: true },
    { name: 'chunked', query: '&chunked', contentLength: false },
  ];
  for (const [index, c] of downloads.entries()) {
    it(`download ${c.name}: the visitor receives every byte`, async () => {
      const id = `download-${index}`;
      const { req, response } = open(`/download?id=${id}${c.query}`, 'GET');
      req.end();
      const res = await response;
      assert.equal(res.statusCode, 200);
      if (c.contentLength) assert.equal(res.headers['content-length'], String(SIZE));
      const received = await hashStream(res);
      assert.equal(received.bytes, SIZE);
      assert.deepEqual(received, sent.get(id));
    });
  }

  it('full duplex: 10 MiB up and the same 10 MiB echoed down at the same time', async () => {
    const body = randomStream(SIZE);
    const { req, response } = open('/echo', 'PUT', { 'content-type': 'application/octet-stream' });
    body.pipe(req);
    const res = await response;
    assert.equal(res.statusCode, 200);
    const received = await hashStream(res);
    assert.equal(received.bytes, SIZE);
    assert.equal(received.sha256, body.digest());
  });

  it('four 10 MiB downloads in parallel each arrive intact', async () => {
    const results = await Promise.all(
      [0, 1, 2, 3].map(async (n) => {
        const id = `parallel-${n}`;
        const { req, response } = open(`/download?id=${id}`, 'GET');
        req.end();
        const res = await response;
        assert.equal(res.statusCode, 200);
        return { id, received: await hashStream(res) };
      }),
    );
    for (const { id, received } of results) assert.deepEqual(received, sent.get(id), id);
  });
});
