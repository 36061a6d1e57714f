// End to end: a connector keeps ha-connections (2) registered; losing one does not break requests and it comes back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { createTunnel, eventually, startConnector, startEdge, startOrigin, type TestEdge, type TestOrigin, stopWorld } from '../helpers/harness.ts';
import { visit } from '../helpers/http.ts';


let edge: TestEdge;
let origin: TestOrigin;
let connector: Connector;
let tunnelId: string;
let apiToken: string;
const holdArrived: Array<() => void> = [];

before(async () => {
  origin = await startOrigin((req, res) => {
    if (req.url === '/hold') {
      // Never answers: the request stays in flight until something closes it.
      for (const resolve of holdArrived.splice(0)) resolve();
      return;
    }
    res.end(`ok ${req.url}`);
  });
  edge = await startEdge();
  const credentials = await createTunnel(edge, 'ha', ['app.example.test']);
  tunnelId = credentials.tunnelId;
  apiToken = credentials.apiToken;
  connector = await startConnector(credentials, { ingress: [{ service: origin.url }] });
});

after(() => stopWorld({ connector, edge, origin }));

const edgeConnections = () => edge.edge.connections.forTunnel(tunnelId);
const twoConnections = () => eventually(() => edgeConnections().length === 2 && connector.connections.length === 2, 15_000, 'two registered connections');

describe('HA connections', () => {
  it('the connector registers two connections, indexes 0 and 1, from one connector id', async () => {
    await twoConnections();
    const connections = edgeConnections();
    assert.deepEqual(new Set(connections.map((c) => c.connIndex)), new Set([0, 1]));
    assert.deepEqual(new Set(connections.map((c) => c.connectorId)), new Set([connector.connectorId]));
    assert.ok(connections.every((c) => c.pop === 'test'));
  });

  it('the management API lists both live connections of the tunnel', async () => {
    await twoConnections();
    const info = await new EdgeClient(edge.api, apiToken).request<{ tunnel: { connections: Array<{ connIndex: number; connectorId: string }> } }>('GET', `/v1/tunnels/${tunnelId}`);
    assert.equal(info.tunnel.connections.length, 2);
    assert.ok(info.tunnel.connections.every((c) => c.connectorId === connector.connectorId));
  });

  it('destroying one connection on the edge does not break requests, and the connector replaces it', async () => {
    await twoConnections();
    const [victim, survivor] = edgeConnections();
    victim!.session.destroy();
    for (let i = 0; i < 20; i++) {
      const response = await visit(edge.url, `/during/${i}`);
      assert.equal(response.status, 200, `request ${i} right after losing a connection`);
      assert.equal(response.text, `ok /during/${i}`);
    }
    await twoConnections();
    const ids = edgeConnections().map((c) => c.id);
    assert.ok(!ids.includes(victim!.id), 'the destroyed connection is gone');
    assert.ok(ids.includes(survivor!.id), 'the other connection was not disturbed');
    assert.deepEqual(new Set(edgeConnections().map((c) => c.connIndex)), new Set([0, 1]));
  });

  it('a POST in flight on a connection the edge drops gets a 502 page instead of hanging, and is not sent again', async () => {
    await twoConnections();
    const arrived = new Promise<void>((resolve) => holdArrived.push(resolve));
    const inFlight = visit(edge.url, '/hold', { method: 'POST', body: 'once only', timeoutMs: 10_000 }).then(
      (response) => ({ response, error: undefined }),
      (error: Error) => ({ response: undefined, error }),
    );
    await arrived;
    const carrying = edgeConnections().find((c) => c.activeStreams > 0);
    assert.ok(carrying, 'one connection carries the request');
    let again = false;
    holdArrived.push(() => (again = true));
    carrying.session.destroy();
    const { response, error } = await inFlight;
    assert.equal(error, undefined, `the visitor got no answer: ${error?.message}`);
    assert.equal(response!.status, 502);
    assert.ok(response!.text.includes(String(response!.headers['burrow-ray'])), 'the page names the ray');
    assert.equal(again, false, 'the POST reached the origin only once');
    holdArrived.length = 0;
    await twoConnections();
  });

  it('a GET in flight on a dropped connection is retried once on the other; if that one drops too, the visitor gets a 502 page', async () => {
    await twoConnections();
    const first = new Promise<void>((resolve) => holdArrived.push(resolve));
    const inFlight = visit(edge.url, '/hold', { timeoutMs: 10_000 }).then(
      (response) => ({ response, error: undefined }),
      (error: Error) => ({ response: undefined, error }),
    );
    await first;
    // The connection the POST above broke is replaced by now, but its replacement may still be registering.
    await eventually(() => edgeConnections().filter((c) => c.usable).length === 2, 15_000, 'two usable connections');
    const carrying = edgeConnections().find((c) => c.activeStreams > 0)!;
    const retried = new Promise<void>((resolve) => holdArrived.push(resolve));
    carrying.session.destroy();
    const early = await Promise.race([retried.then(() => undefined), inFlight]);
    assert.equal(early, undefined, `answered ${early?.response?.status} instead of retrying`);
    const second = edgeConnections().find((c) => c.activeStreams > 0 && c !== carrying);
    assert.ok(second, 'the retry runs on the other connection');
    second.session.destroy();
    const { response, error } = await inFlight;
    assert.equal(error, undefined, `the visitor got no answer: ${error?.message}`);
    assert.equal(response!.status, 502);
    await twoConnections();
  });

  it('losing every connection at once: the connector reconnects them all and requests work again', async () => {
    await twoConnections();
    const before = new Set(edgeConnections().map((c) => c.id));
    for (const connection of edgeConnections()) connection.session.destroy();
    await eventually(async () => (await visit(edge.url, '/back').catch(() => undefined))?.status === 200, 15_000, 'requests to work again');
    await twoConnections();
    assert.ok(edgeConnections().every((c) => !before.has(c.id)), 'both connections are new');
    const response = await visit(edge.url, '/final');
    assert.equal(response.text, 'ok /final');
  });
});
