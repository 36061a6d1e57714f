// End to end: a connector reconnects by itself after its edge restarts; tunnels, routes and the CA persist in dataDir.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { createTunnel, eventually, removeDir, startConnector, startEdge, startOrigin, tempDir, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { freePort, stopAll, visit } from '../helpers/http.ts';

let dataDir: string;
let listen: { http: string; tunnel: string; api: string };
let edge: TestEdge | undefined;
let origin: TestOrigin;
let connector: Connector | undefined;
let credentials: Awaited<ReturnType<typeof createTunnel>>;

/** Starts an edge on the fixed ports and dataDir, retrying briefly while the old sockets are released. */
async function startFixedEdge(): Promise<TestEdge> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      return await startEdge({ dataDir, listen });
    } catch (error) {
      lastError = error;
      if (!/already in use/.test((error as Error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw lastError;
}

before(async () => {
  dataDir = await tempDir('burrow-edge-restart-');
  const [http, tunnel, api] = [await freePort(), await freePort(), await freePort()];
  listen = { http: `127.0.0.1:${http}`, tunnel: `127.0.0.1:${tunnel}`, api: `127.0.0.1:${api}` };
  origin = await startOrigin((req, res) => res.end(`hello from ${req.url}`));
});

after(async () => {
  await stopAll(
    () => connector?.stop(0),
    () => edge?.stop(),
    () => origin?.close(),
    () => removeDir(dataDir),
  );
});

describe('edge restart', () => {
  it('the connector reconnects to a restarted edge without being touched', async () => {
    edge = await startFixedEdge();
    credentials = await createTunnel(edge, 'survivor', ['app.example.test']);
    connector = await startConnector(credentials, { ingress: [{ service: origin.url }] });
    const visitorUrl = edge.url;

    const first = await visit(visitorUrl, '/before');
    assert.equal(first.status, 200);
    assert.equal(first.text, 'hello from /before');
    await eventually(() => edge!.edge.connections.forTunnel(credentials.tunnelId).length === 2, 10_000, 'two connections before the restart');

    await edge.stop();
    edge = undefined;
    // While the edge is down, visitors cannot connect at all.
    await assert.rejects(visit(visitorUrl, '/during', { timeoutMs: 5_000 }), /ECONNREFUSED/);
    await eventually(() => connector!.connections.length === 0, 10_000, 'the connector to notice the edge is gone');

    edge = await startFixedEdge();
    assert.equal(edge.url, visitorUrl);
    const restarted = edge;
    // Tunnels and routes came back from dataDir.
    const routes = await restarted.admin.request<{ routes: Array<{ hostname: string; tunnelId: string }> }>('GET', '/v1/routes');
    assert.deepEqual(
      routes.routes.map((r) => [r.hostname, r.tunnelId]),
      [['app.example.test', credentials.tunnelId]],
    );

    // The same connector (same client certificate from the persisted CA) registers again by itself.
    await eventually(
      async () => (await visit(visitorUrl, '/after', { timeoutMs: 5_000 }).catch(() => undefined))?.status === 200,
      20_000,
      'requests to work again after the restart',
    );
    const after = await visit(visitorUrl, '/after');
    assert.equal(after.text, 'hello from /after');
    await eventually(() => restarted.edge.connections.forTunnel(credentials.tunnelId).length === 2, 20_000, 'both connections back');
    assert.deepEqual(new Set(restarted.edge.connections.forTunnel(credentials.tunnelId).map((c) => c.connectorId)), new Set([connector.connectorId]));
    assert.deepEqual(new Set(restarted.edge.connections.forTunnel(credentials.tunnelId).map((c) => c.connIndex)), new Set([0, 1]));
  });

  it('a tunnel created before the restart can still be managed with the zone token issued before it', async () => {
    assert.ok(edge, 'the previous test left a running edge');
    const zoneClient = new EdgeClient(edge.api, credentials.apiToken);
    const tunnels = await zoneClient.request<{ tunnels: Array<{ name: string }> }>('GET', '/v1/tunnels');
    assert.deepEqual(
      tunnels.tunnels.map((t) => t.name),
      ['survivor'],
    );
  });
});
