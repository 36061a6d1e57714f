// End to end through the CLI: burrow edge, login, tunnel create/list/route/run, ingress validate/rule, demo (--help: cli-help.test.ts).
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeDir, startOrigin, tempDir, type TestOrigin } from '../helpers/harness.ts';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { createCertificateAuthority, createKeyAndCsr, signZoneCertificate } from '../../plugins/origin-ca/ca.ts';
import { decodeOriginCert, encodeOriginCert, type OriginCert } from '../../plugins/origin-ca/cert-file.ts';
import { freePort, visit } from '../helpers/http.ts';

const TOKEN = 'cli-test-admin-token';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

let dir: string;
let home: string;
let env: NodeJS.ProcessEnv;
let origin: TestOrigin;
let edgeProcess: CliProcess | undefined;
let connectorProcess: CliProcess | undefined;
/** Filled by the steps below, in order. */
const state: { api?: string; visitors?: string; tunnelId?: string; connectorConfig?: string } = {};

before(async () => {
  dir = await tempDir('burrow-cli-test-');
  home = path.join(dir, 'home');
  await mkdir(home);
  env = { ...process.env, BURROW_HOME: home, BURROW_EDGE_TOKEN: TOKEN, BURROW_LOG_LEVEL: 'info', NO_COLOR: '1' };
  delete env.BURROW_DEBUG;
  origin = await startOrigin((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`origin says hi to ${req.headers.host}${req.url}`);
  });
});

after(async () => {
  // Connector first, then the edge; SIGTERM, then SIGKILL if they hang.
  await connectorProcess?.stop().catch(() => undefined);
  await edgeProcess?.stop().catch(() => undefined);
  await origin?.close();
  await removeDir(dir);
});

