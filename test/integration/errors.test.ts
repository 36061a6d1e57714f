// End to end: the edge's error pages (404, 530, 502, 504) name the ray, and failures do not break the tunnel.
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { createTunnel, eventually, removeDir, startConnector, startEdge, startOrigin, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { freePort, stopAll, visit, type VisitorResponse } from '../helpers/http.ts';

const RAY = /^[0-9a-f]{16}-test$/;

let edge: TestEdge;
let origin: TestOrigin;
let connector: Connector;
/** Accepts TCP connections and never answers. */
let blackhole: net.Server;
const blackholeSockets = new Set<Socket>();
let closedPort: number;
let originAborted = 0;
let streamsClosed = 0;

before(async () => {
  origin = await startOrigin((req, res) => {
    if (req.url === '/own-502') {
      res.writeHead(502, { 'content-type': 'text/plain', 'x-from': 'origin' });
      res.end('the origin itself says bad gateway');
    } else if (req.url === '/reset') {
      req.socket.destroy();
    } else if (req.url === '/slow') {
      // A long poll: never answers on its own, only counts being cancelled.
      res.once('close', () => {
        if (!res.writableFinished) originAborted++;
      });
    } else if (req.url === '/stream') {
      // An endless event stream (SSE): it only ends when the client goes away.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => res.write('data: tick\n\n'), 50);
      res.once('close', () => {
        clearInterval(timer);
        streamsClosed++;
      });
    } else {
      res.end('ok');
    }
  });
  blackhole = net.createServer((socket) => {
    blackholeSockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => blackholeSockets.delete(socket));
  });
  await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
  closedPort = await freePort();

  edge = await startEdge();
  const credentials = await createTunnel(edge, 'errors', ['app.example.test', 'down.example.test', 'hang.example.test']);
  await createTunnel(edge, 'nobody-home', ['idle.example.test', '*.idle.example.test']);
  connector = await startConnector(credentials, {
    ingress: [
      { hostname: 'down.example.test', service: `http://127.0.0.1:${closedPort}` },
      {
        hostname: 'hang.example.test',
        service: `http://127.0.0.1:${(blackhole.address() as net.AddressInfo).port}`,
        originRequest: { responseTimeout: '1s', connectTimeout: '1s' },
      },
      { hostname: 'app.example.test', service: origin.url },
      { service: 'http_status:404' },
    ],
  });
});

after(async () => {
  for (const socket of blackholeSockets) socket.destroy();
  await stopAll(
    () => connector?.stop(0),
    () => edge?.stop(),
    () => origin?.close(),
    () => new Promise<void>((resolve) => blackhole.close(() => resolve())),
    () => removeDir(edge.dataDir),
  );
});

/** Asserts an edge error page: status, a ray header, the ray in the page, HTML, and the given words. */
function assertErrorPage(response: VisitorResponse, status: number, words: Array<string | RegExp>): void {
  assert.equal(response.status, status, response.text);
  const ray = String(response.headers['burrow-ray']);
  assert.match(ray, RAY);
  assert.match(String(response.headers['content-type']), /^text\/html/);
  assert.equal(response.headers['cache-control'], 'no-store');
  assert.ok(response.text.includes(`Ray ID: <code>${ray}</code>`), `the page does not name ray ${ray}:\n${response.text}`);
  assert.ok(response.text.includes(`<h1>${status} `), response.text);
  for (const word of words) {
    if (typeof word === 'string') assert.ok(response.text.includes(word), `the page lacks "${word}"`);
    else assert.match(response.text, word);
  }
}

describe('error pages', () => {
  it('404 for a hostname no tunnel is routed to', async () => {
    assertErrorPage(await visit(edge.url, '/', { host: 'unknown.example.test' }), 404, ['No tunnel is routed to this hostname']);
  });

  it('404 page for HEAD has no body', async () => {
    const response = await visit(edge.url, '/', { host: 'unknown.example.test', method: 'HEAD' });
    assert.equal(response.status, 404);
    assert.match(String(response.headers['burrow-ray']), RAY);
    assert.equal(response.body.length, 0);
  });

  it('530 for a hostname routed to a tunnel with no connector', async () => {
    assertErrorPage(await visit(edge.url, '/', { host: 'idle.example.test' }), 530, ['no connector for it is online']);
  });

  it('530 through a wildcard route too', async () => {
    assertErrorPage(await visit(edge.url, '/x', { host: 'deep.sub.idle.example.test' }), 530, []);
  });

  it('502 naming the ray when the origin is down', async () => {
    assertErrorPage(await visit(edge.url, '/', { host: 'down.example.test' }), 502, [`127.0.0.1:${closedPort}`, /could not be reached/]);
  });

  it('502 for a POST with a body when the origin is down', async () => {
    const body = 'x'.repeat(100_000);
    assertErrorPage(await visit(edge.url, '/upload', { host: 'down.example.test', method: 'POST', body }), 502, []);
  });

  it('502 when the origin drops the connection without answering', async () => {
    assertErrorPage(await visit(edge.url, '/reset', { host: 'app.example.test' }), 502, []);
  });

  it('504 naming the ray when the origin accepts the connection but never answers (responseTimeout 1s)', async () => {
    assertErrorPage(await visit(edge.url, '/', { host: 'hang.example.test', timeoutMs: 20_000 }), 504, [/did not answer within 1000 ms/]);
  });

  it("an origin's own 502 passes through unchanged, not as an edge page", async () => {
    const response = await visit(edge.url, '/own-502');
    assert.equal(response.status, 502);
    assert.equal(response.text, 'the origin itself says bad gateway');
    assert.equal(response.headers['x-from'], 'origin');
    assert.match(String(response.headers['burrow-ray']), RAY);
  });

  it('the tunnel keeps working after each failure', async () => {
    const response = await visit(edge.url, '/after-errors');
    assert.equal(response.status, 200);
    assert.equal(response.text, 'ok');
  });
});

describe('visitors that go away', () => {
  it('a visitor that leaves a long poll cancels the origin request, and the tunnel keeps working', async () => {
    const before = originAborted;
    await new Promise<void>((resolve) => {
      const req = http.request(new URL('/slow', edge.url), { headers: { host: 'app.example.test' }, agent: false });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300);
    });
    const response = await visit(edge.url, '/after-abort');
    assert.equal(response.status, 200);
    assert.equal(response.text, 'ok');
    await eventually(() => edge.edge.connections.all().every((c) => c.activeStreams === 0), 5_000, 'no streams left open on the edge');
    await eventually(() => originAborted > before, 5_000, 'the origin to see the request cancelled');
  });

  it('a visitor that leaves an endless stream (SSE) closes the origin request', async () => {
    const before = streamsClosed;
    await new Promise<void>((resolve, reject) => {
      const req = http.request(new URL('/stream', edge.url), { headers: { host: 'app.example.test' }, agent: false }, (res) => {
        assert.equal(res.statusCode, 200);
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => resolve());
      req.setTimeout(10_000, () => reject(new Error('no event arrived')));
      req.end();
    });
    await eventually(() => edge.edge.connections.all().every((c) => c.activeStreams === 0), 5_000, 'no streams left open on the edge');
    await eventually(() => streamsClosed > before, 5_000, 'the origin to see the event stream closed');
    const response = await visit(edge.url, '/after-stream');
    assert.equal(response.status, 200);
  });
});
