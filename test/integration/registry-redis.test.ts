// Two PoPs (fra, iad) on one Redis registry: a tunnel made at one runs at the other, presence and routes cross over, and a Redis outage.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { EdgeClient, EdgeApiError } from '../../core/edge-client.ts';
import type { PresenceRecord } from '../../core/index.ts';
import { Redis } from 'ioredis';
import { Edge } from '../../core/edge/edge.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { createTunnel, eventually, removeDir, startConnector, startEdge, startOrigin, stopWorld, tempDir, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { stopAll, visit } from '../helpers/http.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { sharedTrust } from '../helpers/shared-trust.ts';
import { createKeyAndCsr } from '../../plugins/origin-ca/ca.ts';

describe('registry-redis: two PoPs share one registry', () => {
  let redis: TestRedis;
  let fra: TestEdge;
  let iad: TestEdge;
  let origin: TestOrigin;
  let connector: Connector | undefined;
  let atFra: EdgeClient;

  before(async () => {
    redis = await startRedis();
    const trust = await sharedTrust('Network CA');
    const network = { registry: redis.url };
    fra = await startEdge({ pop: 'fra', network }, { plugins: [trust.plugin, 'registry-redis'] });
    iad = await startEdge({ pop: 'iad', network }, { plugins: [trust.plugin, 'registry-redis'] });
    origin = await startOrigin((req, res) => res.end(`served ${req.headers.host}`));
  });
  after(() =>
    stopAll(
      () => stopWorld({ connector, edge: iad, origin }),
      () => stopWorld({ edge: fra }),
      () => redis.close(),
    ),
  );

  it('a tunnel created and routed at fra serves visitors at iad, where its connector registered', async () => {
    const credentials = await createTunnel(fra, 'app', ['app.example.test']);
    atFra = new EdgeClient(fra.api, credentials.apiToken);
    connector = await startConnector({ ...credentials, edge: iad.edge.addresses!.tunnel }, { ingress: [{ service: origin.url }] });
    const answer = await visit(iad.url, '/', { host: 'app.example.test' });
    assert.equal(answer.status, 200);
    assert.equal(answer.text, 'served app.example.test');
  });

  it("fra's API lists the tunnel's connections at iad, through the registry's presence", async () => {
    let connections: PresenceRecord[] = [];
    await eventually(async () => {
      ({ tunnel: { connections } } = await atFra.request<{ tunnel: { connections: PresenceRecord[] } }>('GET', '/v1/tunnels/app'));
      return connections.length === 2;
    }, 5_000, 'both connections in presence');
    assert.deepEqual(connections.map((c) => c.pop), ['iad', 'iad']);
    assert.deepEqual(connections.map((c) => c.connIndex).sort(), [0, 1]);
  });

  it('a route added at fra is served at iad at once, although iad had cached that the hostname had none', async () => {
    assert.equal((await visit(iad.url, '/', { host: 'new.example.test' })).status, 404);
    await atFra.request('PUT', '/v1/routes/new.example.test', { tunnel: 'app' });
    const answer = await visit(iad.url, '/', { host: 'new.example.test' });
    assert.equal(answer.status, 200);
    assert.equal(answer.text, 'served new.example.test');
  });

  it('while Redis is down, iad keeps serving known hostnames and fra refuses a create naming the registry; once it is back, writes work', async () => {
    await redis.stop();
    try {
      assert.equal((await visit(iad.url, '/', { host: 'app.example.test' })).text, 'served app.example.test');
      const refused = await atFra.request('POST', '/v1/tunnels', { name: 'during-outage' }).then(
        () => assert.fail('the create should fail'),
        (error: EdgeApiError) => error,
      );
      assert.ok(refused instanceof EdgeApiError);
      assert.equal(refused.status, 503);
      assert.match(refused.message, new RegExp(`the registry at redis://127\\.0\\.0\\.1:${redis.port}/0 cannot be reached`));
      // Routing writes too; a login writes nothing to the registry (its certificate comes from the network CA), so it works.
      const unrouted = await atFra.request('PUT', '/v1/routes/outage.example.test', { tunnel: 'app' }).then(
        () => assert.fail('the route should fail'),
        (error: EdgeApiError) => error,
      );
      assert.equal(unrouted.status, 503);
      assert.match(unrouted.message, new RegExp(`the registry at redis://127\\.0\\.0\\.1:${redis.port}/0 cannot be reached`));
      const { csrPem } = await createKeyAndCsr({ zones: ['example.test'] });
      const login = await atFra.request<{ certificate: string }>('POST', '/v1/login', { csr: csrPem, zone: 'example.test' });
      assert.match(login.certificate, /BEGIN CERTIFICATE/);
    } finally {
      await redis.start();
    }
    await eventually(
      () => atFra.request('POST', '/v1/tunnels', { name: 'after-outage' }).then(() => true, () => false),
      5_000,
      'creates to work again',
    );
    await atFra.request('PUT', '/v1/routes/after.example.test', { tunnel: 'after-outage' });
    assert.equal((await visit(iad.url, '/', { host: 'app.example.test' })).text, 'served app.example.test');
  });
});

describe('edge.network.registry picks the registry', () => {
  it('puts registry-redis in the registry slot by itself, with no plugin listed', async () => {
    const redis = await startRedis();
    const trust = await sharedTrust('Network CA');
    let edge: TestEdge | undefined;
    try {
      edge = await startEdge({ pop: 'solo', network: { registry: redis.url } }, { plugins: [trust.plugin] });
      await createTunnel(edge, 'kept', ['kept.example.test']);
      const client = new Redis(redis.url);
      try {
        assert.equal((await client.smembers('burrow:tunnels')).length, 1);
      } finally {
        client.disconnect();
      }
    } finally {
      await stopAll(() => stopWorld({ edge }), () => redis.close());
    }
  });

  it('refuses to run a PoP of a network on registry-memory listed by hand', async () => {
    const dataDir = await tempDir('burrow-edge-');
    const edge = Edge.fromConfig(
      { pop: 'lone', dataDir, network: { registry: 'redis://127.0.0.1:1/0' }, listen: { http: '127.0.0.1:0', tunnel: '127.0.0.1:0', api: '127.0.0.1:0', peer: '127.0.0.1:0' } },
      { log: silentLogger, edgePlugins: ['registry-memory'] },
    );
    try {
      await assert.rejects(edge.start(), (error: Error) => {
        assert.match(error.message, /edge\.network\.registry is set, but the registry is registry-memory/);
        return true;
      });
    } finally {
      // The API listener bound before the registry refused; stop() closes it.
      await stopAll(() => edge.stop(0), () => removeDir(dataDir));
    }
  });
});
