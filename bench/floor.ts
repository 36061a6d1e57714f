// The floor under Burrow's design: the same hops and the same transport (TLS 1.3, the connector as HTTP/2 server on
// the socket it dialed, one stream per request, the edge's batched body relay, http-proxy-3 with a keep-alive pool to
// the origin), in the lightest form that design allows, and nothing else: no registration, routing, ray ids,
// forwarding headers, timeouts, plugins, metrics or logs. The connector takes each request as the raw HTTP/2 `stream`
// event (no compat request and response objects) and hands http-proxy-3 a minimal request/response pair over the
// stream; it answers on the stream itself. What this reaches on a machine bounds what Burrow can reach there.
//
//   node --import tsx bench/floor.ts --http 127.0.0.1:8080 --origin http://127.0.0.1:3000 [--connections 4]
//
// The edge runs in this process, the connector in a child process (as in Burrow, each has its own event loop).
// bench/peers-floor.sh runs it as a scenario of ../shared/bench/peers.sh, next to direct, nginx, ssh -R and Burrow.
import http from 'node:http';
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import tls from 'node:tls';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { createProxyServer } from 'http-proxy-3';
import { createCertificateAuthority, issueServerCertificate, type CertifiedKey } from '../plugins/origin-ca/ca.ts';
import { relayBody } from '../core/edge/visitor-proxy.ts';
import { splitHostPort } from '../core/transport/host.ts';
import { EDGE_SERVER_NAME, SESSION_WINDOW, http2SessionOptions } from '../core/transport/protocol.ts';
import { HOP_BY_HOP } from '../core/transport/hop-by-hop.ts';

interface Material {
  ca: CertifiedKey;
  server: CertifiedKey;
  tunnelPort: number;
  origin: string;
  connections: number;
}

if (process.argv[2] === '--connector') {
  process.once('message', (material: Material) => void connector(material));
} else {
  await edge();
}

async function edge(): Promise<void> {
  const { values } = parseArgs({ options: { http: { type: 'string' }, origin: { type: 'string' }, connections: { type: 'string', default: '4' } } });
  if (!values.http || !values.origin) throw new Error('usage: bench/floor.ts --http HOST:PORT --origin URL [--connections N]');
  const { host, port } = splitHostPort(values.http);
  const ca = await createCertificateAuthority({ commonName: 'Burrow floor CA' });
  const server = await issueServerCertificate(ca, { commonName: EDGE_SERVER_NAME, dnsNames: [EDGE_SERVER_NAME] });

  const sessions: Array<{ session: ClientHttp2Session; active: number }> = [];
  const tunnel = tls.createServer({ key: server.keyPem, cert: server.certPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' }, (socket) => {
    socket.setNoDelay(true);
    const session = http2.connect(`https://${EDGE_SERVER_NAME}`, { ...http2SessionOptions, createConnection: () => socket });
    session.on('connect', () => session.setLocalWindowSize(SESSION_WINDOW));
    session.on('error', (error) => console.error(`tunnel connection failed: ${error.message}`));
    const entry = { session, active: 0 };
    sessions.push(entry);
    session.once('close', () => sessions.splice(sessions.indexOf(entry), 1));
  });
  tunnel.listen(0, '127.0.0.1');
  await once(tunnel, 'listening');

  const visitors = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    let entry = sessions[0];
    for (const candidate of sessions) if (candidate.active < entry!.active) entry = candidate;
    if (!entry) return void res.writeHead(530, { 'content-length': 0 }).end();
    const headers: OutgoingHttpHeaders = { ':method': req.method, ':path': req.url, ':authority': req.headers.host, ':scheme': 'http' };
    for (const name in req.headers) if (!HOP_BY_HOP.has(name)) headers[name] = req.headers[name];
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const stream = entry.session.request(headers, { endStream: !hasBody });
    entry.active++;
    stream.once('close', () => entry.active--);
    if (hasBody) req.pipe(stream);
    stream.once('response', (response: IncomingHttpHeaders) => {
      const out: Record<string, string | string[]> = {};
      for (const name in response) if (name[0] !== ':' && !HOP_BY_HOP.has(name)) out[name] = response[name]!;
      res.writeHead(Number(response[':status']), out);
      relayBody(stream, res);
    });
    stream.once('error', () => res.headersSent ? res.destroy() : res.writeHead(502, { 'content-length': 0 }).end());
    // Cancel only a stream still in use: nghttp2 counts a reset of a finished stream as an invalid frame.
    res.once('close', () => res.writableFinished || stream.closed || stream.destroyed || stream.close(http2.constants.NGHTTP2_CANCEL));
  });
  visitors.listen(port, host);
  await once(visitors, 'listening');

  const material: Material = { ca, server, tunnelPort: (tunnel.address() as { port: number }).port, origin: values.origin, connections: Number(values.connections) };
  const child = fork(new URL(import.meta.url).pathname, ['--connector'], { execArgv: process.execArgv, stdio: 'inherit' });
  child.send(material);
  child.once('exit', (code) => process.exit(code ?? 1));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (child.kill(), process.exit(0)));
  while (sessions.length < material.connections) await new Promise((r) => setTimeout(r, 20));
  console.log(`floor ready: http://${values.http} -> ${material.connections} tunnel connections -> ${values.origin}`);
}

