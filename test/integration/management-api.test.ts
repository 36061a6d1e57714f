// End to end on the edge API: refusals a user sees from `burrow tunnel route dns` and `tunnel delete` keep their status and message.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { EdgeApiError, EdgeClient } from '../../core/edge-client.ts';
import { rejectionOf } from '../helpers/errors.ts';
import { createTunnel, eventually, removeDir, startConnector, startEdge, type TestEdge } from '../helpers/harness.ts';
import { stopAll, visit } from '../helpers/http.ts';

let edge: TestEdge;
let client: EdgeClient;
let connector: Connector | undefined;
let tunnelId: string;
/** Marks a test that asserts the correct behaviour but fails until a known product bug is fixed. */

before(async () => {
  edge = await startEdge();
  const credentials = await createTunnel(edge, 'managed', ['app.example.test']);
  await createTunnel(edge, 'other', []);
  tunnelId = credentials.tunnelId;
  client = new EdgeClient(edge.api, credentials.apiToken);
  connector = await startConnector(credentials, { ingress: [{ service: 'http_status:204' }] });
});

after(async () => {
  await stopAll(
    () => connector?.stop(0),
    () => edge?.stop(),
    () => removeDir(edge.dataDir),
  );
});

const refusal = (promise: Promise<unknown>): Promise<EdgeApiError> => rejectionOf(promise, EdgeApiError);

describe('edge API refusals', () => {
  it('routing a hostname outside the tunnel zone is a 400 that says so', async () => {
    const error = await refusal(client.request('PUT', '/v1/routes/app.elsewhere.test', { tunnel: 'managed' }));
    assert.equal(error.status, 400);
    assert.match(error.message, /outside the zone example\.test/);
  });

  it('routing a hostname that belongs to another tunnel is a 409, unless overwrite is set', async () => {
    const error = await refusal(client.request('PUT', '/v1/routes/app.example.test', { tunnel: 'other' }));
    assert.equal(error.status, 409);
    assert.match(error.message, /already routed/);
    await client.request('PUT', '/v1/routes/moved.example.test', { tunnel: 'managed' });
    await client.request('PUT', '/v1/routes/moved.example.test', { tunnel: 'other', overwrite: true });
    assert.equal((await visit(edge.url, '/', { host: 'moved.example.test' })).status, 530, 'now routed to the tunnel without a connector');
  });

  it('an invalid hostname is a 400', async () => {
    const error = await refusal(client.request('PUT', '/v1/routes/not_a_hostname', { tunnel: 'managed' }));
    assert.equal(error.status, 400);
  });

  it('a tunnel with live connections is not deleted without force; with force its connections are cut', async () => {
    await eventually(() => edge.edge.connections.forTunnel(tunnelId).length > 0, 10_000, 'live connections');
    const error = await refusal(client.request('DELETE', '/v1/tunnels/managed'));
    assert.equal(error.status, 409);
    assert.match(error.message, /live connection/);
    assert.equal((await visit(edge.url, '/')).status, 204);

    const deleted = await client.request<{ deleted: string; disconnected: number }>('DELETE', '/v1/tunnels/managed?force=true');
    assert.equal(deleted.deleted, tunnelId);
    assert.ok(deleted.disconnected > 0);
    assert.equal((await visit(edge.url, '/')).status, 404, 'the route went with the tunnel');
    await eventually(() => edge.edge.connections.forTunnel(tunnelId).length === 0, 10_000, 'connections cut');
  });
});
