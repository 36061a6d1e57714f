// End to end WebSocket through edge and connector: messages, control frames, refusals, teardown, unix: and unix+tls: origins, 1,000 sockets, HA.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import type { Connector } from '../../core/connector/connector.ts';
import { createCertificateAuthority, issueServerCertificate } from '../../plugins/origin-ca/ca.ts';
import { createTunnel, eventually, removeDir, startConnector, startEdge, startOrigin, tempDir, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { freePort, stopAll, visit } from '../helpers/http.ts';
import { originCertificates } from '../helpers/tls.ts';

const RAY = /^[0-9a-f]{16}-test$/;

let edge: TestEdge;
let origin: TestOrigin;
let wssOrigin: https.Server;
/** Origins on unix sockets: plain (`unix:`) and TLS (`unix+tls:`). */
let unixOrigins: Server[] = [];
let connector: Connector;
let tunnelId: string;
let caDir: string;
/** Every socket the origin accepted, with the request that opened it. */
const accepted: Array<{ socket: WebSocket; req: IncomingMessage }> = [];
const closedAtOrigin: Array<{ code: number; reason: string }> = [];

function echoServer(): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false),
  });
  wss.on('connection', (socket, req) => {
    accepted.push({ socket, req });
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      if (text.startsWith('close-with ')) {
        const [, code, reason] = text.split(' ');
        socket.close(Number(code), reason);
      } else if (text === 'ping-me') socket.ping(Buffer.from('from-origin'));
      else socket.send(data, { binary: isBinary });
    });
    socket.on('close', (code, reason) => closedAtOrigin.push({ code, reason: reason.toString() }));
  });
  return wss;
}

/** Upgrade handling on an origin's HTTP server: refusals on some paths, the echo server elsewhere. */
function acceptUpgrades(server: { on(event: 'upgrade', fn: (req: IncomingMessage, socket: Socket, head: Buffer) => void): unknown }, wss: WebSocketServer): void {
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/forbidden') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nX-Refused-By: origin\r\n\r\nnot for you\n');
    } else if (req.url === '/chunked-refusal') {
      socket.end('HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\nWWW-Authenticate: Bearer\r\n\r\n6\r\nlog in\r\n2\r\n!\n\r\n0\r\n\r\n');
    } else if (req.url === '/hang-up') {
      socket.destroy();
    } else {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    }
  });
}

before(async () => {
  const wss = echoServer();
  origin = await startOrigin((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`plain ${req.url}`));
  acceptUpgrades(origin.server, wss);

  // A wss:// origin with a certificate from its own CA, verified through originRequest.caPool.
  caDir = await tempDir('burrow-ws-ca-');
  const ca = await createCertificateAuthority({ commonName: 'WebSocket test CA' });
  // Node's https client checks the name the request's Host header carries unless originServerName is set.
  const leaf = await issueServerCertificate(ca, { commonName: 'wss.example.test', dnsNames: ['wss.example.test', 'localhost'], ipAddresses: ['127.0.0.1'] });
  await writeFile(path.join(caDir, 'ca.pem'), ca.certPem);
  wssOrigin = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end('tls'));
  acceptUpgrades(wssOrigin, wss);
  await new Promise<void>((resolve) => wssOrigin.listen(0, '127.0.0.1', resolve));
  const wssPort = (wssOrigin.address() as AddressInfo).port;

  // The same echo server behind unix: and unix+tls: services; the TLS one is verified with caPool too.
  const certs = await originCertificates();
  await writeFile(path.join(caDir, 'unix-ca.pem'), certs.caPem);
  const unixSocket = path.join(caDir, 'ws.sock');
  const unixTlsSocket = path.join(caDir, 'wss.sock');
  const unixOrigin = http.createServer((req, res) => res.end(`unix plain ${req.url}`));
  const unixTlsOrigin = https.createServer({ key: certs.localhost.keyPem, cert: certs.localhost.certPem }, (req, res) => res.end(`unix+tls plain ${req.url}`));
  unixOrigins = [unixOrigin, unixTlsOrigin];
  acceptUpgrades(unixOrigin, wss);
  acceptUpgrades(unixTlsOrigin, wss);
  await new Promise<void>((resolve) => unixOrigin.listen(unixSocket, resolve));
  await new Promise<void>((resolve) => unixTlsOrigin.listen(unixTlsSocket, resolve));

  edge = await startEdge();
  const credentials = await createTunnel(edge, 'sockets', ['app.example.test', 'ws.example.test', 'wss.example.test', 'down.example.test', 'status.example.test', 'unix.example.test', 'unixtls.example.test']);
  tunnelId = credentials.tunnelId;
  connector = await startConnector(credentials, {
    'ha-connections': 2,
    ingress: [
      { hostname: 'app.example.test', service: origin.url },
      { hostname: 'ws.example.test', service: `ws://127.0.0.1:${origin.port}` },
      { hostname: 'wss.example.test', service: `wss://127.0.0.1:${wssPort}`, originRequest: { caPool: path.join(caDir, 'ca.pem') } },
      { hostname: 'down.example.test', service: `ws://127.0.0.1:${await freePort()}` },
      { hostname: 'unix.example.test', service: `unix:${unixSocket}` },
      { hostname: 'unixtls.example.test', service: `unix+tls:${unixTlsSocket}`, originRequest: { caPool: path.join(caDir, 'unix-ca.pem') } },
      { service: 'http_status:404' },
    ],
  });
  await eventually(() => edge.edge.connections.forTunnel(tunnelId).length === 2, 15_000, 'both HA connections');
});