describe('burrow CLI end to end', () => {
  it('burrow edge --config starts an edge and reports its addresses', async () => {
    const edgeConfig = path.join(dir, 'edge.yaml');
    await writeFile(
      edgeConfig,
      [
        'edge:',
        '  pop: cli',
        '  listen:',
        '    http: 127.0.0.1:0',
        '    tunnel: 127.0.0.1:0',
        '    api: 127.0.0.1:0',
        `  dataDir: ${JSON.stringify(path.join(dir, 'edge-data'))}`,
        '  zones: [example.test]',
        '  gracePeriod: 1s',
        '  heartbeatInterval: 1s',
        '',
      ].join('\n'),
    );
    edgeProcess = new CliProcess(['edge', '--config', edgeConfig], env);
    const [line] = await edgeProcess.waitFor(/\{[^\n]*"msg":"edge ready"[^\n]*\}/);
    const ready = JSON.parse(line) as { http: string; api: string; tunnel: string; pop: string };
    assert.equal(ready.pop, 'cli');
    state.api = `http://${ready.api}`;
    state.visitors = `http://${ready.http}`;
  });

  it('burrow login stores a certificate for the zone in $BURROW_HOME/cert.pem (mode 0600)', async () => {
    assert.ok(state.api, 'the edge is running');
    const result = await runCli(['login', '--edge', state.api, '--token', TOKEN], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /logged in/i);
    assert.match(result.stdout, /example\.test/);
    const cert = await stat(path.join(home, 'cert.pem'));
    assert.equal(cert.mode & 0o777, 0o600);
  });

  it('burrow login with a wrong token fails and says why', async () => {
    assert.ok(state.api, 'the edge is running');
    const result = await runCli(['login', '--edge', state.api, '--token', 'wrong-token'], { ...env, BURROW_HOME: path.join(dir, 'other-home') });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /^error: /m);
  });

  it('burrow tunnel create prints the id and writes $BURROW_HOME/<id>.json with mode 0600', async () => {
    const result = await runCli(['tunnel', 'create', 'web'], env);
    assert.equal(result.code, 0, result.stderr);
    const id = result.stdout.match(UUID)?.[0];
    assert.ok(id, `no tunnel id in: ${result.stdout}`);
    state.tunnelId = id;
    const credentials = await stat(path.join(home, `${id}.json`));
    assert.equal(credentials.mode & 0o777, 0o600);
  });

  it('burrow tunnel create refuses a name that is taken', async () => {
    const result = await runCli(['tunnel', 'create', 'web'], env);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /already exists/);
  });

  it('burrow tunnel list shows the tunnel', async () => {
    const result = await runCli(['tunnel', 'list'], env);
    assert.equal(result.code, 0, result.stderr);
    const row = result.stdout.split('\n').find((line) => line.includes(state.tunnelId!));
    assert.ok(row, result.stdout);
    assert.match(row, /\bweb\b/);
    assert.match(row, /example\.test/);
  });

  it('burrow tunnel route dns routes a hostname to it', async () => {
    const result = await runCli(['tunnel', 'route', 'dns', 'web', 'app.example.test'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /app\.example\.test/);
    assert.match(result.stdout, /web/);
  });

  it('burrow tunnel route dns refuses a hostname outside the zone, saying so', async () => {
    const result = await runCli(['tunnel', 'route', 'dns', 'web', 'app.elsewhere.test'], env);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /outside the zone/);
  });

  it('burrow tunnel run with a cloudflared-style config serves the origin through the edge', async () => {
    assert.ok(state.tunnelId && state.visitors, 'the tunnel and the edge exist');
    state.connectorConfig = path.join(dir, 'connector.yaml');
    await writeFile(
      state.connectorConfig,
      [
        'tunnel: web',
        `credentials-file: ${JSON.stringify(path.join(home, `${state.tunnelId}.json`))}`,
        'no-autoupdate: true',
        'protocol: http2',
        'grace-period: 1s',
        'ingress:',
        '  - hostname: app.example.test',
        `    service: ${origin.url}`,
        '  - service: http_status:404',
        '',
      ].join('\n'),
    );
    connectorProcess = new CliProcess(['tunnel', 'run', '--config', state.connectorConfig], env);
    const deadline = Date.now() + 20_000;
    let last = '';
    while (Date.now() < deadline && connectorProcess.running) {
      const response = await visit(state.visitors, '/through/the/cli', { timeoutMs: 5_000 }).catch((error: Error) => ({ status: 0, text: error.message }));
      if (response.status === 200) {
        assert.equal(response.text, 'origin says hi to app.example.test/through/the/cli');
        return;
      }
      last = `${response.status} ${response.text.slice(0, 200)}`;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.fail(`no 200 through the tunnel (last: ${last})\n--- connector output ---\n${(connectorProcess.stdout + connectorProcess.stderr).slice(-3000)}`);
  });

  it('burrow tunnel info shows the route and the live connections', async () => {
    const result = await runCli(['tunnel', 'info', 'web'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /app\.example\.test/);
    assert.match(result.stdout, /\bcli\b/, 'the PoP of the connections');
    assert.doesNotMatch(result.stdout, /no active connections/);
  });

  it('burrow tunnel ingress validate accepts the working config', async () => {
    assert.ok(state.connectorConfig);
    const result = await runCli(['tunnel', 'ingress', 'validate', '--config', state.connectorConfig], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /OK/);
  });

  const invalidIngress: Array<{ name: string; yaml: string; keyPath: RegExp }> = [
    { name: 'no catch-all rule', yaml: 'ingress:\n  - hostname: app.example.test\n    service: http://127.0.0.1:8000\n', keyPath: /ingress\[0\]\.hostname/ },
    { name: 'a service without a scheme', yaml: 'ingress:\n  - hostname: app.example.test\n    service: localhost:8000\n  - service: http_status:404\n', keyPath: /ingress\[0\]\.service/ },
    { name: 'an unknown originRequest option', yaml: 'ingress:\n  - service: http://127.0.0.1:8000\n    originRequest:\n      conectTimeout: 5s\n', keyPath: /ingress\[0\]\.originRequest\.conectTimeout/ },
  ];
  for (const c of invalidIngress) {
    it(`burrow tunnel ingress validate rejects ${c.name}, naming the rule`, async () => {
      const bad = path.join(dir, `bad-${c.name.replace(/\W+/g, '-')}.yaml`);
      await writeFile(bad, c.yaml);
      const result = await runCli(['tunnel', 'ingress', 'validate', '--config', bad], env);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, c.keyPath);
      assert.ok(result.stderr.includes(bad), 'the error names the file');
      assert.match(result.stderr, /Fix: /);
    });
  }

  const ruleCases: Array<[url: string, rule: number]> = [
    ['https://app.example.test/x', 1],
    ['app.example.test', 1],
    ['https://other.example.test/', 2],
  ];
  for (const [url, rule] of ruleCases) {
    it(`burrow tunnel ingress rule ${url} prints Matched rule #${rule}`, async () => {
      assert.ok(state.connectorConfig);
      const result = await runCli(['tunnel', 'ingress', 'rule', url, '--config', state.connectorConfig], env);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`Matched rule #${rule}\\b`));
    });
  }

  it('burrow tunnel run with a config file that does not exist fails and names it', async () => {
    const missing = path.join(dir, 'missing.yaml');
    const result = await runCli(['tunnel', 'run', '--config', missing], env);
    assert.notEqual(result.code, 0);
    assert.ok(result.stderr.includes(missing), result.stderr);
  });

  it('burrow tunnel run with a wrong tunnel secret exits 1 with the reason instead of retrying forever', async () => {
    const credentials = JSON.parse(await readFile(path.join(home, `${state.tunnelId}.json`), 'utf8')) as Record<string, string>;
    const wrong = path.join(dir, 'wrong-secret.json');
    await writeFile(wrong, JSON.stringify({ ...credentials, TunnelSecret: Buffer.alloc(32, 9).toString('base64') }));
    const config = path.join(dir, 'wrong-secret.yaml');
    await writeFile(config, `tunnel: web\ncredentials-file: ${JSON.stringify(wrong)}\ningress:\n  - service: http_status:204\n`);
    const result = await runCli(['tunnel', 'run', '--config', config], env, 20_000);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /unknown tunnel or wrong tunnel secret; check the credentials file or tunnel token/);
  });

  /** A copy of cert.pem with some of its parts replaced, and a config running the tunnel `web` with it. */
  async function configWithCertPem(name: string, replace: (cert: OriginCert) => Promise<OriginCert>): Promise<{ config: string; certFile: string }> {
    const certFile = path.join(dir, `${name}-cert.pem`);
    const cert = decodeOriginCert(await readFile(path.join(home, 'cert.pem'), 'utf8'), certFile);
    await writeFile(certFile, encodeOriginCert(await replace(cert)), { mode: 0o600 });
    const config = path.join(dir, `${name}.yaml`);
    const credentialsFile = path.join(home, `${state.tunnelId}.json`);
    await writeFile(config, `tunnel: web\ncredentials-file: ${JSON.stringify(credentialsFile)}\norigincert: ${JSON.stringify(certFile)}\ningress:\n  - service: http_status:204\n`);
    return { config, certFile };
  }

  it('burrow tunnel run with a client certificate from another CA exits 1, saying the edge refused it and to log in again', async () => {
    const { config } = await configWithCertPem('foreign-client', async (cert) => {
      const otherCa = await createCertificateAuthority({ commonName: 'Another edge' });
      const { keyPem, csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
      const forged = await signZoneCertificate(otherCa, csrPem, { zones: ['example.test'] });
      return { ...cert, keyPem, certPem: forged.certPem };
    });
    const result = await runCli(['tunnel', 'run', '--config', config], env, 20_000);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^error: the edge at 127\.0\.0\.1:\d+ refused this connector's client certificate in the TLS handshake/m);
    assert.match(result.stderr, /Fix: run `burrow login` against this edge again/);
    assert.ok(result.stderr.includes(path.join(home, 'cert.pem')), 'the error names cert.pem');
  });

  it("burrow tunnel run with a cert.pem whose CA is not the edge's exits 1, saying it cannot verify the edge", async () => {
    const { config } = await configWithCertPem('foreign-ca', async (cert) => ({ ...cert, caPem: (await createCertificateAuthority({ commonName: 'Another edge' })).certPem }));
    const result = await runCli(['tunnel', 'run', '--config', config], env, 20_000);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^error: the connector cannot verify the certificate of the edge at 127\.0\.0\.1:\d+/m);
    assert.match(result.stderr, /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
    assert.match(result.stderr, /Fix: check that cert\.pem/);
  });

  it('SIGTERM stops the connector cleanly, and the hostname then gets 530', async () => {
    assert.ok(connectorProcess && state.visitors);
    const exit = await connectorProcess.stop(10_000);
    assert.equal(exit.killed, false, 'the connector needed SIGKILL');
    assert.equal(exit.code, 0, connectorProcess.stderr.slice(-2000));
    const response = await visit(state.visitors, '/after-stop');
    assert.equal(response.status, 530);
  });

  it('SIGTERM stops the edge cleanly', async () => {
    assert.ok(edgeProcess);
    const exit = await edgeProcess.stop(10_000);
    assert.equal(exit.killed, false, 'the edge needed SIGKILL');
    assert.equal(exit.code, 0, edgeProcess.stderr.slice(-2000));
  });
});

