// A connector finding a network of three PoPs through SRV records, with emulated connector-to-PoP delays (fra 5 ms,
// lhr 60 ms, iad 200 ms one way: far enough apart that a busy machine does not reorder them): 4 connections on the 2 nearest (2 + 2), moved to the next nearest when a PoP goes
// away, the static list and cert.pem as fallbacks with the source in the log, and login recording the domain.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { Connector } from '../../core/connector/connector.ts';
import type { TunnelCredentials } from '../../core/connector/hooks.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { configSchema, type BurrowConfigInput } from '../../config/schema.ts';
import { createKeyAndCsr } from '../../plugins/origin-ca/ca.ts';
import { startDevNetwork, type DevNetwork } from '../../plugins/network/dev/network.ts';
import { createTunnel, eventually, fullMesh, startOrigin, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { statusAt } from '../helpers/http.ts';
import { captureLogger, type LogLine } from '../helpers/identity.ts';

const HOST = 'app.localhost';

interface Watched {
  connector: Connector;
  lines: LogLine[];
  /** PoP of each live connection, by slot. */
  pops: Map<number, string>;
}

async function watchedConnector(credentials: TunnelCredentials, config: BurrowConfigInput): Promise<Watched> {
  const { log, lines } = captureLogger();
  const connector = new Connector({
    config: configSchema.parse({ 'ha-connections': 4, 'heartbeat-interval': '1s', 'heartbeat-count': 3, ...config }),
    credentials,
    log,
    backoff: { baseMs: 100, capMs: 1_000 },
  });
  const pops = new Map<number, string>();
  connector.hooks.afterConnect.tap('test', (info) => void pops.set(info.index, info.pop));
  connector.hooks.connectionLost.tap('test', (info) => void pops.delete(info.index));
  await connector.start();
  return { connector, lines, pops };
}

function spread(pops: Map<number, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pop of pops.values()) out[pop] = (out[pop] ?? 0) + 1;
  return out;
}

const get = (address: string) => statusAt(address, HOST);

describe('SRV discovery and the 2 nearest PoPs', () => {
  let network: DevNetwork;
  let origin: TestOrigin;
  let credentials: TunnelCredentials;
  const running: Connector[] = [];
  const dnsOf = (pop: string) => network.pops.get(pop)!.dns!;

  before(async () => {
    origin = await startOrigin((_req, res) => res.end('ok'));
    network = await startDevNetwork({
      pops: ['fra', 'lhr', 'iad'],
      probeInterval: 300,
      dns: { discovery: 'edges.localhost' },
      connectorLatency: { fra: 5, lhr: 60, iad: 200 },
    });
    const fra = network.pops.get('fra')!;
    const asEdge = { api: `http://${fra.api}`, admin: new EdgeClient(`http://${fra.api}`, network.adminToken) } as TestEdge;
    const { apiToken: _token, ...tunnel } = await createTunnel(asEdge, 'app', [HOST], 'localhost');
    credentials = tunnel;
    // Connectors rank PoPs by handshake time: measured once every PoP has linked to the others, not while the whole
    // network (one process) is still starting.
    await fullMesh(asEdge.admin, 3);
  });
  after(async () => {
    await Promise.allSettled(running.map((connector) => connector.stop(0)));
    await network?.stop(0);
    await origin?.close();
  });

  it('puts 2 connections on each of the 2 nearest PoPs, says so in its log, and serves', async () => {
    const watched = await watchedConnector(credentials, { discovery: { domain: 'edges.localhost', resolver: dnsOf('iad') }, ingress: [{ service: origin.url }] });
    running.push(watched.connector);
    await eventually(() => watched.pops.size === 4, 10_000, '4 connections');
    assert.deepEqual(spread(watched.pops), { fra: 2, lhr: 2 });
    const found = watched.lines.find((line) => line.msg.startsWith('edges from SRV discovery'));
    assert.ok(found, 'the log names the source');
    assert.match(found.msg, /_burrow\._tcp\.edges\.localhost via 127\.0\.0\.1:\d+: fra [\d.]+ ms, lhr [\d.]+ ms, iad [\d.]+ ms/);
    for (const pop of ['fra', 'lhr', 'iad']) assert.equal(await get(network.pops.get(pop)!.http), 200, `via ${pop}`);

    // lhr goes away: its two connections move to the next nearest (iad), fra keeps its own.
    await network.pops.get('lhr')!.edge.stop(0);
    await eventually(() => JSON.stringify(spread(watched.pops)) === JSON.stringify({ fra: 2, iad: 2 }), 15_000, `connections on fra and iad (now ${JSON.stringify(spread(watched.pops))})`);
    assert.equal(await get(network.pops.get('iad')!.http), 200);
    await watched.connector.stop(0);
  });

  it('falls back to the edge: list when discovery finds nothing, and says which it used', async () => {
    // A resolver that never answers.
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const fra = network.pops.get('fra')!;
      const watched = await watchedConnector(
        { ...credentials, edge: undefined },
        { 'ha-connections': 2, discovery: { domain: 'edges.localhost', resolver: `127.0.0.1:${silent.address().port}` }, edge: [fra.tunnel], ingress: [{ service: origin.url }] },
      );
      running.push(watched.connector);
      await eventually(() => watched.pops.size === 2, 10_000, '2 connections');
      assert.deepEqual(spread(watched.pops), { fra: 2 });
      assert.ok(watched.lines.some((line) => line.level === 40 && /SRV discovery of edges\.localhost found no edges .*falling back/.test(line.msg)));
      assert.ok(watched.lines.some((line) => line.msg === "edges from the config's edge: list"));
      await watched.connector.stop(0);
    } finally {
      silent.close();
    }
  });

  it('login records the discovery domain and this PoP\'s DNS listener; a connector with no discovery: config uses them', async () => {
    const fra = network.pops.get('fra')!;
    const { csrPem } = await createKeyAndCsr({ zones: ['localhost'] });
    const login = await new EdgeClient(`http://${fra.api}`, network.adminToken).request<{ edge: { discovery?: { domain: string; resolver?: string } } }>('POST', '/v1/login', { csr: csrPem, zone: 'localhost' });
    assert.deepEqual(login.edge.discovery, { domain: 'edges.localhost', resolver: fra.dns });

    const watched = await watchedConnector({ ...credentials, edge: fra.tunnel, discovery: login.edge.discovery! }, { 'ha-connections': 2, ingress: [{ service: origin.url }] });
    running.push(watched.connector);
    await eventually(() => watched.pops.size === 2, 10_000, '2 connections');
    const found = watched.lines.find((line) => line.msg.startsWith('edges from SRV discovery'));
    assert.equal(found?.source, 'the credentials');
    // lhr stopped in the first test: fra and iad are what SRV lists now, and fra is nearest.
    assert.deepEqual(spread(watched.pops), { fra: 1, iad: 1 });
    await watched.connector.stop(0);
  });
});
