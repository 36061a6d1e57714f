// Hostile origins behind a connector: broken status lines, CR/LF in header values, closes mid-body (Content-Length
// and chunked), silence and a hang mid-body. The visitor sees an error or a visibly broken response, never a
// truncated body framed as complete, and the connector keeps serving the healthy origin.
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { createTunnel, eventually, removeDir, startConnector, startOrigin, type TestOrigin } from '../helpers/harness.ts';
import { stopAll } from '../helpers/http.ts';
import { startLoggedEdge } from '../helpers/identity.ts';
import { sendRaw } from './raw.ts';

/** A TCP origin that reads a request head and answers with `reply` (bytes written as given; `close` ends the socket after them). */
async function rawOrigin(reply: (socket: net.Socket) => void): Promise<{ port: number; sockets: net.Socket[]; close(): Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) reply(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const ORIGINS: Record<string, (socket: net.Socket) => void> = {
  'bad-status': (s) => s.end('HTTP/1.1 2OO Fine\r\nContent-Length: 2\r\n\r\nok'),
  crlf: (s) => s.end('HTTP/1.1 200 OK\r\nX-Note: a\rInjected: yes\r\nContent-Length: 2\r\n\r\nok'),
  'cut-length': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
    s.write('x'.repeat(100));
    setTimeout(() => s.destroy(), 100);
  },
  'cut-chunked': (s) => {
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n' + 'y'.repeat(100) + '\r\n');
    setTimeout(() => s.destroy(), 100);
  },
  silent: () => undefined,
  'hang-mid-body': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' + 'z'.repeat(10)),
};

let edge: Awaited<ReturnType<typeof startLoggedEdge>>;
let healthy: TestOrigin;
let connector: Connector;
const origins = new Map<string, Awaited<ReturnType<typeof rawOrigin>>>();
const seen: string[] = [];
let checks = 0;

before(async () => {
  edge = await startLoggedEdge();
  healthy = await startOrigin((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.end('healthy');
  });
  for (const [name, reply] of Object.entries(ORIGINS)) origins.set(name, await rawOrigin(reply));
  const hostnames = [...origins.keys()].map((name) => `${name}.example.test`);
  const tunnel = await createTunnel(edge, 'hostile-origins', ['healthy.example.test', ...hostnames]);
  connector = await startConnector(tunnel, {
    ingress: [
      ...[...origins].map(([name, origin]) => ({ hostname: `${name}.example.test`, service: `http://127.0.0.1:${origin.port}`, originRequest: { responseTimeout: '2s', keepAliveConnections: 0 } })),
      { service: healthy.url },
    ],
  } as never);
  await eventually(() => edge.edge.connections.forTunnel(tunnel.tunnelId).length === 2, 20_000, 'the tunnel connected');
});
after(() => stopAll(() => connector?.stop(0), () => edge?.stop(), () => healthy?.close(), ...[...origins.values()].map((o) => () => o.close()), () => removeDir(edge.dataDir)));

const address = () => edge.edge.addresses!.http!;
const get = (host: string, path = '/') => sendRaw(address(), `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, { timeoutMs: 30_000 });

/** The connector still serves: a visitor gets 200 from the healthy origin, which saw exactly that request. */
async function assertHealthy(): Promise<void> {
  const path = `/check-${++checks}`;
  const before = seen.length;
  const result = await get('healthy.example.test', path);
  assert.equal(result.status, 200, result.raw.toString('latin1').slice(0, 200));
  assert.equal(result.responses[0]!.text, 'healthy');
  assert.deepEqual(seen.slice(before), [`GET ${path}`]);
}

function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /\n\s+at |\.ts:\d+/, 'no stack trace');
}

describe('origins: hostile answers', () => {
  it('an invalid status line: 502', async () => {
    const result = await get('bad-status.example.test');
    assert.equal(result.status, 502);
    assertNoStack(result.raw.toString('latin1'));
    await assertHealthy();
  });

  it('a CR inside a header value never splits headers at the visitor', async () => {
    const result = await get('crlf.example.test');
    assert.ok(result.status === 502 || result.status === 200, `got ${result.status}`);
    assert.equal(result.responses[0]?.headers.injected, undefined, 'no header injected');
    assert.doesNotMatch(result.raw.toString('latin1'), /\r\nInjected:/i);
    assertNoStack(result.raw.toString('latin1'));
    await assertHealthy();
  });

  it('a close mid-body of a Content-Length response: cut short with a close, never complete', async () => {
    const result = await get('cut-length.example.test');
    assert.equal(result.closed, true, 'the edge closed the connection');
    assert.equal(result.responses.length, 0, `no complete response (${result.raw.toString('latin1').slice(0, 120)})`);
    const head = result.raw.toString('latin1');
    if (head.startsWith('HTTP/1.1 200')) assert.match(head, /content-length: 1000|transfer-encoding: chunked/i);
    await assertHealthy();
  });

  it('a close mid-body of a chunked response: no terminating 0-chunk', async () => {
    const result = await get('cut-chunked.example.test');
    assert.equal(result.closed, true);
    assert.equal(result.responses.length, 0, `no complete response (${result.raw.toString('latin1').slice(0, 200)})`);
    assert.doesNotMatch(result.raw.toString('latin1'), /\r\n0\r\n\r\n/, 'the edge never sent the last chunk');
    await assertHealthy();
  });

  it('an origin that never answers: 504 after responseTimeout, and the connector keeps serving', async () => {
    const result = await get('silent.example.test');
    assert.equal(result.status, 504, result.raw.toString('latin1').slice(0, 200));
    assertNoStack(result.raw.toString('latin1'));
    await assertHealthy();
  });

  it('an origin that hangs mid-body: the visitor leaving frees the origin’s connection', async () => {
    const origin = origins.get('hang-mid-body')!;
    const before = origin.sockets.length;
    const result = await sendRaw(address(), 'GET / HTTP/1.1\r\nHost: hang-mid-body.example.test\r\n\r\n', { timeoutMs: 3_000 });
    assert.equal(result.responses.length, 0, 'no complete response');
    assert.match(result.raw.toString('latin1'), /^HTTP\/1\.1 200/);
    assert.equal(origin.sockets.length, before + 1);
    // sendRaw hung up at its timeout: the connector cancels the origin request.
    await eventually(() => origin.sockets[before]!.destroyed || origin.sockets[before]!.readableEnded, 20_000, 'the origin connection closed');
    await assertHealthy();
  });
});

