// One connector, many hostnames and path rules over every origin kind: `burrow tunnel ingress rule` agrees with live traffic.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo, Server } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import type { Connector } from '../../core/connector/connector.ts';
import { createTunnel, removeDir, startEdge, tempDir, type TestEdge } from '../helpers/harness.ts';
import { connectorFromConfigFile } from '../helpers/config-files.ts';
import { stopAll, visit, type VisitorResponse } from '../helpers/http.ts';
import { runCli } from '../helpers/cli.ts';
import { originCertificates } from '../helpers/tls.ts';

/** An origin that names itself, so a response tells which origin served it. */
const named = (name: string): http.RequestListener => (req, res) => {
  req.resume();
  const body = JSON.stringify({ origin: name, url: req.url });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body);
};

const LOGO = 'LOGO-FROM-THE-FILE-ORIGIN';
const SITE_INDEX = '<h1>static site</h1>';

let edge: TestEdge;
let connector: Connector;
let work: string;
let configFile: string;
const servers: Server[] = [];

/** What each rule of the config below serves, by rule number (1-based, as the CLI prints it). */
const SERVED_BY: Record<number, string> = {
  1: 'http-api',
  2: 'http-app',
  3: 'https-secure',
  4: 'unix',
  5: 'file',
  6: 'file',
  7: 'hello_world',
  8: 'ws-chat',
  9: 'status:418',
  10: 'unix-tls',
  11: 'wss-live',
  12: 'status:404',
};

// URL, the rule we expect, and why. Each row is checked against the CLI and against a live request.
const TABLE: Array<[url: string, rule: number, why: string]> = [
  ['https://app.example.test/', 2, 'exact hostname'],
  ['https://app.example.test/api/users?id=7', 1, 'path rule listed before the hostname-only rule'],
  ['https://app.example.test:8443/api/v2', 1, 'the port in Host is ignored'],
  ['https://app.example.test/assets/logo.txt', 2, 'an earlier exact rule wins over a later wildcard path rule'],
  ['https://secure.example.test/account', 3, 'https origin trusted through caPool'],
  ['https://sock.example.test/status', 4, 'unix socket relative to the config file'],
  ['https://blog.example.test/assets/logo.txt', 5, 'wildcard hostname with a path'],
  ['https://deep.sub.example.test/assets/logo.txt', 5, 'the wildcard matches any depth'],
  ['https://static.example.test/', 6, 'file origin index.html'],
  ['https://hello.example.test/hi', 7, 'hello_world'],
  ['https://chat.example.test/room/1', 8, 'a ws:// service answers plain requests too'],
  ['https://teapot.example.test/', 9, 'http_status'],
  ['https://socktls.example.test/health?full=1', 10, 'unix+tls socket relative to the config file, trusted through caPool'],
  ['https://live.example.test/feed/3', 11, 'a wss:// service answers plain requests too, over TLS trusted through caPool'],
  ['https://blog.example.test/posts/1', 12, 'wildcard path rule does not match: catch-all'],
  ['https://example.test/assets/logo.txt', 12, 'the wildcard does not match the apex'],
];

before(async () => {
  work = await tempDir('burrow-multi-');
  const certs = await originCertificates();
  await writeFile(path.join(work, 'origin-ca.pem'), certs.caPem);
  await mkdir(path.join(work, 'site', 'assets'), { recursive: true });
  await writeFile(path.join(work, 'site', 'index.html'), SITE_INDEX);
  await writeFile(path.join(work, 'site', 'assets', 'logo.txt'), LOGO);

  const listen = async (server: Server, where?: string) => {
    await new Promise<void>((resolve) => (where ? server.listen(where, resolve) : server.listen(0, '127.0.0.1', resolve)));
    servers.push(server);
    return where ?? (server.address() as AddressInfo).port;
  };
  const api = await listen(http.createServer(named('http-api')));
  const app = await listen(http.createServer(named('http-app')));
  const secure = await listen(https.createServer({ key: certs.localhost.keyPem, cert: certs.localhost.certPem }, named('https-secure')));
  const chatServer = http.createServer(named('ws-chat'));
  // The chat origin also takes WebSockets and answers each message with who it is and what it got.
  new WebSocketServer({ server: chatServer }).on('connection', (socket, req) => {
    socket.on('message', (data) => socket.send(JSON.stringify({ origin: 'ws-chat', url: req.url, got: String(data) })));
  });
  const chat = await listen(chatServer);
  await listen(http.createServer(named('unix')), path.join(work, 'app.sock'));
  const tlsOptions = { key: certs.localhost.keyPem, cert: certs.localhost.certPem };
  await listen(https.createServer(tlsOptions, named('unix-tls')), path.join(work, 'app-tls.sock'));
  // A wss:// origin: HTTPS for plain requests, WebSockets over the same TLS port.
  const liveServer = https.createServer(tlsOptions, named('wss-live'));
  new WebSocketServer({ server: liveServer }).on('connection', (socket, req) => {
    socket.on('message', (data) => socket.send(JSON.stringify({ origin: 'wss-live', url: req.url, got: String(data) })));
  });
  const live = await listen(liveServer);

  configFile = path.join(work, 'burrow.yml');
  await writeFile(
    configFile,
    `# One connector serving every origin kind.
originRequest:
  connectTimeout: 10s
ingress:
  - hostname: app.example.test
    path: ^/api/
    service: http://127.0.0.1:${api}
  - hostname: app.example.test
    service: http://127.0.0.1:${app}
  - hostname: secure.example.test
    service: https://localhost:${secure}
    originRequest:
      caPool: origin-ca.pem
  - hostname: sock.example.test
    service: unix:app.sock
  - hostname: "*.example.test"
    path: ^/assets/
    service: file://./site
  - hostname: static.example.test
    service: file://./site
  - hostname: hello.example.test
    service: hello_world
  - hostname: chat.example.test
    service: ws://127.0.0.1:${chat}
  - hostname: teapot.example.test
    service: http_status:418
  - hostname: socktls.example.test
    service: unix+tls:app-tls.sock
    originRequest:
      caPool: origin-ca.pem
  - hostname: live.example.test
    service: wss://localhost:${live}
    originRequest:
      caPool: origin-ca.pem
  - service: http_status:404
`,
  );

  edge = await startEdge();
  const credentials = await createTunnel(edge, 'multi', ['*.example.test', 'example.test']);
  connector = await connectorFromConfigFile(configFile, credentials);
  await connector.start();
});

