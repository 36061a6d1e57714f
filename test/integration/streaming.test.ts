// End to end streaming fidelity: SSE, streamed request bodies, 100-continue, bodiless statuses, cookies, big headers, trailers.
import assert from 'node:assert/strict';
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { createTunnel, removeDir, startConnector, startEdge, type TestEdge } from '../helpers/harness.ts';
import { stopAll, visit } from '../helpers/http.ts';

let edge: TestEdge;
let origin: http.Server;
let connector: Connector;
/** Resolvers the origin waits on, by name, so a test decides when the origin may go on. */
const gates = new Map<string, () => void>();
/** What the origin saw for the last request to each path. */
const seen = new Map<string, { headers: IncomingMessage['headers']; trailers: Record<string, string>; body: string }>();

function gate(name: string): Promise<void> {
  return new Promise((resolve) => gates.set(name, resolve));
}
function open(name: string): void {
  const resolve = gates.get(name);
  assert.ok(resolve, `the origin is not waiting on ${name}`);
  resolve();
}

async function handle(req: IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  if (url === '/events') {
    const released = gate('events');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('event: hello\ndata: first\n\n');
    await released;
    res.end('data: second\n\n');
    return;
  }
  if (url === '/upload') {
    // Answers as soon as the first chunk arrives, while the visitor is still sending.
    let total = 0;
    let first = true;
    for await (const chunk of req) {
      total += (chunk as Buffer).length;
      if (first) {
        first = false;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(`got ${(chunk as Buffer).toString()}\n`);
      }
    }
    res.end(`total ${total}\n`);
    return;
  }
  if (url === '/head') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '11', etag: '"v1"' });
    res.end(req.method === 'HEAD' ? undefined : 'hello world');
    return;
  }
  if (url === '/no-content') {
    res.writeHead(204, { 'x-origin': 'yes' }).end();
    return;
  }
  if (url === '/not-modified') {
    res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' }).end();
    return;
  }
  if (url === '/cookies') {
    res.setHeader('set-cookie', ['a=1; Path=/; HttpOnly', 'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/', 'c=3']);
    res.end('cookies');
    return;
  }
  if (url === '/trailers') {
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum, x-rows' });
    res.write('row 1\n');
    res.write('row 2\n');
    res.addTrailers({ 'x-checksum': 'sha256-abc', 'x-rows': '2' });
    res.end();
    return;
  }
  // Default: record what arrived (headers, body, trailers) and answer with its size.
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString();
  seen.set(url, { headers: req.headers, trailers: { ...(req.trailers as Record<string, string>) }, body });
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`received ${body.length} bytes`);
}

before(async () => {
  // Big request headers must fit the origin too; Node's default limit is 16 KiB.
  origin = http.createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => void handle(req, res));
  origin.on('checkContinue', (req, res) => {
    if (req.url === '/refuse-upload') {
      seen.set(req.url, { headers: req.headers, trailers: {}, body: '' });
      res.writeHead(413, { 'content-type': 'text/plain' }).end('too big\n');
      return;
    }
    res.writeContinue();
    void handle(req, res);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  edge = await startEdge();
  const credentials = await createTunnel(edge, 'streams', ['app.example.test']);
  connector = await startConnector(credentials, { ingress: [{ hostname: 'app.example.test', service: originUrl }, { service: 'http_status:404' }] });
});

after(async () => {
  await stopAll(
    () => connector?.stop(0),
    () => edge?.stop(),
    () => new Promise<void>((resolve) => {
      origin?.closeAllConnections();
      origin?.close(() => resolve());
    }),
    () => removeDir(edge.dataDir),
  );
});

/** Starts a request through the edge and returns it unsent, for tests that drive the body themselves. */
function request(path: string, options: http.RequestOptions = {}): http.ClientRequest {
  return http.request(new URL(path, edge.url), { agent: false, ...options, headers: { host: 'app.example.test', ...options.headers } });
}

/** Resolves with the next chunk of `res`, or rejects after `ms` (then nothing streamed). */
async function nextChunk(res: IncomingMessage, what: string, ms = 15_000): Promise<string> {
  const timer = setTimeout(() => res.destroy(new Error(`${what} did not arrive within ${ms} ms`)), ms);
  try {
    const [chunk] = (await once(res, 'data')) as [Buffer];
    return chunk.toString();
  } finally {
    clearTimeout(timer);
  }
}

async function rest(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) text += (chunk as Buffer).toString();
  return text;
}

describe('streaming responses', () => {
  it('Server-Sent Events reach the visitor while the origin holds the response open', async () => {
    const req = request('/events', { headers: { accept: 'text/event-stream' } });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/event-stream');
    assert.equal(res.headers['content-length'], undefined);
    const first = await nextChunk(res, 'the first event');
    assert.equal(first, 'event: hello\ndata: first\n\n');
    // Only now may the origin write the second event and finish.
    open('events');
    assert.equal(await rest(res), 'data: second\n\n');
  });
});