after(async () => {
  await stopAll(
    () => connector?.stop(0),
    () => edge?.stop(),
    () => origin?.close(),
    () => new Promise<void>((resolve) => {
      wssOrigin?.closeAllConnections();
      wssOrigin?.close(() => resolve());
    }),
    ...unixOrigins.map((server) => () => new Promise<void>((resolve) => {
      (server as http.Server).closeAllConnections();
      server.close(() => resolve());
    })),
    () => removeDir(edge.dataDir),
    () => removeDir(caDir),
  );
});

/** A visitor's WebSocket to `host` through the edge; resolves once open, with the 101 it got. */
async function connect(pathname = '/chat', host = 'app.example.test', protocols: string[] = []): Promise<{ ws: WebSocket; upgrade: IncomingMessage }> {
  const ws = new WebSocket(`${edge.url.replace('http:', 'ws:')}${pathname}`, protocols, { headers: { host }, handshakeTimeout: 15_000 });
  const [upgrade] = (await Promise.race([
    once(ws, 'upgrade'),
    once(ws, 'unexpected-response').then(([, res]) => Promise.reject(new Error(`upgrade refused: ${(res as IncomingMessage).statusCode}`))),
  ])) as [IncomingMessage];
  if (ws.readyState !== WebSocket.OPEN) await once(ws, 'open');
  return { ws, upgrade };
}

/** Sends one message and waits for the next one back. */
async function roundTrip(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; isBinary: boolean }> {
  const reply = once(ws, 'message') as Promise<[Buffer, boolean]>;
  ws.send(data);
  const [received, isBinary] = await reply;
  return { data: received, isBinary };
}

/** What a visitor gets when the upgrade is refused: the status, headers and body of an ordinary response. */
async function refusal(pathname: string, host = 'app.example.test'): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  const ws = new WebSocket(`${edge.url.replace('http:', 'ws:')}${pathname}`, { headers: { host }, handshakeTimeout: 15_000 });
  ws.on('error', () => undefined);
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() };
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve({ code: -1, reason: 'already closed' });
  return once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
}

function streamsOnTunnel(): number {
  return edge.edge.connections.forTunnel(tunnelId).reduce((sum, c) => sum + c.activeStreams, 0);
}

