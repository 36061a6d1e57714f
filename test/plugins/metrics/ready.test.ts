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
    const credentials = await createTunnel(edge, 'ready', ['ready.example.test', 'dead.example.test']);
    metrics = `127.0.0.1:${await freePort()}`;
    // dead.example.test goes to a port nothing listens on: each request there is an origin error (502).
    const deadPort = await freePort();
    connector = await startConnector(credentials, {
      metrics,
      ingress: [{ hostname: 'ready.example.test', service: 'http_status:204' }, { hostname: 'dead.example.test', service: `http://127.0.0.1:${deadPort}` }, { service: 'http_status:404' }],
    });
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

  it('/metrics counts the requests that went through, with cloudflared\'s series names', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await visit(edge.url, '/', { host: 'ready.example.test' })).status, 204);
    for (let i = 0; i < 2; i++) assert.equal((await visit(edge.url, '/', { host: 'dead.example.test' })).status, 502);
    const text = (await get('/metrics')).text;
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      assert.ok(line, `${series} in /metrics:\n${text.split('\n').filter((l) => l.startsWith('burrow_')).join('\n')}`);
      return Number(line.slice(series.length + 1));
    };
    assert.equal(value('burrow_connector_requests_total{rule="0",status="204"}'), 5);
    assert.equal(value('burrow_connector_requests_total{rule="1",status="502"}'), 2);
    assert.equal(value('burrow_tunnel_total_requests'), 7);
    assert.equal(value('burrow_tunnel_request_errors'), 2);
    assert.equal(value('burrow_tunnel_response_by_code{status_code="204"}'), 5);
    assert.equal(value('burrow_tunnel_response_by_code{status_code="502"}'), 2);
    assert.equal(value('burrow_tunnel_concurrent_requests_per_tunnel'), 0);
    assert.equal(value('burrow_tunnel_ha_connections'), 2);
    assert.equal(value('burrow_tunnel_server_locations{connection_id="0",edge_location="test"}'), 1);
    assert.equal(value('burrow_tunnel_server_locations{connection_id="1",edge_location="test"}'), 1);
    assert.equal(value('burrow_tunnel_request_duration_seconds_count{rule="0",pop="test"}'), 5);
    assert.equal(value('burrow_tunnel_request_duration_seconds_count{rule="1",pop="test"}'), 2);
    const edgeText = await (await fetch(`${edge.api}/metrics`)).text();
    assert.match(edgeText, /^burrow_edge_request_duration_seconds_count\{pop="test"\} 7$/m);
    assert.match(edgeText, /^burrow_edge_requests_total\{status="502"\} 2$/m);
  });

  it('/ready answers 503 once the edge is gone, while /healthz still answers', async () => {
    await edge.stop();
    await eventually(async () => (await get('/ready')).status === 503, 10_000, '503 without connections');
    assert.deepEqual(JSON.parse((await get('/ready')).text), { status: 503, readyConnections: 0, connectorId: connector.connectorId });
    assert.equal((await get('/healthz')).status, 200);
  });
});
