// `burrow network dev` in process: two PoPs on one shared registry and CA, linked through delaying relays that point at each other's peer port.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EdgeClient } from '../../../../core/edge-client.ts';
import { startDevNetwork, type DevNetwork } from '../../../../plugins/network/dev/network.ts';
import { ADMIN_TOKEN, createTunnel, eventually, type TestEdge } from '../../../helpers/harness.ts';

describe('startDevNetwork', () => {
  let net: DevNetwork;
  const client = (pop: string) => new EdgeClient(`http://${net.pops.get(pop)!.api}`, net.adminToken);

  before(async () => {
    net = await startDevNetwork({ pops: ['fra', 'lhr'], latency: { 'fra-lhr': 15, 'lhr-fra': 15 }, probeInterval: 200 });
  });
  after(() => net?.stop());

  it('starts every PoP on loopback with the dev zone, quick tunnels and one admin token', async () => {
    assert.deepEqual([...net.pops.keys()], ['fra', 'lhr']);
    assert.equal(net.adminToken, ADMIN_TOKEN, 'BURROW_EDGE_TOKEN (set by the harness) is the token');
    for (const [name, pop] of net.pops) {
      for (const address of [pop.http, pop.api, pop.tunnel, pop.peer]) assert.match(address, /^127\.0\.0\.1:\d+$/);
      assert.deepEqual(await client(name).request('GET', '/v1/edge'), { pop: name, zones: ['localhost'], quickTunnels: 'localhost' });
      await client(name).request('GET', '/v1/tunnels');
      assert.equal(pop.edge.settings.network?.ca, net.caDir);
    }
    assert.ok(existsSync(path.join(net.caDir, 'ca.pem')));
  });

  it('points each relay at the peer listener of its destination PoP, delayed per the matrix', () => {
    const fra = net.pops.get('fra')!;
    const lhr = net.pops.get('lhr')!;
    assert.equal(net.relay('fra', 'lhr').target, lhr.peer);
    assert.equal(net.relay('lhr', 'fra').target, fra.peer);
    assert.deepEqual(net.relay('fra', 'lhr').delay, { forwardMs: 15, backwardMs: 15 });
    assert.equal(fra.edge.settings.network?.peers.lhr, net.relay('fra', 'lhr').address);
    assert.equal(lhr.edge.settings.network?.peers.fra, net.relay('lhr', 'fra').address);
    assert.throws(() => net.relay('fra', 'fra'), /no link from fra to fra/);
  });

  it('shares one registry: a tunnel created at one PoP is listed at the other', async () => {
    const fra = net.pops.get('fra')!;
    const fraEdge = { edge: fra.edge, api: `http://${fra.api}`, url: `http://${fra.http}`, admin: client('fra') } as unknown as TestEdge;
    await createTunnel(fraEdge, 'shared', ['shared.localhost'], 'localhost');
    const listed = await client('lhr').request<{ tunnels: Array<{ name: string }> }>('GET', '/v1/tunnels');
    assert.ok(listed.tunnels.some((tunnel) => tunnel.name === 'shared'));
  });

  it('setLatency changes every relay, and the links measure it', async () => {
    const rtt = async () => {
      const status = await client('fra').request<{ pops: Array<{ name: string; links: Record<string, number> }> }>('GET', '/v1/network');
      return status.pops.find((pop) => pop.name === 'fra')?.links.lhr ?? Number.NaN;
    };
    await eventually(
      async () => {
        const ms = await rtt();
        return ms >= 30 && ms < 50;
      },
      10_000,
      'fra to measure about 30 ms to lhr',
    );

    net.setLatency({ 'fra-lhr': 40, 'lhr-fra': 20 });
    assert.deepEqual(net.latency(), { 'fra-lhr': 40, 'lhr-fra': 20 });
    assert.deepEqual(net.relay('fra', 'lhr').delay, { forwardMs: 40, backwardMs: 20 });
    assert.deepEqual(net.relay('lhr', 'fra').delay, { forwardMs: 20, backwardMs: 40 });
    await eventually(
      async () => {
        const ms = await rtt();
        return ms >= 60 && ms < 90;
      },
      10_000,
      'fra to measure about 60 ms to lhr',
    );
  });

  it('stop() stops the PoPs and removes the temp folders', async () => {
    const { caDir } = net;
    const api = net.pops.get('fra')!.api;
    await net.stop();
    assert.equal(existsSync(caDir), false);
    await assert.rejects(new EdgeClient(`http://${api}`, net.adminToken).request('GET', '/v1/edge'));
    assert.equal(net.relay('fra', 'lhr').stats().connections, 0);
  });
});

describe('startDevNetwork options', () => {
  it('refuses PoP lists it cannot run, naming --pops', async () => {
    await assert.rejects(startDevNetwork({ pops: [] }), /--pops: no PoPs to run/);
    await assert.rejects(startDevNetwork({ pops: ['fra', 'fra'] }), /--pops: the PoP fra is listed twice/);
    await assert.rejects(startDevNetwork({ pops: ['FRA'] }), /--pops: "FRA" is not a PoP name/);
    await assert.rejects(startDevNetwork({ pops: ['fra'], basePort: 70000 }), /--base-port: 70000 is not a usable base port/);
  });
});
