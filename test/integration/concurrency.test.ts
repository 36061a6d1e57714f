// End to end: hundreds of concurrent visitor requests each get their own, correct response.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { createTunnel, startConnector, startEdge, startOrigin, type TestEdge, type TestOrigin, stopWorld } from '../helpers/harness.ts';
import { visit } from '../helpers/http.ts';

let edge: TestEdge;
let origin: TestOrigin;
let connector: Connector;
let peak = 0;
let open = 0;

before(async () => {
  origin = await startOrigin((req, res) => {
    open++;
    peak = Math.max(peak, open);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      // Answer out of order, so responses must be matched to their own stream.
      setTimeout(() => {
        open--;
        const body = req.method === 'POST' ? Buffer.concat(chunks) : Buffer.from(`path=${req.url} host=${req.headers.host}`);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'x-path': req.url });
        res.end(body);
      }, Math.floor(Math.random() * 30));
    });
  });
  edge = await startEdge();
  const credentials = await createTunnel(edge, 'busy', ['app.example.test', 'other.example.test']);
  connector = await startConnector(credentials, {
    ingress: [{ hostname: 'app.example.test', service: origin.url }, { hostname: 'other.example.test', service: origin.url }, { service: 'http_status:404' }],
  });
});

after(() => stopWorld({ connector, edge, origin }));

describe('concurrent requests', () => {
  it('200 concurrent GETs all succeed, each with its own body', async () => {
    peak = 0;
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => visit(edge.url, `/item/${i}?q=${i * 7}`, { timeoutMs: 30_000 })));
    for (const [i, response] of responses.entries()) {
      assert.equal(response.status, 200, `request ${i}: ${response.text}`);
      assert.equal(response.text, `path=/item/${i}?q=${i * 7} host=app.example.test`);
      assert.equal(response.headers['x-path'], `/item/${i}?q=${i * 7}`);
    }
    assert.equal(new Set(responses.map((r) => r.headers['burrow-ray'])).size, 200, 'each request has its own ray');
    // The requests really overlapped at the origin (it answers after a delay), so streams were multiplexed.
    assert.ok(peak > 1, `at most ${peak} request(s) were open at the origin at once`);
  });

  it('200 concurrent POSTs of different sizes each get their own body back', async () => {
    const bodies = Array.from({ length: 200 }, (_, i) => randomBytes(1 + ((i * 997) % 64_000)));
    const responses = await Promise.all(
      bodies.map((body, i) => visit(edge.url, `/post/${i}`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' }, timeoutMs: 30_000 })),
    );
    for (const [i, response] of responses.entries()) {
      assert.equal(response.status, 200, `request ${i}`);
      assert.ok(response.body.equals(bodies[i]!), `request ${i} got another body (${response.body.length} bytes, sent ${bodies[i]!.length})`);
    }
  });

  it('concurrent requests for two hostnames and an unrouted one are answered correctly', async () => {
    const hosts = ['app.example.test', 'other.example.test', 'nowhere.example.test'];
    const responses = await Promise.all(Array.from({ length: 150 }, (_, i) => visit(edge.url, `/mix/${i}`, { host: hosts[i % 3], timeoutMs: 30_000 })));
    for (const [i, response] of responses.entries()) {
      const host = hosts[i % 3]!;
      if (host === 'nowhere.example.test') {
        assert.equal(response.status, 404, `request ${i}`);
      } else {
        assert.equal(response.status, 200, `request ${i}`);
        assert.equal(response.text, `path=/mix/${i} host=${host}`);
      }
    }
  });
});
