// Quick tunnels: `burrow tunnel --url` without login gets a random hostname that lives as long as the connector.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { TunnelRegistryToken } from '../../core/edge/registry.ts';
import { createKeyAndCsr } from '../../plugins/origin-ca/ca.ts';
import type { QuickTunnelResponse } from '../../plugins/quick-tunnels/index.ts';
import { createTunnel, eventually, removeDir, startConnector, startOrigin, tempDir, type TestOrigin } from '../helpers/harness.ts';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { stopAll, visit } from '../helpers/http.ts';
import { startLoggedEdge } from '../helpers/identity.ts';

type LoggedEdge = Awaited<ReturnType<typeof startLoggedEdge>>;
let edge: LoggedEdge;
let origin: TestOrigin;
let env: NodeJS.ProcessEnv;
const edges: LoggedEdge[] = [];
const processes: CliProcess[] = [];

before(async () => {
  edge = await startLoggedEdge({ zones: ['example.test'], quickTunnels: 'quick.example.test' }, [{ use: 'quick-tunnels', options: { linger: '1s' } }]);
  edges.push(edge);
  origin = await startOrigin((req, res) => res.end(`quick origin saw ${req.headers.host}`));
  const home = await tempDir('burrow-home-');
  // No cert.pem, no BURROW_EDGE: the flag alone says where the edge is.
  env = { ...process.env, BURROW_HOME: home, BURROW_EDGE: '', BURROW_EDGE_TOKEN: '' };
});

after(async () => {
  await stopAll(
    ...processes.map((p) => () => p.stop(2_000)),
    ...edges.map((e) => () => e.stop()),
    () => origin?.close(),
    ...edges.map((e) => () => removeDir(e.dataDir)),
    () => removeDir(env.BURROW_HOME!),
  );
});

function quickTunnel(api: string): CliProcess {
  const cli = new CliProcess(['tunnel', '--url', origin.url, '--edge', api], env);
  processes.push(cli);
  return cli;
}

/** POST /v1/quick-tunnels from a chosen loopback address, as another client would. */
function createFrom(api: string, localAddress: string, csr: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: QuickTunnelResponse & { error?: string } }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${api}/v1/quick-tunnels`, { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => void (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ csr }));
  });
}

describe('quick tunnels', () => {
  it('`burrow tunnel --url` needs no login, prints a random URL under the quick zone, and serves it', async () => {
    const first = quickTunnel(edge.api);
    const second = quickTunnel(edge.api);
    const [, url1, host1] = await first.waitFor(/(http:\/\/([a-z0-9-]+\.quick\.example\.test)(:\d+)?)\s/, 30_000);
    const [, , host2] = await second.waitFor(/(http:\/\/([a-z0-9-]+\.quick\.example\.test)(:\d+)?)\s/, 30_000);
    assert.notEqual(host1, host2, 'each quick tunnel gets its own hostname');
    assert.equal(new URL(url1!).port, new URL(edge.url).port, 'the printed URL points at the visitor listener');

    const response = await visit(edge.url, '/', { host: host1! });
    assert.equal(response.status, 200);
    assert.equal(response.text, `quick origin saw ${host1}`);
    assert.equal((await visit(edge.url, '/', { host: host2! })).status, 200);
    await assert.rejects(import('node:fs/promises').then((fs) => fs.stat(`${env.BURROW_HOME}/cert.pem`)), { code: 'ENOENT' });

    // The hostname disappears when its connector leaves; the other quick tunnel is not affected.
    const stopped = await first.stop(10_000);
    assert.equal(stopped.killed, false);
    await eventually(async () => (await visit(edge.url, '/', { host: host1! })).status === 404, 20_000, 'the quick hostname to disappear');
    const registry = edge.edge.services.get(TunnelRegistryToken);
    assert.equal(await registry.tunnelForHostname(host1!), undefined);
    assert.equal((await visit(edge.url, '/', { host: host2! })).status, 200);
    await second.stop(10_000);
  });

  it("a quick tunnel's certificate runs only that tunnel", async () => {
    const { keyPem, csrPem } = await createKeyAndCsr({ zones: ['quick.example.test'] });
    const created = await createFrom(edge.api, '127.0.0.1', csrPem);
    assert.equal(created.status, 201);
    const named = await createTunnel(edge, 'named', ['named.example.test']);
    await assert.rejects(
      startConnector({ ...named, tls: { caPem: created.body.ca, certPem: created.body.certificate, keyPem } }, { ingress: [{ service: 'http_status:204' }] }),
      /may only run tunnel/,
    );
    assert.equal(edge.edge.connections.forTunnel(named.tunnelId).length, 0);
  });

  it('creation is rate-limited per client address, and an unused quick tunnel is removed', async () => {
    const limited = await startLoggedEdge({ zones: ['example.test'], quickTunnels: 'quick.example.test' }, [{ use: 'quick-tunnels', options: { limit: 2, window: '1h', connectWithin: '1s' } }]);
    edges.push(limited);
    const { csrPem } = await createKeyAndCsr({ zones: ['quick.example.test'] });
    const ok1 = await createFrom(limited.api, '127.0.0.1', csrPem);
    const ok2 = await createFrom(limited.api, '127.0.0.1', csrPem);
    assert.deepEqual([ok1.status, ok2.status], [201, 201]);
    const refused = await createFrom(limited.api, '127.0.0.1', csrPem);
    assert.equal(refused.status, 429);
    assert.match(refused.body.error!, /too many quick tunnels from 127\.0\.0\.1/);
    assert.ok(Number(refused.headers['retry-after']) > 0);
    // The limit is per address: another client is still served.
    const other = await createFrom(limited.api, '127.0.0.2', csrPem);
    assert.equal(other.status, 201);

    // Nobody connected for ok1: routed (530) at first, then gone (404).
    assert.equal((await visit(limited.url, '/', { host: ok1.body.hostname })).status, 530);
    await eventually(async () => (await visit(limited.url, '/', { host: ok1.body.hostname })).status === 404, 20_000, 'the unused quick tunnel removed');
  });

  it('an edge without quickTunnels says so', async () => {
    const plain = await startLoggedEdge({ zones: ['example.test'] });
    edges.push(plain);
    const result = await runCli(['tunnel', '--url', origin.url, '--edge', plain.api], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /does not offer quick tunnels.*edge\.quickTunnels/);
  });

  it('a bad origin URL is refused before anything is created', async () => {
    const result = await runCli(['tunnel', '--url', 'gopher://127.0.0.1', '--edge', edge.api], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /gopher/);
  });
});
