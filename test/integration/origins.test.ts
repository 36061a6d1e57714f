// Every origin kind and originRequest option end to end: unix sockets, HTTPS trust, SNI, timeouts, pools, HTTP/2, hello_world, http_status.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Connector } from '../../core/connector/connector.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { configSchema } from '../../config/schema.ts';
import { createTunnel, eventually, removeDir, startConnector, startEdge, tempDir, type TestEdge } from '../helpers/harness.ts';
import { stopAll, visit } from '../helpers/http.ts';
import { originCertificates } from '../helpers/tls.ts';
import { requireProgram } from '../helpers/system.ts';

/** What an echo origin saw. */
interface Seen {
  method: string;
  url: string;
  httpVersion: string;
  headers: http.IncomingHttpHeaders;
  bodyBytes: number;
  remotePort: number;
}

function echo(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
  let bodyBytes = 0;
  req.on('data', (chunk: Buffer) => void (bodyBytes += chunk.length));
  req.on('end', () => {
    const seen: Seen = { method: req.method!, url: req.url!, httpVersion: req.httpVersion, headers: req.headers as http.IncomingHttpHeaders, bodyBytes, remotePort: req.socket.remotePort ?? 0 };
    const body = JSON.stringify(seen);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  });
}

/** An origin server that tracks its open connections. */
interface Tracked {
  server: net.Server;
  open: Set<net.Socket>;
  port: number;
}

async function listen<T extends net.Server>(server: T, where: string | number = 0): Promise<T> {
  await new Promise<void>((resolve) => (typeof where === 'string' ? server.listen(where, resolve) : server.listen(where, '127.0.0.1', resolve)));
  return server;
}

async function tracked(server: net.Server): Promise<Tracked> {
  const open = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  await listen(server);
  return { server, open, port: (server.address() as AddressInfo).port };
}

/** Holds requests until `count` are waiting, then answers them all: forces `count` parallel connections. */
function heldUntil(count: number): http.RequestListener {
  let waiting: http.ServerResponse[] = [];
  return (req, res) => {
    req.resume();
    waiting.push(res);
    if (waiting.length >= count) {
      for (const held of waiting) held.writeHead(200, { 'content-length': '2' }).end('ok');
      waiting = [];
    }
  };
}

let edge: TestEdge;
let connector: Connector;
let work: string;
const servers: net.Server[] = [];
let pooled: Tracked;
let pooledDefault: Tracked;
let idle: Tracked;
const blackholeSockets = new Set<net.Socket>();
let single: Tracked;
let probed: Tracked;
let probedDefault: Tracked;
let probedH2: Tracked;
let stalled: ChildProcess | undefined;

/**
 * A port whose TCP handshake never completes: a listener with a backlog of 1 in a stopped process, its accept
 * queue filled, so the kernel drops further SYNs and connect() hangs (as with a firewalled origin).
 */
async function unconnectablePort(): Promise<number> {
  const code = "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>console.log(s.address().port))";
  stalled = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => stalled!.stdout!.once('data', (chunk: Buffer) => resolve(Number(String(chunk).trim()))));
  stalled.kill('SIGSTOP');
  // A stopped process outlives a crashed test run otherwise.
  process.once('exit', () => stalled?.kill('SIGKILL'));
  let connected = 0;
  for (let i = 0; i < 4; i++) {
    const filler = net.connect(port, '127.0.0.1', () => connected++);
    filler.on('error', () => {});
    blackholeSockets.add(filler);
  }
  await eventually(() => connected >= 2, 10_000, 'the accept queue to fill');
  return port;
}