describe('WebSocket through the tunnel', () => {
  it('text and binary messages echo both ways unchanged', async () => {
    const { ws } = await connect();
    const text = await roundTrip(ws, 'héllo, wörld ✓');
    assert.equal(text.isBinary, false);
    assert.equal(text.data.toString(), 'héllo, wörld ✓');
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 256));
    const binary = await roundTrip(ws, bytes);
    assert.equal(binary.isBinary, true);
    assert.ok(binary.data.equals(bytes));
    ws.close();
    await closed(ws);
  });

  it('a large binary message (8 MiB) arrives intact', async () => {
    const { ws } = await connect();
    const big = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
    const echoed = await roundTrip(ws, big);
    assert.equal(echoed.data.length, big.length);
    assert.ok(echoed.data.equals(big));
    ws.close();
    await closed(ws);
  });

  it('the visitor gets a 101 with the origin\'s accept and subprotocol headers and a ray id', async () => {
    const { ws, upgrade } = await connect('/proto?room=7', 'app.example.test', ['chat.v1', 'chat.v2']);
    assert.equal(upgrade.statusCode, 101);
    assert.equal(ws.protocol, 'chat.v2');
    assert.equal(upgrade.headers['sec-websocket-protocol'], 'chat.v2');
    assert.ok(upgrade.headers['sec-websocket-accept']);
    assert.match(String(upgrade.headers['burrow-ray']), RAY);
    const seen = accepted.at(-1)!.req;
    assert.equal(seen.url, '/proto?room=7');
    assert.equal(seen.headers.host, 'app.example.test');
    assert.equal(seen.headers['burrow-ray'], upgrade.headers['burrow-ray']);
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['burrow-upgrade'], undefined);
    ws.close();
    await closed(ws);
  });

  it('ping and pong pass both ways', async () => {
    const { ws } = await connect();
    const pong = once(ws, 'pong');
    ws.ping(Buffer.from('from-visitor'));
    assert.equal(String((await pong)[0]), 'from-visitor');
    const ping = once(ws, 'ping');
    ws.send('ping-me');
    assert.equal(String((await ping)[0]), 'from-origin');
    ws.close();
    await closed(ws);
  });

  it('a close code and reason from the visitor reach the origin', async () => {
    const { ws } = await connect();
    const originSocket = accepted.at(-1)!.socket;
    const atOrigin = once(originSocket, 'close');
    ws.close(4001, 'visitor leaves');
    const [code, reason] = await atOrigin;
    assert.equal(code, 4001);
    assert.equal(String(reason), 'visitor leaves');
    await closed(ws);
  });

  it('a close code and reason from the origin reach the visitor', async () => {
    const { ws } = await connect();
    const done = closed(ws);
    ws.send('close-with 4002 origin-leaves');
    assert.deepEqual(await done, { code: 4002, reason: 'origin-leaves' });
  });

  it('ws:// services take upgrades and plain requests', async () => {
    const { ws } = await connect('/chat', 'ws.example.test');
    assert.equal((await roundTrip(ws, 'over ws://')).data.toString(), 'over ws://');
    ws.close();
    await closed(ws);
    const plain = await visit(edge.url, '/page', { host: 'ws.example.test' });
    assert.equal(plain.text, 'plain /page');
  });

  it('wss:// services are reached over TLS verified with caPool', async () => {
    const { ws } = await connect('/chat', 'wss.example.test');
    assert.equal((await roundTrip(ws, 'over wss://')).data.toString(), 'over wss://');
    ws.close();
    await closed(ws);
  });

  for (const [scheme, host, tls] of [
    ['unix:', 'unix.example.test', false],
    ['unix+tls:', 'unixtls.example.test', true],
  ] as const) {
    it(`${scheme} services take upgrades: messages echo both ways and close codes pass, over the unix socket${tls ? ' with TLS verified by caPool' : ''}`, async () => {
      const { ws, upgrade } = await connect('/socket?via=unix', host, ['chat.v2']);
      assert.equal(upgrade.statusCode, 101);
      assert.equal(ws.protocol, 'chat.v2');
      const seen = accepted.at(-1)!.req;
      assert.equal(seen.url, '/socket?via=unix');
      assert.equal(seen.headers.host, host);
      assert.equal(seen.socket.remoteAddress, undefined, 'the origin was reached over a unix socket, not TCP');
      assert.equal((seen.socket as TLSSocket).encrypted === true, tls);

      assert.equal((await roundTrip(ws, `over ${scheme}`)).data.toString(), `over ${scheme}`);
      const bytes = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) % 256));
      const binary = await roundTrip(ws, bytes);
      assert.equal(binary.isBinary, true);
      assert.ok(binary.data.equals(bytes));

      const atVisitor = closed(ws);
      ws.send('close-with 4001 unix-bye');
      assert.deepEqual(await atVisitor, { code: 4001, reason: 'unix-bye' });

      const plain = await visit(edge.url, '/page', { host });
      assert.equal(plain.text, `${scheme.replace(':', '')} plain /page`);
    });
  }
});

describe('refused upgrades reach the visitor as ordinary HTTP responses', () => {
  it('a 403 with a body from the origin', async () => {
    const response = await refusal('/forbidden');
    assert.equal(response.status, 403);
    assert.equal(response.body, 'not for you\n');
    assert.equal(response.headers['x-refused-by'], 'origin');
    assert.match(String(response.headers['burrow-ray']), RAY);
  });

  it('a chunked 401 from the origin', async () => {
    const response = await refusal('/chunked-refusal');
    assert.equal(response.status, 401);
    assert.equal(response.body, 'log in!\n');
    assert.equal(response.headers['www-authenticate'], 'Bearer');
  });

  it('an origin that hangs up without answering is a 502 naming the ray', async () => {
    const response = await refusal('/hang-up');
    assert.equal(response.status, 502);
    assert.match(response.body, /Ray ID: <code>[0-9a-f]{16}-test<\/code>/);
  });

  it('an origin that is down is a 502', async () => {
    const response = await refusal('/chat', 'down.example.test');
    assert.equal(response.status, 502);
    assert.match(response.body, /could not be reached/);
  });

  it('an http_status rule answers the upgrade with its status', async () => {
    const response = await refusal('/chat', 'status.example.test');
    assert.equal(response.status, 404);
  });

  it('an unknown hostname is a 404 from the edge', async () => {
    const response = await refusal('/chat', 'nobody.example.test');
    assert.equal(response.status, 404);
    assert.match(response.body, /Unknown hostname/);
  });
});