/** What http-proxy-3 reads of a request: an HTTP/1.1 view of the stream's headers. */
interface FloorRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  httpVersionMajor: 1;
  stream: ServerHttp2Stream;
  socket: unknown;
  on(event: string, listener: (...args: unknown[]) => void): FloorRequest;
}

/** What http-proxy-3 reads of a response when it leaves the answer to us (selfHandleResponse). */
interface FloorResponse {
  stream: ServerHttp2Stream;
  headersSent: boolean;
  finished: boolean;
  readonly writableFinished: boolean;
  on(event: string, listener: (...args: unknown[]) => void): FloorResponse;
}

/** The body of a request without one: the outgoing request ends at once. */
const NO_BODY = { pipe: (proxyReq: http.ClientRequest) => proxyReq.end() };

function connector(material: Material): void {
  const agent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });
  const proxy = createProxyServer({ agent, xfwd: false, selfHandleResponse: true });
  const target = new URL(material.origin);
  proxy.on('proxyRes', (proxyRes, _req, res) => {
    const { stream } = res as unknown as FloorResponse;
    if (stream.destroyed) return void proxyRes.destroy();
    const out: OutgoingHttpHeaders = { ':status': proxyRes.statusCode ?? 502 };
    for (const name in proxyRes.headers) if (!HOP_BY_HOP.has(name)) out[name] = proxyRes.headers[name];
    stream.respond(out);
    proxyRes.pipe(stream);
  });
  const serve = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const outgoing: Record<string, string | string[]> = {};
    for (const name in headers) if (name[0] !== ':') outgoing[name] = headers[name]!;
    outgoing.host = headers[':authority']!;
    const req: FloorRequest = {
      method: headers[':method']!,
      url: headers[':path']!,
      headers: outgoing,
      httpVersionMajor: 1,
      stream,
      socket: stream.session?.socket,
      on(event, listener) {
        stream.on(event, listener);
        return this;
      },
    };
    const res: FloorResponse = {
      stream,
      headersSent: false,
      finished: false,
      get writableFinished() {
        return stream.writableFinished;
      },
      on(event, listener) {
        stream.on(event, listener);
        return this;
      },
    };
    proxy.web(req as never, res as never, { target, buffer: (stream.endAfterHeaders ? NO_BODY : stream) as never }, () => {
      if (stream.destroyed) return;
      if (!stream.headersSent) stream.respond({ ':status': 502, 'content-length': 0 }, { endStream: true });
      else stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
  };
  process.once('disconnect', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
  for (let i = 0; i < material.connections; i++) {
    const socket = tls.connect({ host: '127.0.0.1', port: material.tunnelPort, servername: EDGE_SERVER_NAME, ca: material.ca.certPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' });
    socket.setNoDelay(true);
    socket.once('secureConnect', () => {
      const session = http2.performServerHandshake(socket, http2SessionOptions);
      session.setLocalWindowSize(SESSION_WINDOW);
      session.on('stream', serve);
      session.on('error', () => undefined);
    });
    socket.once('close', () => process.exit(1));
  }
}
