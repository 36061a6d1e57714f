// One access-log line per request on the edge and on the connector, tied together by the ray id the visitor got.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { createTunnel, eventually, removeDir, startOrigin, tempDir, type TestOrigin } from '../../helpers/harness.ts';
import { freePort, stopAll, visit } from '../../helpers/http.ts';
import { loggedConnector, startLoggedEdge, type LogLine } from '../../helpers/identity.ts';
import { CliProcess, runCli } from '../../helpers/cli.ts';
import type { Connector } from '../../../core/connector/connector.ts';

const BODY = 'x'.repeat(1234);

describe('access-log plugin', () => {
  let edge: Awaited<ReturnType<typeof startLoggedEdge>>;
  let origin: TestOrigin;
  let connector: Connector;
  let connectorLines: LogLine[];

  before(async () => {
    edge = await startLoggedEdge();
    origin = await startOrigin((_req, res) => res.end(BODY));
    const credentials = await createTunnel(edge, 'logged', ['logged.example.test']);
    const logged = loggedConnector(credentials, { ingress: [{ hostname: 'logged.example.test', path: '^/missing', service: 'http_status:404' }, { hostname: 'logged.example.test', path: '^/hello', service: 'hello_world' }, { service: origin.url }] });
    connector = logged.connector;
    connectorLines = logged.lines;
    await connector.start();
  });
  it('counts a body written with end(chunk) once (hello_world answers that way)', async () => {
    const reply = await visit(edge.url, '/hello', { host: 'logged.example.test' });
    assert.equal(reply.status, 200);
    const ray = String(reply.headers['burrow-ray'] ?? '');
    await eventually(() => accessLines(connectorLines, ray).length === 1, 5_000, 'the connector line');
    assert.equal(accessLines(connectorLines, ray)[0]!.bytes, reply.body.length);
  });

  after(() => stopAll(() => connector?.stop(0), () => edge?.stop(), () => origin?.close(), () => removeDir(edge.dataDir)));

  const accessLines = (lines: LogLine[], ray: string) => lines.filter((line) => line.log === 'access' && line.ray === ray);

  it('logs each request once on the edge and once on the connector, with ray, host, status, bytes, duration and PoP path', async () => {
    const ok = await visit(edge.url, '/page?q=1', { host: 'logged.example.test' });
    const missing = await visit(edge.url, '/missing', { host: 'logged.example.test' });
    assert.equal(ok.status, 200);
    assert.equal(missing.status, 404);
    for (const [reply, status, bytes, route] of [[ok, 200, BODY.length, 2], [missing, 404, 0, 0]] as const) {
      const ray = String(reply.headers['burrow-ray'] ?? '');
      assert.ok(ray, 'the visitor got a ray id');
      await eventually(() => accessLines(edge.lines, ray).length === 1 && accessLines(connectorLines, ray).length === 1, 5_000, `access lines for ${ray}`);
      const [atEdge] = accessLines(edge.lines, ray);
      const [atConnector] = accessLines(connectorLines, ray);
      assert.equal(atEdge!.msg, 'request');
      assert.equal(atEdge!.host, 'logged.example.test');
      assert.equal(atEdge!.status, status);
      assert.equal(atEdge!.pop, 'test');
      assert.equal(atEdge!.method, 'GET');
      assert.ok((atEdge!.bytes as number) > bytes, `the edge counts the bytes it sent, head included (${atEdge!.bytes})`);
      assert.equal(typeof atEdge!.ms, 'number');
      assert.equal(atConnector!.status, status);
      assert.equal(atConnector!.bytes, bytes, 'the connector counts body bytes');
      assert.equal(atConnector!.pops, 'test');
      assert.equal(atConnector!.rule, route);
      assert.equal(atConnector!.host, 'logged.example.test');
    }
  });
});

describe('--log-level and --log-format', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('burrow-log-flags-');
  });
  after(() => removeDir(dir));

  it('refuses an unknown level, naming the flag and the levels', async () => {
    const result = await runCli(['tunnel', 'ingress', 'validate', '--log-level', 'loud'], process.env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: --log-level: "loud" is not one of trace, debug, info, warn, error, fatal, silent/m);
  });

  it('--log-format pretty prints readable lines off a terminal, and --log-level warn hides info lines', async () => {
    const config = path.join(dir, 'edge.yaml');
    const apiPort = await freePort();
    await writeFile(config, ['edge:', '  pop: flags', `  listen: { http: 127.0.0.1:0, tunnel: 127.0.0.1:0, api: 127.0.0.1:${apiPort} }`, `  dataDir: ${JSON.stringify(path.join(dir, 'data'))}`, ''].join('\n'));
    const env = { ...process.env, BURROW_EDGE_TOKEN: 'flags-token', NO_COLOR: '1' };
    const pretty = new CliProcess(['edge', '--config', config, '--log-format', 'pretty'], env);
    try {
      const [line] = await pretty.waitFor(/^.*edge ready.*$/m);
      assert.doesNotMatch(line, /"msg":/, 'not a JSON line');
      assert.match(line, /INFO/);
    } finally {
      await pretty.stop();
    }
    const quiet = new CliProcess(['--log-level', 'warn', 'edge', '--config', config], env);
    try {
      // The edge is up (its API answers) and yet wrote no info line.
      await eventually(async () => (await fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.ok, () => false)), 20_000, 'the quiet edge answers /healthz');
      assert.doesNotMatch(quiet.stderr, /edge ready/);
      assert.ok(quiet.running, `the edge runs: ${quiet.stderr}`);
    } finally {
      await quiet.stop();
    }
  });
});