describe('burrow demo', () => {
  it('(npm start) serves the demo origin through a local edge and connector at the URL it prints, and stops on SIGTERM', async () => {
    const port = await freePort();
    const demo = new CliProcess(['demo', '--port', String(port)], { ...process.env, BURROW_HOME: path.join(dir, 'demo-ok-home'), BURROW_EDGE_TOKEN: '' });
    try {
      const [, url] = await demo.waitFor(/Open\s+(http:\/\/demo\.localhost:\d+\/)/, 60_000);
      assert.equal(url, `http://demo.localhost:${port}/`);
      const response = await visit(`http://127.0.0.1:${port}`, '/', { host: `demo.localhost:${port}` });
      assert.equal(response.status, 200, response.text.slice(0, 300));
      assert.match(String(response.headers['burrow-ray']), /^[0-9a-f]{16}-/);
      const exit = await demo.stop(15_000);
      assert.equal(exit.killed, false, 'the demo needed SIGKILL');
      assert.equal(exit.code, 0, demo.stderr.slice(-2000));
    } finally {
      await demo.stop(1_000);
    }
  });

  it('with its port taken, says so and how to pick another', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port } = squatter.address() as AddressInfo;
    try {
      const result = await runCli(['demo', '--port', String(port)], { ...process.env, BURROW_HOME: path.join(dir, 'demo-home'), BURROW_EDGE_TOKEN: '' }, 60_000);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use\\. Fix: stop the program using port ${port}, or choose another address`, 'm'));
      assert.match(result.stderr, /edge\.listen\.http/);
      assert.match(result.stderr, /burrow demo --port N/);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