before(async () => {
  work = await tempDir('burrow-origins-');
  const certs = await originCertificates();
  const caPool = path.join(work, 'origin-ca.pem');
  await writeFile(caPool, certs.caPem);
  const localhost = { key: certs.localhost.keyPem, cert: certs.localhost.certPem };

  const unixSocket = path.join(work, 'app.sock');
  const unixTlsSocket = path.join(work, 'app-tls.sock');
  servers.push(await listen(http.createServer(echo), unixSocket));
  servers.push(await listen(https.createServer(localhost, echo), unixTlsSocket));
  const unixH2Socket = path.join(work, 'app-h2.sock');
  servers.push(await listen(http2.createSecureServer({ ...localhost, allowHTTP1: true }, echo), unixH2Socket));
  const httpsOrigin = await listen(https.createServer(localhost, echo));
  const internalOrigin = await listen(https.createServer({ key: certs.internal.keyPem, cert: certs.internal.certPem }, echo));
  const h2Origin = await listen(http2.createSecureServer({ ...localhost, allowHTTP1: true }, echo));
  const plainOrigin = await listen(http.createServer(echo));
  // Accepts TCP and never speaks TLS: the handshake can only time out.
  const blackhole = await listen(net.createServer((socket) => blackholeSockets.add(socket)));
  servers.push(httpsOrigin, internalOrigin, h2Origin, plainOrigin, blackhole);
  pooled = await tracked(http.createServer(heldUntil(6)));
  pooledDefault = await tracked(http.createServer(heldUntil(6)));
  idle = await tracked(http.createServer(echo));
  single = await tracked(http.createServer(echo));
  probed = await tracked(http.createServer(echo));
  probedDefault = await tracked(http.createServer(echo));
  probedH2 = await tracked(http2.createSecureServer({ ...localhost, allowHTTP1: true }, echo));
  servers.push(pooled.server, pooledDefault.server, idle.server, single.server, probed.server, probedDefault.server, probedH2.server);
  const unconnectable = await unconnectablePort();
  const port = (server: net.Server) => (server.address() as AddressInfo).port;

  edge = await startEdge();
  const rules = [
    { hostname: 'unix.example.test', service: `unix:${unixSocket}`, originRequest: { httpHostHeader: 'api.internal' } },
    { hostname: 'unixtls.example.test', service: `unix+tls:${unixTlsSocket}`, originRequest: { caPool } },
    { hostname: 'unixh2.example.test', service: `unix+tls:${unixH2Socket}`, originRequest: { caPool, http2Origin: true } },
    { hostname: 'unixtls-h1only.example.test', service: `unix+tls:${unixTlsSocket}`, originRequest: { caPool, http2Origin: true } },
    { hostname: 'selfsigned.example.test', service: `https://127.0.0.1:${port(httpsOrigin)}` },
    { hostname: 'capool.example.test', service: `https://127.0.0.1:${port(httpsOrigin)}`, originRequest: { caPool } },
    { hostname: 'notlsverify.example.test', service: `https://127.0.0.1:${port(httpsOrigin)}`, originRequest: { noTLSVerify: true } },
    { hostname: 'sni.example.test', service: `https://127.0.0.1:${port(internalOrigin)}`, originRequest: { caPool, originServerName: 'origin.internal' } },
    { hostname: 'nosni.example.test', service: `https://127.0.0.1:${port(internalOrigin)}`, originRequest: { caPool } },
    { hostname: 'tlstimeout.example.test', service: `https://127.0.0.1:${port(blackhole)}`, originRequest: { tlsTimeout: '1s' } },
    { hostname: 'tlstimeout-h2.example.test', service: `https://127.0.0.1:${port(blackhole)}`, originRequest: { tlsTimeout: '1s', http2Origin: true } },
    { hostname: 'h2.example.test', service: `https://localhost:${port(h2Origin)}`, originRequest: { caPool, http2Origin: true } },
    { hostname: 'h1.example.test', service: `https://localhost:${port(h2Origin)}`, originRequest: { caPool } },
    { hostname: 'h2-untrusted.example.test', service: `https://localhost:${port(h2Origin)}`, originRequest: { http2Origin: true } },
    { hostname: 'h2-host.example.test', service: `https://localhost:${port(h2Origin)}`, originRequest: { caPool, http2Origin: true, httpHostHeader: 'h2.internal' } },
    { hostname: 'pool.example.test', service: `http://127.0.0.1:${pooled.port}`, originRequest: { keepAliveConnections: 2 } },
    { hostname: 'pool-default.example.test', service: `http://127.0.0.1:${pooledDefault.port}` },
    { hostname: 'idle.example.test', service: `http://127.0.0.1:${idle.port}`, originRequest: { keepAliveTimeout: '1s' } },
    { hostname: 'nopool.example.test', service: `http://127.0.0.1:${single.port}`, originRequest: { keepAliveConnections: 0 } },
    { hostname: 'keepalive.example.test', service: `http://127.0.0.1:${probed.port}`, originRequest: { tcpKeepAlive: '7s' } },
    { hostname: 'keepalive-default.example.test', service: `http://127.0.0.1:${probedDefault.port}` },
    { hostname: 'keepalive-h2.example.test', service: `https://localhost:${probedH2.port}`, originRequest: { caPool, http2Origin: true, tcpKeepAlive: '7s' } },
    { hostname: 'connecttimeout.example.test', service: `http://127.0.0.1:${unconnectable}`, originRequest: { connectTimeout: '1s' } },
    { hostname: 'nochunk.example.test', service: `http://127.0.0.1:${port(plainOrigin)}`, originRequest: { disableChunkedEncoding: true } },
    { hostname: 'nochunk-h2.example.test', service: `https://localhost:${port(h2Origin)}`, originRequest: { caPool, http2Origin: true, disableChunkedEncoding: true } },
    { hostname: 'chunk.example.test', service: `http://127.0.0.1:${port(plainOrigin)}` },
    { hostname: 'hello.example.test', service: 'hello_world' },
    { hostname: 's200.example.test', service: 'http_status:200' },
    { hostname: 's204.example.test', service: 'http_status:204' },
    { hostname: 's302.example.test', service: 'http_status:302' },
    { hostname: 's418.example.test', service: 'http_status:418' },
    { hostname: 's599.example.test', service: 'http_status:599' },
    { service: 'http_status:404' },
  ];
  const credentials = await createTunnel(edge, 'origins', ['*.example.test']);
  connector = await startConnector(credentials, { ingress: rules });
});

