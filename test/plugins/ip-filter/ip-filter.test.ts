// The ip-filter plugin through the test kit: allow and deny lists by CIDR on the connector and at the edge.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestKit, type TestKit } from '../../../core/testing/index.ts';
import { compile } from '../../../plugins/ip-filter/index.ts';
import { startEchoOrigin } from '../../helpers/echo-origin.ts';
import type { TestOrigin } from '../../helpers/harness.ts';

let origin: TestOrigin;
let connectorKit: TestKit;
let edgeKit: TestKit;

before(async () => {
  origin = await startEchoOrigin();
  connectorKit = await createTestKit({
    plugins: [{ use: 'ip-filter', options: { allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.6.6.0/24'] } }],
    ingress: [{ service: origin.url }],
  });
  edgeKit = await createTestKit({ edgePlugins: [{ use: 'ip-filter', options: { deny: ['198.51.100.0/24'] } }], ingress: [{ service: origin.url }] });
});

after(async () => {
  await connectorKit.close();
  await edgeKit.close();
  await origin.close();
});

describe('ip-filter on the connector', () => {
  const cases: Array<[ip: string, status: number]> = [
    ['10.1.2.3', 200],
    ['10.6.6.9', 403], // allowed range, but denied subnet
    ['192.0.2.1', 403], // not in the allow list
    ['2001:db8::1', 200],
    ['2001:db9::1', 403],
  ];
  for (const [ip, status] of cases) {
    it(`${ip} gets ${status}`, async () => {
      const res = await connectorKit.inject({ clientIp: ip });
      assert.equal(res.status, status);
    });
  }
});

describe('ip-filter at the edge', () => {
  it('answers 403 with the ray id before the request crosses the tunnel', async () => {
    const res = await edgeKit.inject({ clientIp: '198.51.100.7' });
    assert.equal(res.status, 403);
    assert.ok(res.ray.endsWith('-test'));
    assert.ok(res.text.includes(res.ray), 'the page names the ray id');
    assert.equal(res.headers['x-origin'], undefined);
    assert.equal((await edgeKit.inject({ clientIp: '203.0.113.1' })).status, 200);
  });
});

describe('ip-filter options', () => {
  it('limits filtering to the given hostnames', () => {
    const admits = compile({ deny: ['0.0.0.0/0'], hostnames: ['*.internal.test'] });
    assert.equal(admits('app.internal.test', '1.2.3.4'), false);
    assert.equal(admits('www.example.test', '1.2.3.4'), true);
  });

  it('rejects a range that is not CIDR, naming the entry', async () => {
    await assert.rejects(createTestKit({ plugins: [{ use: 'ip-filter', options: { deny: ['10.0.0.0/33'] } }] }), /plugins\[0\]\.options\.deny\[0\].*CIDR/);
    await assert.rejects(createTestKit({ plugins: [{ use: 'ip-filter', options: {} }] }), /expected an allow or deny list/);
  });
});