describe('teardown', () => {
  it('when the origin drops a socket, the visitor\'s socket closes', async () => {
    const { ws } = await connect();
    const done = closed(ws);
    accepted.at(-1)!.socket.terminate();
    await done;
    await eventually(() => streamsOnTunnel() === 0, 10_000, 'the tunnel stream to close');
  });

  it('when the visitor drops its socket, the origin\'s socket closes', async () => {
    const { ws } = await connect();
    const atOrigin = closed(accepted.at(-1)!.socket);
    ws.terminate();
    await atOrigin;
    await eventually(() => streamsOnTunnel() === 0, 10_000, 'the tunnel stream to close');
  });

  it('a socket survives another HA connection dropping; its own connection dropping closes it', async () => {
    await eventually(() => edge.edge.connections.forTunnel(tunnelId).length === 2, 15_000, 'both HA connections');
    const { ws } = await connect();
    const connections = edge.edge.connections.forTunnel(tunnelId);
    const carrying = connections.find((c) => c.activeStreams === 1);
    const other = connections.find((c) => c !== carrying);
    assert.ok(carrying && other, `streams per connection: ${connections.map((c) => c.activeStreams).join(', ')}`);

    other.session.destroy();
    await eventually(() => !edge.edge.connections.forTunnel(tunnelId).includes(other), 10_000, 'the other connection to go');
    for (let i = 0; i < 5; i++) assert.equal((await roundTrip(ws, `still here ${i}`)).data.toString(), `still here ${i}`);
    assert.equal(ws.readyState, WebSocket.OPEN);

    const originSocket = accepted.at(-1)!.socket;
    const atVisitor = closed(ws);
    const atOrigin = closed(originSocket);
    carrying.session.destroy();
    const { code } = await atVisitor;
    assert.equal(code, 1006, 'the visitor sees an abnormal closure');
    await atOrigin;
    // The connector reconnects; new sockets work again.
    await eventually(() => edge.edge.connections.forTunnel(tunnelId).length === 2, 15_000, 'the connector to reconnect');
    const again = await connect();
    assert.equal((await roundTrip(again.ws, 'after reconnect')).data.toString(), 'after reconnect');
    again.ws.close();
    await closed(again.ws);
  });
});

describe('many sockets', () => {
  it('1,000 concurrent sockets over one connector each echo their own messages', async () => {
    await eventually(() => streamsOnTunnel() === 0, 10_000, 'earlier streams to close');
    const before = accepted.length;
    const sockets: WebSocket[] = [];
    try {
      // Opened in batches so the loopback accept queue is never the thing under test.
      for (let batch = 0; batch < 10; batch++) {
        const opened = await Promise.all(Array.from({ length: 100 }, () => connect('/many')));
        sockets.push(...opened.map((o) => o.ws));
      }
      assert.equal(accepted.length - before, 1000);
      assert.equal(streamsOnTunnel(), 1000);
      for (let round = 0; round < 3; round++) {
        const replies = await Promise.all(sockets.map((ws, i) => roundTrip(ws, `socket ${i} round ${round}`)));
        replies.forEach((reply, i) => assert.equal(reply.data.toString(), `socket ${i} round ${round}`));
      }
    } finally {
      for (const ws of sockets) ws.close(1000, 'done');
    }
    await eventually(() => sockets.every((ws) => ws.readyState === WebSocket.CLOSED), 30_000, 'all visitor sockets to close');
    await eventually(() => accepted.slice(before).every(({ socket }) => socket.readyState === WebSocket.CLOSED), 30_000, 'all origin sockets to close');
    await eventually(() => streamsOnTunnel() === 0, 30_000, 'every tunnel stream to close');
    await eventually(() => connector.connections.every((c) => c.inFlight === 0), 30_000, 'the connector to finish every stream');
  });
});