after(async () => {
  for (const socket of blackholeSockets) socket.destroy();
  stalled?.kill('SIGKILL');
  await stopAll(
    () => connector?.stop(0),
    () => edge?.stop(),
    ...servers.map((server) => () => {
      (server as http.Server).closeAllConnections?.();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }),
    () => removeDir(edge.dataDir),
    () => removeDir(work),
  );
});

async function seen(host: string, pathname = '/', options: Parameters<typeof visit>[2] = {}): Promise<Seen> {
  const res = await visit(edge.url, pathname, { host, ...options });
  assert.equal(res.status, 200, `${host}${pathname}: ${res.status} ${res.text.slice(0, 400)}`);
  return JSON.parse(res.text) as Seen;
}

describe('unix socket origins', () => {
  it('proxies unix:PATH, with httpHostHeader', async () => {
    const body = Buffer.alloc(200_000, 7);
    const got = await seen('unix.example.test', '/api/items?x=1', { method: 'POST', body });
    assert.equal(got.url, '/api/items?x=1');
    assert.equal(got.method, 'POST');
    assert.equal(got.bodyBytes, body.length);
    assert.equal(got.headers.host, 'api.internal');
    assert.ok(got.headers['burrow-ray']);
  });

  it('proxies unix+tls:PATH, verifying the certificate with caPool', async () => {
    const got = await seen('unixtls.example.test', '/secure');
    assert.equal(got.url, '/secure');
    assert.equal(got.headers.host, 'unixtls.example.test');
  });
});

describe('HTTPS origins: trust', () => {
  it('answers 502 with a clear message when the certificate is not trusted', async () => {
    const res = await visit(edge.url, '/', { host: 'selfsigned.example.test' });
    assert.equal(res.status, 502);
    assert.match(res.text, /failed TLS verification/);
    assert.match(res.text, /caPool or noTLSVerify/);
  });

  it('trusts the origin with caPool', async () => {
    assert.equal((await seen('capool.example.test', '/ok')).url, '/ok');
  });

  it('skips verification with noTLSVerify', async () => {
    assert.equal((await seen('notlsverify.example.test', '/ok')).url, '/ok');
  });

  it('verifies against originServerName, and fails without it when the certificate names another host', async () => {
    assert.equal((await seen('sni.example.test', '/named')).url, '/named');
    const res = await visit(edge.url, '/', { host: 'nosni.example.test' });
    assert.equal(res.status, 502);
    assert.match(res.text, /failed TLS verification/);
  });

  it('answers 504 naming tlsTimeout when the TLS handshake never completes', async () => {
    for (const host of ['tlstimeout.example.test', 'tlstimeout-h2.example.test']) {
      const res = await visit(edge.url, '/', { host });
      assert.equal(res.status, 504, host);
      assert.match(res.text, /did not complete the TLS handshake within 1000 ms \(originRequest\.tlsTimeout\)/, host);
    }
  });
});

describe('connectTimeout', () => {
  it('answers 504 when the origin does not accept the connection in time', async () => {
    const res = await visit(edge.url, '/', { host: 'connecttimeout.example.test' });
    assert.equal(res.status, 504);
    assert.match(res.text, /did not accept the connection within 1000 ms/);
  });
});

