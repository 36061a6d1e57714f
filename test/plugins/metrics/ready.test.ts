// The connector's metrics address: /ready in cloudflared's shape (200 with registered connections, 503 without),
// /healthz while the process lives, and /metrics counting what was sent.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../../core/connector/connector.ts';
import { createTunnel, eventually, startConnector, startEdge, type TestEdge } from '../../helpers/harness.ts';
import { freePort, visit } from '../../helpers/http.ts';

describe('connector /ready, /healthz and /metrics', () => {
  let edge: TestEdge;
  let connector: Connector;
  let metrics: string;

  before(async () => {
    edge = await startEdge();
    const credentials = await createTunnel(edge, 'ready', ['ready.example.test']);
    metrics = `127.0.0.1:${await freePort()}`;
    connector = await startConnector(credentials, { metrics, ingress: [{ service: 'http_status:204' }] });
  });
  after(async () => {
    await connector?.stop(0);
    await edge?.stop();
  });

  const get = async (path: string) => {
    const res = await fetch(`http://${metrics}${path}`);
    return { status: res.status, text: await res.text() };
  };

  it('/ready answers 200 with the registered connections and the connector id', async () => {
    await eventually(async () => JSON.parse((await get('/ready')).text).readyConnections === 2, 10_000, '2 connections');
    const ready = await get('/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.text), { status: 200, readyConnections: 2, connectorId: connector.connectorId });
    assert.equal((await get('/healthz')).status, 200);
  });

  it('/metrics counts the requests that went through, by rule and status', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await visit(edge.url, '/', { host: 'ready.example.test' })).status, 204);
    const text = (await get('/metrics')).text;
    const line = text.split('\n').find((l) => l.startsWith('burrow_connector_requests_total{rule="0",status="204"}'));
    assert.equal(line?.split(' ')[1], '5', text.slice(0, 500));
  });

  it('/ready answers 503 once the edge is gone, while /healthz still answers', async () => {
    await edge.stop();
    await eventually(async () => (await get('/ready')).status === 503, 10_000, '503 without connections');
    assert.deepEqual(JSON.parse((await get('/ready')).text), { status: 503, readyConnections: 0, connectorId: connector.connectorId });
    assert.equal((await get('/healthz')).status, 200);
  });
});