describe('streaming request bodies', () => {
  it('the origin reads a request body while the visitor is still sending it', async () => {
    const req = request('/upload', { method: 'POST', headers: { 'content-type': 'text/plain' } });
    req.write('part-1');
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    assert.equal(await nextChunk(res, 'the origin\'s answer to the first part'), 'got part-1\n');
    req.end('part-2-longer');
    assert.equal(await rest(res), 'total 19\n');
  });

  it('Expect: 100-continue is answered by the origin, then the body flows', async () => {
    const req = request('/continue', { method: 'PUT', headers: { expect: '100-continue', 'content-length': '8' } });
    req.flushHeaders();
    await once(req, 'continue');
    req.end('the body');
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    assert.equal(await rest(res), 'received 8 bytes');
    assert.equal(seen.get('/continue')?.headers.expect, '100-continue');
    assert.equal(seen.get('/continue')?.body, 'the body');
  });

  it('an origin refusing an Expect: 100-continue upload answers before any body is sent', async () => {
    let continued = false;
    const req = request('/refuse-upload', { method: 'PUT', headers: { expect: '100-continue', 'content-length': '1000000' } });
    req.on('continue', () => (continued = true));
    req.flushHeaders();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    assert.equal(res.statusCode, 413);
    assert.equal(await rest(res), 'too big\n');
    assert.equal(continued, false, 'the visitor was told to send the body anyway');
    assert.equal(seen.get('/refuse-upload')?.headers.expect, '100-continue');
    req.destroy();
  });
});

/** Sends `first` on one connection, waits for its head, then a GET; returns the first head and every byte after it. */
async function pipelined(first: string): Promise<{ head: string; after: string }> {
  const { hostname, port } = new URL(edge.url);
  const socket = net.connect(Number(port), hostname);
  socket.setTimeout(15_000, () => socket.destroy(new Error('no answer within 15 s')));
  let received = '';
  let sentSecond = false;
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!sentSecond && received.includes('\r\n\r\n')) {
        sentSecond = true;
        socket.write('GET /head HTTP/1.1\r\nHost: app.example.test\r\nConnection: close\r\n\r\n');
      }
    });
    socket.on('error', reject);
    socket.on('end', () => {
      // Anything after the first head is what the edge sent next: it must be the second response.
      const split = received.indexOf('\r\n\r\n') + 4;
      resolve({ head: received.slice(0, split), after: received.slice(split) });
    });
    socket.write(`${first} HTTP/1.1\r\nHost: app.example.test\r\n\r\n`);
  });
}

describe('responses without bodies', () => {
  for (const [first, status] of [['HEAD /head', 200], ['GET /no-content', 204], ['GET /not-modified', 304]] as const) {
    it(`${first} answers ${status} with no body bytes on the connection`, async () => {
      const { head, after } = await pipelined(first);
      assert.match(head, new RegExp(`^HTTP/1.1 ${status} `));
      assert.doesNotMatch(head, /transfer-encoding: chunked/i);
      if (first.startsWith('HEAD')) assert.match(head, /content-length: 11\r\n/i);
      if (status === 304) assert.match(head, /etag: "v1"/i);
      assert.match(after, /^HTTP\/1.1 200 OK\r\n/, `bytes after the ${status} head: ${JSON.stringify(after.slice(0, 60))}`);
      assert.ok(after.endsWith('\r\n\r\nhello world'));
    });
  }
});

describe('headers', () => {
  it('several Set-Cookie headers stay separate, commas in Expires included', async () => {
    const response = await visit(edge.url, '/cookies');
    const cookies = response.rawHeaders.filter((_, i) => i % 2 === 0 && response.rawHeaders[i]!.toLowerCase() === 'set-cookie').length;
    assert.equal(cookies, 3);
    assert.deepEqual(response.headers['set-cookie'], ['a=1; Path=/; HttpOnly', 'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/', 'c=3']);
  });

  it('request headers of 32 KiB reach the origin', async () => {
    const big = 'x'.repeat(12 * 1024);
    const cookie = Array.from({ length: 270 }, (_, i) => `c${i}=${'v'.repeat(70)}`).join('; ');
    const response = await visit(edge.url, '/big-headers', { headers: { 'x-big': big, cookie } });
    assert.equal(response.status, 200, response.text);
    const headers = seen.get('/big-headers')!.headers;
    assert.equal(headers['x-big'], big);
    assert.equal(headers.cookie, cookie);
    assert.ok(big.length + cookie.length >= 32 * 1024);
  });

  it('request headers far over the limit get a 431 from the edge', async () => {
    const response = await visit(edge.url, '/huge-headers', { headers: { 'x-huge': 'x'.repeat(256 * 1024) } }).catch((error: Error) => error);
    if (response instanceof Error) assert.match(response.message, /socket hang up|ECONNRESET|EPIPE/);
    else assert.equal(response.status, 431);
    assert.equal(seen.has('/huge-headers'), false);
  });
});

describe('trailers', () => {
  it('trailers of a chunked origin response reach the visitor', async () => {
    const req = request('/trailers', { headers: { te: 'trailers' } });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    assert.equal(await rest(res), 'row 1\nrow 2\n');
    assert.deepEqual({ checksum: res.trailers['x-checksum'], rows: res.trailers['x-rows'] }, { checksum: 'sha256-abc', rows: '2' });
  });

  it('trailers of a chunked visitor request reach the origin', async () => {
    const req = request('/request-trailers', { method: 'POST', headers: { trailer: 'x-digest', 'content-type': 'text/plain' } });
    req.write('streamed ');
    req.addTrailers({ 'x-digest': 'md5-123' });
    req.end('body');
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    assert.equal(await rest(res), 'received 13 bytes');
    assert.equal(seen.get('/request-trailers')?.body, 'streamed body');
    assert.equal(seen.get('/request-trailers')?.trailers['x-digest'], 'md5-123');
  });
});