describe('http2Origin', () => {
  it('talks HTTP/2 to the origin when set, HTTP/1.1 otherwise', async () => {
    assert.equal((await seen('h2.example.test', '/v2')).httpVersion, '2.0');
    assert.equal((await seen('h1.example.test', '/v1')).httpVersion, '1.1');
  });

  it('works over unix+tls sockets, falling back to HTTP/1.1 when the origin offers no h2', async () => {
    assert.equal((await seen('unixh2.example.test', '/sock')).httpVersion, '2.0');
    const fallback = await seen('unixtls-h1only.example.test', '/sock', { method: 'POST', body: 'hello' });
    assert.equal(fallback.httpVersion, '1.1');
    assert.equal(fallback.bodyBytes, 5);
  });

  it('streams request bodies both ways and keeps the path, query and headers', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 1);
    const got = await seen('h2.example.test', '/upload?name=a%20b', { method: 'PUT', body, headers: { 'x-custom': 'kept' }, timeoutMs: 60_000 });
    assert.equal(got.httpVersion, '2.0');
    assert.equal(got.method, 'PUT');
    assert.equal(got.url, '/upload?name=a%20b');
    assert.equal(got.bodyBytes, body.length);
    assert.equal(got.headers['x-custom'], 'kept');
    assert.equal(got.headers[':authority'], 'h2.example.test');
    assert.ok(got.headers['x-forwarded-for']);
  });

  it('sends httpHostHeader as the :authority', async () => {
    assert.equal((await seen('h2-host.example.test')).headers[':authority'], 'h2.internal');
  });

  it('still verifies the certificate', async () => {
    const res = await visit(edge.url, '/', { host: 'h2-untrusted.example.test' });
    assert.equal(res.status, 502);
    assert.match(res.text, /failed TLS verification/);
  });
});

describe('keep-alive pool', () => {
  async function sixAtOnce(host: string): Promise<void> {
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => visit(edge.url, `/${i}`, { host })));
    for (const answer of answers) assert.equal(answer.status, 200);
  }

  it('keeps at most keepAliveConnections idle connections', async () => {
    await sixAtOnce('pool.example.test');
    await eventually(() => pooled.open.size === 2, 10_000, `2 idle connections (have ${pooled.open.size})`);
    // The default (100) keeps all six.
    await sixAtOnce('pool-default.example.test');
    await eventually(() => pooledDefault.open.size === 6, 10_000, 'six idle connections');
    assert.equal(pooled.open.size, 2);
  });

  it('keeps no idle connection with keepAliveConnections: 0', async () => {
    const first = await seen('nopool.example.test', '/1');
    const second = await seen('nopool.example.test', '/2');
    assert.notEqual(second.remotePort, first.remotePort, 'each request opened its own connection');
    await eventually(() => single.open.size === 0, 10_000, 'no idle connection left');
  });

  it('reuses a connection, and closes it after keepAliveTimeout', async () => {
    const first = await seen('idle.example.test', '/1');
    const second = await seen('idle.example.test', '/2');
    assert.equal(second.remotePort, first.remotePort, 'the second request reused the connection');
    await eventually(() => idle.open.size === 0, 15_000, 'the idle connection to close');
  });
});

