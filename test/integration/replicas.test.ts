// Two connectors with the same credentials (replicas) serving one tunnel: new requests go to the least-loaded of all
// their connections, and the edge API and `burrow tunnel info` list each connector with its connections and PoP.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { VERSION } from '../../core/version.ts';
import { runCli } from '../helpers/cli.ts';
import { ADMIN_TOKEN, createTunnel, eventually, removeDir, startConnector, startEdge, startOrigin, tempDir, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { stopAll, visit } from '../helpers/http.ts';

const HELD = 8;

let edge: TestEdge;
let origin: TestOrigin;
let replicas: Connector[] = [];
let tunnelId: string;
let apiToken: string;
let home: string;
/** Requests to /hold wait here until the test lets them go. */
const held: ServerResponse[] = [];

before(async () => {
  origin = await startOrigin((req, res) => {
    if (req.url === '/hold') held.push(res);
    else res.end(`ok ${req.url}`);
  });
  edge = await startEdge();
  const credentials = await createTunnel(edge, 'shared', ['app.example.test']);
  tunnelId = credentials.tunnelId;
  apiToken = credentials.apiToken;
  // The same credentials twice: two replicas of one tunnel, two connections each.
  replicas = [await startConnector(credentials, { ingress: [{ service: origin.url }] }), await startConnector(credentials, { ingress: [{ service: origin.url }] })];
  home = await tempDir('burrow-home-');
});

after(() =>
  stopAll(
    ...held.map((res) => () => void res.end()),
    ...replicas.map((replica) => () => replica.stop(0)),
    () => edge?.stop(),
    () => origin?.close(),
    () => edge && removeDir(edge.dataDir),
    () => home && removeDir(home),
  ),
);

const connections = () => edge.edge.connections.forTunnel(tunnelId);
const fourConnections = () =>
  eventually(() => connections().filter((c) => c.usable).length === 4 && replicas.every((r) => r.connections.length === 2), 15_000, 'two connections from each replica');

describe('replicas of one tunnel', () => {
  it('each replica keeps its own connector id and two connections of its own', async () => {
    await fourConnections();
    const [a, b] = replicas;
    assert.notEqual(a!.connectorId, b!.connectorId);
    const byConnector = new Map<string, number>();
    for (const c of connections()) byConnector.set(c.connectorId, (byConnector.get(c.connectorId) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(byConnector), { [a!.connectorId]: 2, [b!.connectorId]: 2 });
  });

  it(`${HELD} slow requests in flight spread over the connections of both replicas (least-loaded), and all are answered`, async () => {
    await fourConnections();
    const inFlight = Array.from({ length: HELD }, (_, i) => visit(edge.url, '/hold', { timeoutMs: 20_000 }).then((response) => ({ i, response })));
    await eventually(() => held.length === HELD, 15_000, `${HELD} requests at the origin`);
    const busy = connections().map((c) => ({ connector: c.connectorId, streams: c.activeStreams }));
    for (const replica of replicas) {
      const streams = busy.filter((c) => c.connector === replica.connectorId).reduce((sum, c) => sum + c.streams, 0);
      assert.ok(streams > 0, `replica ${replica.connectorId} carries none of the ${HELD} requests: ${JSON.stringify(busy)}`);
    }
    // Least-loaded: no connection sits idle while another carries two or more.
    assert.ok(busy.every((c) => c.streams > 0), `an idle connection while others are busy: ${JSON.stringify(busy)}`);
    for (const res of held.splice(0)) res.end('released');
    for (const { i, response } of await Promise.all(inFlight)) {
      assert.equal(response.status, 200, `request ${i}`);
      assert.equal(response.text, 'released');
    }
  });

  it('the edge API lists both connectors with id, version, address, connections and PoP', async () => {
    await fourConnections();
    const info = await new EdgeClient(edge.api, apiToken).request<{
      tunnel: { connections: Array<{ id: string; connectorId: string; version: string; remoteAddress: string; pop: string; connIndex: number }> };
    }>('GET', `/v1/tunnels/${tunnelId}`);
    for (const replica of replicas) {
      const own = info.tunnel.connections.filter((c) => c.connectorId === replica.connectorId);
      assert.equal(own.length, 2, `connections of ${replica.connectorId}: ${JSON.stringify(info.tunnel.connections)}`);
      assert.deepEqual(own.map((c) => c.connIndex).sort(), [0, 1]);
      assert.deepEqual(new Set(own.map((c) => c.id)), new Set(replica.connections.map((c) => c.registered?.connectionId)));
      for (const c of own) {
        assert.equal(c.version, VERSION);
        assert.equal(c.pop, 'test');
        assert.match(c.remoteAddress, /^127\.0\.0\.1:\d+$/);
      }
    }
  });

  it('burrow tunnel info names both connectors, each with its 2 connections at its PoP', async () => {
    await fourConnections();
    const env = { ...process.env, BURROW_HOME: home, BURROW_EDGE_TOKEN: '', BURROW_LOG_LEVEL: 'info' };
    const login = await runCli(['login', '--edge', edge.api, '--token', ADMIN_TOKEN], env, 60_000);
    assert.equal(login.code, 0, login.stderr);
    const info = await runCli(['tunnel', 'info', 'shared'], env, 60_000);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /2 connector\(s\):/);
    for (const replica of replicas) {
      const summary = new RegExp(`^${replica.connectorId}\\s+${VERSION.replace(/\./g, '\\.')}\\s+127\\.0\\.0\\.1\\s+2\\s+2xtest\\s`, 'm');
      assert.match(info.stdout, summary, `the summary line of ${replica.connectorId}`);
      const rows = info.stdout.split('\n').filter((line) => line.startsWith(`${replica.connectorId} `) && /\stest\s+[01]\s/.test(line));
      assert.equal(rows.length, 2, `connection rows of ${replica.connectorId}:\n${info.stdout}`);
    }
  });
});
