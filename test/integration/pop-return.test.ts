// A PoP that comes back is taken again: a connector 2 + 2 on the nearest PoPs (fra 5 ms, lhr 60 ms, iad 200 ms one way,
// found through SRV) moves lhr's connections to iad when lhr stops, and once lhr is back each connection that is cut
// reconnects to lhr, until the connector is 2 + 2 on fra and lhr again.
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { after, before, describe, it } from 'node:test';
import { Connector } from '../../core/connector/connector.ts';
import type { TunnelCredentials } from '../../core/connector/hooks.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { configSchema } from '../../config/schema.ts';
import { startDevNetwork, type DevNetwork } from '../../plugins/network/dev/network.ts';
import { createTunnel, eventually, fullMesh, startOrigin, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { statusAt } from '../helpers/http.ts';
import { captureLogger } from '../helpers/identity.ts';

const HOST = 'app.localhost';
const DOMAIN = 'edges.localhost';

const get = (address: string) => statusAt(address, HOST);

describe('a PoP that comes back is taken again at the next reconnect', () => {
  let network: DevNetwork;
  let origin: TestOrigin;
  let credentials: TunnelCredentials;
  let connector: Connector | undefined;
  /** PoP of each live connection, by slot. */
  const pops = new Map<number, string>();
  const spread = () => {
    const out: Record<string, number> = {};
    for (const pop of [...pops.values()].sort()) out[pop] = (out[pop] ?? 0) + 1;
    return JSON.stringify(out);
  };
  const { log, lines } = captureLogger();
  /** The connector's last warnings, for a failure message. */
  const warnings = () => lines.filter((line) => line.level >= 40).slice(-8).map((line) => `${line.msg} ${JSON.stringify({ ...line, msg: undefined, level: undefined, time: undefined })}`).join('\n');
  const waitForSpread = async (expected: Record<string, number>, what: string) => {
    await eventually(() => spread() === JSON.stringify(expected), 20_000, what).catch((error: Error) => {
      throw new Error(`${error.message} (now ${spread()}); the connector's last warnings:\n${warnings()}`);
    });
  };
  /** The PoPs fra's DNS lists under SRV discovery. */
  const listed = async () => {
    const resolver = new Resolver({ timeout: 1_000, tries: 1 });
    resolver.setServers([network.pops.get('fra')!.dns!]);
    const records = await resolver.resolveSrv(`_burrow._tcp.${DOMAIN}`).catch(() => []);
    return records.map((record) => record.name.split('.')[0]!).sort();
  };
  const tunnelConnections = (pop: string) => network.pops.get(pop)!.edge.connections.forTunnel(credentials.tunnelId);

  before(async () => {
    origin = await startOrigin((_req, res) => res.end('ok'));
    network = await startDevNetwork({
      pops: ['fra', 'lhr', 'iad'],
      probeInterval: 300,
      dns: { discovery: DOMAIN },
      connectorLatency: { fra: 5, lhr: 60, iad: 200 },
    });
    const fra = network.pops.get('fra')!;
    const asEdge = { api: `http://${fra.api}`, admin: new EdgeClient(`http://${fra.api}`, network.adminToken) } as TestEdge;
    const { apiToken: _token, ...tunnel } = await createTunnel(asEdge, 'app', [HOST], 'localhost');
    credentials = tunnel;
    // The connector ranks PoPs by handshake time: measured once every PoP has linked to the others, not while the
    // whole network (one process) is still starting.
    await fullMesh(asEdge.admin, 3);
    connector = new Connector({
      config: configSchema.parse({
        'ha-connections': 4,
        'heartbeat-interval': '1s',
        'heartbeat-count': 3,
        discovery: { domain: DOMAIN, resolver: fra.dns },
        ingress: [{ service: origin.url }],
      }),
      credentials: { ...credentials, edge: undefined },
      log,
      backoff: { baseMs: 100, capMs: 1_000 },
    });
    connector.hooks.afterConnect.tap('test', (info) => void pops.set(info.index, info.pop));
    connector.hooks.connectionLost.tap('test', (info) => void pops.delete(info.index));
    await connector.start();
  });
  after(async () => {
    await connector?.stop(0);
    await network?.stop(0);
    await origin?.close();
  });

  it('leaves lhr when it stops, and goes back to it, one cut connection at a time, once it is up again', async () => {
    await waitForSpread({ fra: 2, lhr: 2 }, '2 + 2 on fra and lhr, the 2 nearest');

    await network.pops.get('lhr')!.edge.stop(0);
    await waitForSpread({ fra: 2, iad: 2 }, "lhr's connections moved to iad");
    await eventually(async () => (await listed()).join(',') === 'fra,iad', 15_000, 'SRV discovery to drop lhr');
    assert.equal(await get(network.pops.get('fra')!.http), 200);

    await network.restart('lhr');
    await eventually(async () => (await listed()).join(',') === 'fra,iad,lhr', 15_000, 'SRV discovery to list lhr again');
    // Nothing moves by itself: connections are only placed when they (re)connect.
    assert.equal(spread(), JSON.stringify({ fra: 2, iad: 2 }));

    // Cut one of iad's connections (a destroyed socket, not a clean close): it reconnects to lhr, nearer than iad.
    tunnelConnections('iad')[0]!.session.destroy();
    await waitForSpread({ fra: 2, iad: 1, lhr: 1 }, 'the cut connection on lhr');
    tunnelConnections('iad')[0]!.session.destroy();
    await waitForSpread({ fra: 2, lhr: 2 }, '2 + 2 on fra and lhr again');
    assert.equal(tunnelConnections('lhr').filter((c) => c.usable).length, 2, "lhr's edge holds two of the tunnel's connections");
    assert.equal(await get(network.pops.get('lhr')!.http), 200);
  });
});
