// How PoPs find each other's peer port: a PoP publishes edge.network.advertise (not its listen.peer) for the others
// to dial, and edge.network.peers makes a PoP dial a peer at an address of its own choosing. Each address here is a
// relay in front of the real peer port, so the test sees which address each link was dialed at.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { initNetworkCa } from '../../plugins/network/ca-command.ts';
import { DelayRelay } from '../../plugins/network/dev/relay.ts';
import type { NetworkStatus } from '../../plugins/network/view.ts';
import { createTunnel, eventually, removeDir, startConnector, startEdge, startOrigin, tempDir, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { stopAll, visit } from '../helpers/http.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

describe('network: advertised and overridden peer addresses', () => {
  let redis: TestRedis;
  let root: string;
  let fra: TestEdge;
  let iad: TestEdge;
  let origin: TestOrigin;
  let connector: Connector | undefined;
  /** In front of fra's peer port, the address fra advertises. */
  let advertised: DelayRelay;
  /** In front of iad's peer port, the address fra is told to dial iad at (edge.network.peers). */
  let override: DelayRelay;

  before(async () => {
    redis = await startRedis();
    root = await tempDir('burrow-net-addresses-');
    const ca = path.join(root, 'ca');
    await initNetworkCa(ca);
    advertised = await DelayRelay.start({});
    override = await DelayRelay.start({});
    const network = { registry: redis.url, ca, probeInterval: '500ms' };
    fra = await startEdge({ pop: 'fra', network: { ...network, advertise: advertised.address, peers: { iad: override.address } } });
    iad = await startEdge({ pop: 'iad', network });
    advertised.setTarget(fra.edge.addresses!.peer!);
    override.setTarget(iad.edge.addresses!.peer!);
    origin = await startOrigin((req, res) => res.end(`served ${req.headers.host}`));
    const credentials = await createTunnel(iad, 'app', ['app.example.test']);
    connector = await startConnector(credentials, { ingress: [{ service: origin.url }] });
  });
  after(() =>
    stopAll(
      () => connector?.stop(0),
      () => origin?.close(),
      () => fra?.stop(),
      () => iad?.stop(),
      () => advertised?.close(),
      () => override?.close(),
      () => redis?.close(),
      () => removeDir(root),
    ),
  );

  it('publishes the advertised address, and the other PoP dials it there', async () => {
    const status = await fra.admin.request<NetworkStatus>('GET', '/v1/network');
    assert.equal(status.pops.find((pop) => pop.name === 'fra')?.peer, advertised.address);
    await eventually(async () => (await iad.admin.request<NetworkStatus>('GET', '/v1/network')).pops.find((pop) => pop.name === 'iad')?.links.fra !== undefined, 10_000, 'iad to measure its link to fra');
    assert.ok(advertised.stats().connections >= 1, 'iad dialed fra at the advertised address');
  });

  it('dials a peer at its edge.network.peers address instead of the one it advertises, and forwards over it', async () => {
    await eventually(async () => (await fra.admin.request<NetworkStatus>('GET', '/v1/network')).pops.find((pop) => pop.name === 'fra')?.links.iad !== undefined, 10_000, 'fra to measure its link to iad');
    assert.ok(override.stats().connections >= 1, 'fra dialed iad at the overriding address');
    // A visitor at fra reaches the tunnel held at iad over that link.
    await eventually(async () => (await visit(fra.url, '/', { host: 'app.example.test' })).status === 200, 10_000, 'a request at fra to reach iad');
    const answer = await visit(fra.url, '/', { host: 'app.example.test' });
    assert.equal(answer.text, 'served app.example.test');
  });
});