describe('tcpKeepAlive', () => {
  /** Seconds until the next TCP keep-alive probe on the connector's connections to `port`, as `ss -o` shows them. */
  function keepAliveTimers(port: number): number[] {
    const out = execFileSync(requireProgram('ss', 'iproute2'), ['-tnoH', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
    // ss prints `1min4sec`, `29sec`, and below 10 s seconds with milliseconds: `6.696ms`.
    return [...out.matchAll(/timer:\(keepalive,([^,]+),/g)].map(([, time]) => {
      const [, min, sec, secMs, ms] = /^(?:(\d+)min)?(?:(\d+)sec)?(?:(\d+\.\d+)ms)?(?:(\d+)ms)?$/.exec(time!) ?? [];
      return Number(min ?? 0) * 60 + Number(sec ?? 0) + Number(secMs ?? 0) + Number(ms ?? 0) / 1000;
    });
  }

  for (const [what, host, origin, limit] of [
    ['tcpKeepAlive: 7s', 'keepalive.example.test', () => probed, 7],
    ['the default (30s)', 'keepalive-default.example.test', () => probedDefault, 30],
    ['tcpKeepAlive: 7s with http2Origin', 'keepalive-h2.example.test', () => probedH2, 7],
  ] as const) {
    it(`probes idle origin connections after ${what}`, async () => {
      await seen(host);
      const timers = keepAliveTimers(origin().port);
      assert.ok(timers.length >= 1, `a keep-alive timer on the connection to ${host}: ${timers}`);
      for (const seconds of timers) assert.ok(seconds > limit - 3 && seconds <= limit, `keep-alive probe in ${seconds} s, expected just under ${limit} s`);
    });
  }
});

describe('disableChunkedEncoding', () => {
  const chunked = () => Readable.from([Buffer.from('part one, '), Buffer.from('part two')]);

  it('keeps the visitor Content-Length and never sends chunked', async () => {
    const got = await seen('nochunk.example.test', '/', { method: 'POST', body: Buffer.from('exactly 20 bytes....') });
    assert.equal(got.headers['content-length'], '20');
    assert.equal(got.headers['transfer-encoding'], undefined);
    assert.equal(got.bodyBytes, 20);
  });

  it('answers 411 to a body of unknown length instead of sending it chunked', async () => {
    for (const host of ['nochunk.example.test', 'nochunk-h2.example.test']) {
      const res = await visit(edge.url, '/', { host, method: 'POST', body: chunked() });
      assert.equal(res.status, 411, host);
      assert.match(res.text, /Content-Length/);
    }
    // Without the option the same request reaches the origin chunked.
    const got = await seen('chunk.example.test', '/', { method: 'POST', body: chunked() });
    assert.equal(got.headers['transfer-encoding'], 'chunked');
    assert.equal(got.bodyBytes, 18);
  });

  it('lets requests without a body through', async () => {
    assert.equal((await seen('nochunk.example.test', '/get')).method, 'GET');
  });
});

describe('hello_world', () => {
  it('shows the request as JSON for Accept: application/json', async () => {
    const res = await visit(edge.url, '/some/path?q=1', { host: 'hello.example.test', headers: { accept: 'application/json', 'x-demo': 'yes' } });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const report = JSON.parse(res.text) as { method: string; path: string; host: string; ray: string; pop: string; headers: Record<string, string>; clientIp: string };
    assert.equal(report.method, 'GET');
    assert.equal(report.path, '/some/path?q=1');
    assert.equal(report.host, 'hello.example.test');
    assert.equal(report.ray, res.headers['burrow-ray']);
    assert.equal(report.pop, 'test');
    assert.equal(report.clientIp, '127.0.0.1');
    assert.equal(report.headers['x-demo'], 'yes');
    assert.equal(report.headers['x-forwarded-for'], '127.0.0.1');
  });

  it('renders an HTML page for browsers, escaping everything the visitor sent', async () => {
    const res = await visit(edge.url, '/<b>path</b>', {
      host: 'hello.example.test',
      method: 'POST',
      body: 'twelve bytes',
      headers: { accept: 'text/html,application/xhtml+xml', 'x-evil': '<script>alert("x")</script>' },
    });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(res.text, /Hello from Burrow/);
    assert.match(res.text, new RegExp(String(res.headers['burrow-ray'])));
    assert.match(res.text, /<th>Method<\/th><td>POST<\/td>/);
    assert.match(res.text, /12 bytes/);
    assert.ok(!res.text.includes('<script>'), 'visitor input must be escaped');
    assert.match(res.text, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
    assert.ok(!res.text.includes('<b>path'), 'the path must be escaped');
  });
});

describe('http_status', () => {
  for (const status of [200, 204, 302, 418, 599]) {
    it(`answers ${status} with an empty body`, async () => {
      const res = await visit(edge.url, '/anything', { host: `s${status}.example.test` });
      assert.equal(res.status, status);
      assert.equal(res.body.length, 0);
      assert.ok(res.headers['burrow-ray']);
    });
  }

  it('the catch-all answers 404', async () => {
    assert.equal((await visit(edge.url, '/', { host: 'nothing-here.example.test' })).status, 404);
  });

  it('refuses an informational status with a clear config error', async () => {
    const connector = new Connector({ config: configSchema.parse({ ingress: [{ service: 'http_status:101' }] }), log: silentLogger });
    await assert.rejects(connector.prepare(), /ingress\[0\]\.service: "http_status:101" is an informational \(1xx\) status, which cannot end a response\. Fix: use a final status from 200 to 599/);
    await connector.stop(0);
  });
});
