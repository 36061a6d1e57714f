// DNS across a network of three PoPs sharing one registry: every PoP answers the same, SRV discovery lists the live
// PoPs (per region too), a route made at one PoP is answered at every other at once, and a stopped PoP leaves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EdgeClient } from '../../../core/edge-client.ts';
import { splitHostPort } from '../../../core/transport/host.ts';
import { startDevNetwork, type DevNetwork } from '../../../plugins/network/dev/network.ts';
import { dig } from '../../helpers/dig.ts';
import { createTunnel, eventually, type TestEdge } from '../../helpers/harness.ts';

const POPS = ['fra', 'lhr', 'iad'];

describe('dns plugin: a network of PoPs', () => {
  let network: DevNetwork;
  let client: EdgeClient;
  const dnsOf = (pop: string) => network.pops.get(pop)!.dns!;

  before(async () => {
    network = await startDevNetwork({ pops: POPS, probeInterval: 300, dns: { discovery: 'edges.localhost', regions: { fra: 'eu', lhr: 'eu', iad: 'us' } } });
    const fra = network.pops.get('fra')!;
    const asEdge = { api: `http://${fra.api}`, admin: new EdgeClient(`http://${fra.api}`, network.adminToken) } as TestEdge;
    const tunnel = await createTunnel(asEdge, 'app', ['app.localhost'], 'localhost');
    client = new EdgeClient(`http://${network.pops.get('iad')!.api}`, tunnel.apiToken);
    // Every PoP has published itself.
    await eventually(async () => (await dig(dnsOf('iad'), '_burrow._tcp.edges.localhost', 'SRV')).answers.length === 3, 10_000, 'three PoPs in SRV');
  });
  after(() => network?.stop(0));

  it('every PoP gives the same answers', async () => {
    for (const [name, type] of [['app.localhost', 'A'], ['_burrow._tcp.edges.localhost', 'SRV'], ['localhost', 'SOA'], ['localhost', 'NS'], ['nope.localhost', 'A']] as const) {
      const answers = await Promise.all(POPS.map(async (pop) => {
        const answer = await dig(dnsOf(pop), name, type);
        return { status: answer.status, answers: answer.answers.map((r) => `${r.type} ${r.data}`).sort(), authority: answer.authority.map((r) => `${r.type} ${r.data}`) };
      }));
      for (const answer of answers.slice(1)) assert.deepEqual(answer, answers[0], `${name} ${type}`);
    }
  });

  it('SRV lists each live PoP with its tunnel port, and per region', async () => {
    const srv = await dig(dnsOf('fra'), '_burrow._tcp.edges.localhost', 'SRV');
    const expected = POPS.map((pop) => `10 100 ${splitHostPort(network.pops.get(pop)!.tunnel).port} ${pop}.edges.localhost.`).sort();
    assert.deepEqual(srv.answers.map((r) => r.data).sort(), expected);
    const eu = await dig(dnsOf('iad'), '_burrow._tcp.eu.edges.localhost', 'SRV');
    assert.deepEqual(eu.answers.map((r) => r.data.split(' ')[3]).sort(), ['fra.edges.localhost.', 'lhr.edges.localhost.']);
    const us = await dig(dnsOf('lhr'), '_burrow._tcp.us.edges.localhost', 'SRV');
    assert.deepEqual(us.answers.map((r) => r.data.split(' ')[3]), ['iad.edges.localhost.']);
  });

  it('a route made or removed at one PoP is answered so at every PoP at once', async () => {
    await client.request('PUT', '/v1/routes/fresh.localhost', { tunnel: 'app' });
    for (const pop of POPS) assert.equal((await dig(dnsOf(pop), 'fresh.localhost', 'A')).status, 'NOERROR', pop);
    await client.request('DELETE', '/v1/routes/fresh.localhost');
    for (const pop of POPS) assert.equal((await dig(dnsOf(pop), 'fresh.localhost', 'A')).status, 'NXDOMAIN', pop);
  });

  it('a PoP that stops leaves the SRV answers of the others', async () => {
    await network.pops.get('lhr')!.edge.stop(0);
    await eventually(async () => {
      const srv = await dig(dnsOf('fra'), '_burrow._tcp.edges.localhost', 'SRV');
      return srv.answers.length === 2 && !srv.answers.some((r) => r.data.includes('lhr.'));
    }, 15_000, 'lhr gone from SRV');
  });
});
