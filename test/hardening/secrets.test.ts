// Secrets never reach a log: a run that uses every kind of credential Burrow handles, with both processes
// logging at debug level, and then a grep of everything they wrote.
import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { removeDir, startOrigin, tempDir, type TestOrigin } from '../helpers/harness.ts';
import { freePort, visit } from '../helpers/http.ts';
import { redactSecrets } from '../../core/kernel/redact.ts';
import { readOriginCert } from '../../plugins/origin-ca/cert-file.ts';

const ADMIN_TOKEN = 'admin-tok-7f3a9c1e55d0';
const ORIGIN_PASSWORD = 'origin-pw-Zq81xv';
const DEAD_PASSWORD = 'dead-pw-Kk20aa';
const VISITOR_BEARER = 'visitor-bearer-Ju77ty';
const VISITOR_COOKIE = 'visitor-cookie-Pp09ww';
const WRONG_TOKEN = 'wrong-tok-Hh55gg';

let dir: string;
let env: NodeJS.ProcessEnv;
let origin: TestOrigin;
let closed: Server;
let edge: CliProcess | undefined;
let connector: CliProcess | undefined;
const seen: Array<Record<string, string | string[] | undefined>> = [];

before(async () => {
  dir = await tempDir('burrow-secrets-');
  const home = path.join(dir, 'home');
  await mkdir(home);
  env = { ...process.env, BURROW_HOME: home, BURROW_EDGE_TOKEN: ADMIN_TOKEN, BURROW_LOG_LEVEL: 'debug', NO_COLOR: '1' };
  origin = await startOrigin((req, res) => {
    seen.push(req.headers);
    res.setHeader('set-cookie', `origin-session=${VISITOR_COOKIE}-reply`);
    res.end('origin answered');
  });
  // A port that accepts and at once closes: the origin rule behind it fails with 502.
  closed = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await connector?.stop().catch(() => undefined);
  await edge?.stop().catch(() => undefined);
  await origin?.close();
  closed?.close();
  await removeDir(dir);
});