after(async () => {
  await stopAll(
    () => connector?.stop(0),
    () => edge?.stop(),
    ...servers.map((server) => () => new Promise<void>((resolve) => server.close(() => resolve()))),
    () => removeDir(edge.dataDir),
    () => removeDir(work),
  );
});

/** Which origin answered, from the response alone. */
function servedBy(res: VisitorResponse): string {
  if (res.text === LOGO || res.text === SITE_INDEX) return 'file';
  if (/^application\/json/.test(String(res.headers['content-type']))) {
    const body = JSON.parse(res.text) as { origin?: string; message?: string; ray?: string };
    if (body.origin) return body.origin;
    if (body.message?.includes('hello_world') && body.ray === res.headers['burrow-ray']) return 'hello_world';
  }
  if (res.body.length === 0) return `status:${res.status}`;
  return `unknown (${res.status} ${res.text.slice(0, 80)})`;
}

describe('one connector, every origin kind', () => {
  it('serves at least 6 hostnames over every origin kind', () => {
    const hosts = new Set(TABLE.map(([url]) => new URL(url).hostname));
    assert.ok(hosts.size >= 6);
    assert.deepEqual(new Set(TABLE.map(([, rule]) => rule)), new Set(Object.keys(SERVED_BY).map(Number)), 'every rule has a row');
  });

  for (const [url, rule, why] of TABLE) {
    it(`${url} → rule #${rule} (${why}): the CLI and live traffic agree`, async () => {
      const cli = await runCli(['tunnel', 'ingress', 'rule', url, '--config', configFile], { ...process.env, BURROW_HOME: work });
      assert.equal(cli.code, 0, cli.stderr);
      const printed = Number(/Matched rule #(\d+)/.exec(cli.stdout)?.[1]);
      assert.equal(printed, rule, `burrow tunnel ingress rule ${url}\n${cli.stdout}`);

      const target = new URL(url);
      const res = await visit(edge.url, target.pathname + target.search, { host: target.host, headers: { accept: 'application/json' } });
      assert.equal(servedBy(res), SERVED_BY[printed], `live request to ${url} went elsewhere than rule #${printed}`);
      if (/^(https?|wss?|unix)-/.test(SERVED_BY[printed]!)) assert.equal((JSON.parse(res.text) as { url: string }).url, target.pathname + target.search);
    });
  }

  for (const [host, origin, scheme] of [
    ['chat.example.test', 'ws-chat', 'ws://'],
    ['live.example.test', 'wss-live', 'wss://'],
  ] as const) {
    it(`a WebSocket to ${host} crosses the tunnel to the ${scheme} origin`, async () => {
      const ws = new WebSocket(`${edge.url.replace('http:', 'ws:')}/room/2`, { headers: { host }, handshakeTimeout: 15_000 });
      const reply = await new Promise<string>((resolve, reject) => {
        ws.once('open', () => ws.send('hello, room'));
        ws.once('message', (data) => resolve(String(data)));
        ws.once('error', reject);
      });
      ws.close();
      assert.deepEqual(JSON.parse(reply), { origin, url: '/room/2', got: 'hello, room' });
    });
  }
});
