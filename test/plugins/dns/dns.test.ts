// The edge's authoritative DNS, asked with `dig` as a user would: routed names, wildcards, SOA/NS, NXDOMAIN and
// REFUSED, SRV discovery, TCP, EDNS0, truncation with TCP fallback, and answers that follow routes at once.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { EdgeClient } from '../../../core/edge-client.ts';
import { splitHostPort } from '../../../core/transport/host.ts';
import { dig } from '../../helpers/dig.ts';
import { createTunnel, startEdge, type TestEdge } from '../../helpers/harness.ts';

const VISITORS = ['203.0.113.10', '2001:db8::10'];

describe('dns plugin: one edge', () => {
  let edge: TestEdge;
  let dns: string;
  let tunnelPort: number;
  let client: EdgeClient;

  before(async () => {
    edge = await startEdge({
      pop: 'fra',
      region: 'eu',
      listen: { dns: '127.0.0.1:0' },
      dns: { discovery: 'edges.example.test', visitorAddresses: VISITORS, ttl: '60s' },
    });
    dns = edge.edge.addresses!.dns!;
    tunnelPort = splitHostPort(edge.edge.addresses!.tunnel).port;
    const tunnel = await createTunnel(edge, 'app', ['app.example.test', '*.wild.example.test']);
    client = new EdgeClient(edge.api, tunnel.apiToken);
  });
  after(() => edge?.stop());

  it('answers A and AAAA for a routed hostname with the visitor addresses, authoritatively', async () => {
    const a = await dig(dns, 'app.example.test', 'A');
    assert.equal(a.status, 'NOERROR');
    assert.ok(a.flags.includes('aa'), a.raw);
    assert.deepEqual(a.answers.map((r) => [r.type, r.data, r.ttl]), [['A', '203.0.113.10', 60]]);
    const aaaa = await dig(dns, 'app.example.test', 'AAAA');
    assert.deepEqual(aaaa.answers.map((r) => [r.type, r.data]), [['AAAA', '2001:db8::10']]);
  });

  it('matches names case-insensitively and answers with the name as asked', async () => {
    const answer = await dig(dns, 'ApP.ExAmPlE.TeSt', 'A');
    assert.equal(answer.status, 'NOERROR');
    assert.equal(answer.answers[0]?.name, 'ApP.ExAmPlE.TeSt.');
  });

  it('answers names under a wildcard route', async () => {
    const answer = await dig(dns, 'anything.wild.example.test', 'A');
    assert.equal(answer.status, 'NOERROR');
    assert.deepEqual(answer.answers.map((r) => r.data), ['203.0.113.10']);
  });

  it('NXDOMAIN with the SOA for an unknown name inside a zone, REFUSED outside every zone', async () => {
    const missing = await dig(dns, 'nope.example.test', 'A');
    assert.equal(missing.status, 'NXDOMAIN');
    assert.ok(missing.flags.includes('aa'));
    assert.equal(missing.authority[0]?.type, 'SOA');
    const outside = await dig(dns, 'www.example.com', 'A');
    assert.equal(outside.status, 'REFUSED');
    assert.equal(outside.answers.length, 0);
  });

  it('NODATA (NOERROR, no answers, the SOA) for a routed name asked for a type it has none of', async () => {
    const answer = await dig(dns, 'app.example.test', 'MX');
    assert.equal(answer.status, 'NOERROR');
    assert.equal(answer.answers.length, 0);
    assert.equal(answer.authority[0]?.type, 'SOA');
  });

  it('serves SOA and NS at each zone apex, with glue for the name servers', async () => {
    const soa = await dig(dns, 'example.test', 'SOA');
    assert.equal(soa.status, 'NOERROR');
    assert.match(soa.answers[0]?.data ?? '', /^ns-fra\.example\.test\. hostmaster\.example\.test\. 1 /);
    const ns = await dig(dns, 'example.test', 'NS');
    assert.deepEqual(ns.answers.map((r) => r.data), ['ns-fra.example.test.']);
    // The DNS listener has an address of its own (127.0.0.1), so that is the name server's.
    assert.deepEqual(ns.additional.filter((r) => r.type === 'A').map((r) => [r.name, r.data]), [['ns-fra.example.test.', '127.0.0.1']]);
    const glue = await dig(dns, 'ns-fra.example.test', 'A');
    assert.deepEqual(glue.answers.map((r) => r.data), ['127.0.0.1']);
  });

  it('publishes the PoP in SRV discovery, per network and per region, with the target address', async () => {
    const srv = await dig(dns, '_burrow._tcp.edges.example.test', 'SRV');
    assert.equal(srv.status, 'NOERROR');
    assert.deepEqual(srv.answers.map((r) => r.data), [`10 100 ${tunnelPort} fra.edges.example.test.`]);
    assert.deepEqual(srv.additional.filter((r) => r.type === 'A').map((r) => [r.name, r.data]), [['fra.edges.example.test.', '127.0.0.1']]);
    const regional = await dig(dns, '_burrow._tcp.eu.edges.example.test', 'SRV');
    assert.deepEqual(regional.answers.map((r) => r.data), [`10 100 ${tunnelPort} fra.edges.example.test.`]);
    assert.equal((await dig(dns, '_burrow._tcp.us.edges.example.test', 'SRV')).status, 'NXDOMAIN');
    // The names between the zone and the records exist (NODATA), as resolvers walking down expect.
    assert.equal((await dig(dns, '_tcp.edges.example.test', 'A')).status, 'NOERROR');
    const target = await dig(dns, 'fra.edges.example.test', 'A');
    assert.deepEqual(target.answers.map((r) => r.data), ['127.0.0.1']);
  });

  it('answers over TCP as over UDP', async () => {
    const answer = await dig(dns, 'app.example.test', 'A', ['+tcp']);
    assert.equal(answer.status, 'NOERROR');
    assert.deepEqual(answer.answers.map((r) => r.data), ['203.0.113.10']);
  });

  it('accepts EDNS0 (and answers with OPT), refuses a later EDNS version with BADVERS', async () => {
    const edns = await dig(dns, 'app.example.test', 'A', ['+edns=0']);
    assert.equal(edns.status, 'NOERROR');
    assert.ok(edns.edns, edns.raw);
    const plain = await dig(dns, 'app.example.test', 'A', ['+noedns']);
    assert.equal(plain.edns, false);
    const later = await dig(dns, 'app.example.test', 'A', ['+edns=1', '+noednsneg']);
    assert.equal(later.status, 'BADVERS');
  });

  it('follows routes at once: unrouting and deleting the tunnel remove the record', async () => {
    await client.request('PUT', '/v1/routes/new.example.test', { tunnel: 'app' });
    assert.equal((await dig(dns, 'new.example.test', 'A')).status, 'NOERROR');
    await client.request('DELETE', '/v1/routes/new.example.test');
    assert.equal((await dig(dns, 'new.example.test', 'A')).status, 'NXDOMAIN');

    await client.request('POST', '/v1/tunnels', { name: 'gone' });
    await client.request('PUT', '/v1/routes/gone.example.test', { tunnel: 'gone' });
    assert.equal((await dig(dns, 'gone.example.test', 'A')).status, 'NOERROR');
    await client.request('DELETE', '/v1/tunnels/gone');
    assert.equal((await dig(dns, 'gone.example.test', 'A')).status, 'NXDOMAIN');
  });

  it('survives thousands of random and mutated packets: FORMERR or silence, never a crash', async () => {
    const [host, port] = [splitHostPort(dns).host, splitHostPort(dns).port];
    const socket = dgram.createSocket('udp4');
    const replies: Buffer[] = [];
    socket.on('message', (message) => replies.push(message));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const valid = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'app.example.test' }], additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 1232 } as never] });
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const packets: Buffer[] = [];
    for (let i = 0; i < 1500; i++) packets.push(Buffer.from(Array.from({ length: Math.floor(random() * 80) }, () => Math.floor(random() * 256))));
    for (let i = 0; i < 1500; i++) {
      const mutated = Buffer.from(valid);
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
      // Keep most of them queries, so they reach the parser rather than being dropped as responses.
      if (random() < 0.9) mutated[2]! &= 0x7f;
      packets.push(random() < 0.2 ? mutated.subarray(0, Math.floor(random() * mutated.length)) : mutated);
    }
    for (let i = 0; i < packets.length; i++) {
      socket.send(packets[i]!, port, host);
      if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    socket.close();
    assert.ok(replies.length > 100, `only ${replies.length} replies`);
    for (const reply of replies) {
      const decoded = dnsPacket.decode(reply);
      assert.equal(decoded.type, 'response');
    }
    // Still serving, over UDP and TCP.
    assert.equal((await dig(dns, 'app.example.test', 'A')).status, 'NOERROR');
    assert.equal((await dig(dns, 'app.example.test', 'A', ['+tcp'])).status, 'NOERROR');
  });
});

describe('dns plugin: answers too large for UDP', () => {
  let edge: TestEdge;
  let dns: string;
  const many = Array.from({ length: 60 }, (_, i) => `198.51.100.${i + 1}`);

  before(async () => {
    edge = await startEdge({ listen: { dns: '127.0.0.1:0' }, dns: { visitorAddresses: many } });
    dns = edge.edge.addresses!.dns!;
    await createTunnel(edge, 'big', ['big.example.test']);
  });
  after(() => edge?.stop());

  it('sets TC over UDP and gives the whole answer over TCP, which dig falls back to', async () => {
    const udpOnly = await dig(dns, 'big.example.test', 'A', ['+noedns', '+ignore']);
    assert.ok(udpOnly.flags.includes('tc'), udpOnly.raw);
    const fallback = await dig(dns, 'big.example.test', 'A', ['+noedns']);
    assert.equal(fallback.status, 'NOERROR');
    assert.equal(fallback.answers.length, 60);
  });
});