describe('secrets never reach a log', () => {
  it('a run with service URL credentials, API tokens, tunnel secrets, Authorization and Cookie headers logs none of them', async () => {
    const edgeConfig = path.join(dir, 'edge.yaml');
    const [http, tunnel, apiPort] = [await freePort(), await freePort(), await freePort()];
    await writeFile(
      edgeConfig,
      ['edge:', '  pop: sec', '  listen:', `    http: 127.0.0.1:${http}`, `    tunnel: 127.0.0.1:${tunnel}`, `    api: 127.0.0.1:${apiPort}`, `  dataDir: ${JSON.stringify(path.join(dir, 'edge-data'))}`, '  zones: [example.test]', '  gracePeriod: 1s', ''].join('\n'),
    );
    edge = new CliProcess(['edge', '--config', edgeConfig], env);
    await edge.waitFor(/"msg":"edge ready"/);
    const api = `http://127.0.0.1:${apiPort}`;

    for (const args of [['login', '--edge', api, '--token', ADMIN_TOKEN], ['tunnel', 'create', 'web'], ['tunnel', 'route', 'dns', 'web', 'app.example.test'], ['tunnel', 'route', 'dns', 'web', 'dead.example.test']]) {
      const result = await runCli(args, env);
      assert.equal(result.code, 0, `burrow ${args.join(' ')}: ${result.stderr}`);
    }
    const token = await runCli(['tunnel', 'token', 'web'], env);
    assert.equal(token.code, 0, token.stderr);
    const tunnelToken = token.stdout.trim().split(/\s+/).pop()!;
    const credentials = JSON.parse(await readFile(path.join(dir, 'home', `${(await listTunnelId(api))}.json`), 'utf8')) as { TunnelSecret: string };
    const zoneToken = (await readOriginCert(path.join(dir, 'home', 'cert.pem'))).apiToken;

    const config = path.join(dir, 'connector.yaml');
    await writeFile(
      config,
      [
        'loglevel: debug',
        'grace-period: 1s',
        'ingress:',
        '  - hostname: app.example.test',
        `    service: http://alice:${ORIGIN_PASSWORD}@127.0.0.1:${new URL(origin.url).port}`,
        '  - hostname: dead.example.test',
        `    service: http://bob:${DEAD_PASSWORD}@127.0.0.1:${(closed.address() as { port: number }).port}`,
        '  - service: http_status:404',
        '',
      ].join('\n'),
    );
    // The connector runs from the tunnel token (which carries the tunnel secret).
    connector = new CliProcess(['tunnel', 'run', '--config', config, '--token', tunnelToken], env);
    const visitors = `http://127.0.0.1:${http}`;
    const headers = { host: 'app.example.test', authorization: `Bearer ${VISITOR_BEARER}`, cookie: `session=${VISITOR_COOKIE}` };
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await visit(visitors, '/', { headers, timeoutMs: 5_000 }).catch(() => ({ status: 0 }))).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(status, 200, `the tunnel never served:\n${connector.stderr.slice(-2000)}`);

    // The service URL's credentials reach the origin as Basic auth, in place of the visitor's Authorization.
    const last = seen.at(-1)!;
    assert.equal(last.authorization, `Basic ${Buffer.from(`alice:${ORIGIN_PASSWORD}`).toString('base64')}`);
    assert.equal(last.cookie, `session=${VISITOR_COOKIE}`, 'the visitor cookie still reaches the origin');

    const dead = await visit(visitors, '/', { headers: { ...headers, host: 'dead.example.test' }, timeoutMs: 10_000 });
    assert.equal(dead.status, 502);
    assert.ok(!dead.text.includes(DEAD_PASSWORD), `the visitor's 502 page shows the origin's password: ${dead.text}`);
    // A WebSocket to the failing origin: its error page names the origin, never with the password.
    const upgrade = await rawExchange(http, `GET /ws HTTP/1.1\r\nHost: dead.example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    assert.match(upgrade, /^HTTP\/1\.1 502/);
    assert.ok(!upgrade.includes(DEAD_PASSWORD), `the upgrade's 502 page shows the origin's password: ${upgrade}`);
    const refused = await fetch(`${api}/v1/tunnels`, { headers: { authorization: `Bearer ${WRONG_TOKEN}` } });
    assert.equal(refused.status, 401);
    await refused.arrayBuffer();

    await connector.stop();
    await edge.stop();
    const logs = edge.stdout + edge.stderr + connector.stdout + connector.stderr;
    assert.match(connector.stderr, /origin request failed/, 'the failing origin was logged (so its service URL was)');
    assert.match(connector.stderr, /\[redacted\]@127\.0\.0\.1/, 'the service URL is logged with its userinfo redacted');
    const secrets: Record<string, string | undefined> = {
      'the admin token': ADMIN_TOKEN,
      'the zone token': zoneToken,
      'the origin password': ORIGIN_PASSWORD,
      'the password of the failing origin': DEAD_PASSWORD,
      'the Basic credentials': Buffer.from(`alice:${ORIGIN_PASSWORD}`).toString('base64'),
      "the visitor's bearer token": VISITOR_BEARER,
      "the visitor's cookie": VISITOR_COOKIE,
      'the wrong token': WRONG_TOKEN,
      'the tunnel secret': credentials.TunnelSecret,
      'the tunnel token': tunnelToken,
    };
    for (const [what, secret] of Object.entries(secrets)) {
      assert.ok(secret && secret.length >= 8, `${what} is known to the test`);
      assert.ok(!logs.includes(secret), `${what} appears in the logs:\n${logs.split('\n').filter((line) => line.includes(secret)).join('\n')}`);
    }
  });
});

/** Sends raw bytes to the visitor port and collects everything until the edge closes (or 10 s pass). */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (/\r\n\r\n[\s\S]*<\/html>/i.test(text) || /content-length: 0\r\n\r\n/i.test(text)) socket.end();
    });
    socket.setTimeout(10_000, () => socket.destroy());
    socket.once('close', () => resolve(text));
    socket.once('error', reject);
  });
}

async function listTunnelId(api: string): Promise<string> {
  const response = await fetch(`${api}/v1/tunnels`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const body = (await response.json()) as { tunnels?: Array<{ id: string; name: string }> } | Array<{ id: string; name: string }>;
  const list = Array.isArray(body) ? body : (body.tunnels ?? []);
  const web = list.find((t) => t.name === 'web');
  assert.ok(web, `tunnel web in ${JSON.stringify(body)}`);
  return web.id;
}

describe('redactSecrets', () => {
  const cases: Array<[string, string, string]> = [
    ['URL userinfo', '{"service":"http://u:p4ss@h:1","msg":"x"}', '{"service":"http://[redacted]@h:1","msg":"x"}'],
    ['userinfo inside a message', '{"msg":"connect wss://tok@edge.test failed"}', '{"msg":"connect wss://[redacted]@edge.test failed"}'],
    ['header values', '{"headers":{"authorization":"Bearer abcdefgh","cookie":"a=b","set-cookie":["c=d","e=f"]}}', '{"headers":{"authorization":"[redacted]","cookie":"[redacted]","set-cookie":"[redacted]"}}'],
    ['secret-looking keys', '{"tunnelSecret":"c2VjcmV0","apiToken":"t0k3n","password":"pw"}', '{"tunnelSecret":"[redacted]","apiToken":"[redacted]","password":"[redacted]"}'],
    ['bearer in text', '{"err":"got Bearer abc.def-123 back"}', '{"err":"got Bearer [redacted] back"}'],
    ['zone tokens in text', '{"msg":"token bzt.eyJ6b25l.c2ln ok"}', '{"msg":"token [redacted] ok"}'],
  ];
  for (const [what, line, expected] of cases) it(what, () => assert.equal(redactSecrets(line), expected));

  it('keeps where a secret is kept, and lines with nothing secret, as they are', () => {
    const line = '{"adminTokenFile":"/var/lib/burrow/admin-token","msg":"edge ready","api":"127.0.0.1:7845","email":"a@b.test"}';
    assert.equal(redactSecrets(line), line);
  });
});
