// The network's series on each PoP's /metrics after traffic (forwarded requests per next hop, each link's round trip),
// and each PoP's /ready and /healthz: three PoPs (fra-lhr 5 ms, lhr-iad 5, fra-iad 60, one way), the tunnel at iad.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connector } from '../../core/connector/connector.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { startDevNetwork, type DevNetwork } from '../../plugins/network/dev/network.ts';
import type { RouteExplanation } from '../../plugins/network/view.ts';
import { createTunnel, eventually, startConnector, startOrigin, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { stopAll, visit } from '../helpers/http.ts';

const ONE_WAY = { 'fra-lhr': 5, 'lhr-fra': 5, 'lhr-iad': 5, 'iad-lhr': 5, 'fra-iad': 60, 'iad-fra': 60 };
const POPS = ['fra', 'lhr', 'iad'] as const;
const HOST = 'metrics.localhost';
/** Requests sent at fra (carried fra > lhr > iad) and at lhr (carried lhr > iad). */
const AT_FRA = 7;
const AT_LHR = 5;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (no escaped quotes in Burrow's label values). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

describe('network metrics: three PoPs, tunnel at iad', () => {
  let net: DevNetwork;
  let origin: TestOrigin;
  let connector: Connector | undefined;
  const api = (pop: string) => `http://${net.pops.get(pop)!.api}`;
  const visitors = (pop: string) => `http://${net.pops.get(pop)!.http}`;
  const scrape = async (pop: string) => {
    const response = await visit(api(pop), '/metrics', { host: net.pops.get(pop)!.api });
    assert.equal(response.status, 200, response.text.slice(0, 300));
    assert.match(String(response.headers['content-type']), /^text\/plain/);
    return parseMetrics(response.text);
  };
  const forwarded = (samples: Sample[]) =>
    Object.fromEntries(samples.filter((s) => s.name === 'burrow_network_forwarded_requests_total').map((s) => [`${s.labels.from}>${s.labels.to}`, s.value]));
  const explain = (from: string) => new EdgeClient(api(from), net.adminToken).request<RouteExplanation>('GET', `/v1/network/routes/${HOST}?from=${from}`);

  before(async () => {
    net = await startDevNetwork({ pops: [...POPS], latency: ONE_WAY, probeInterval: 300 });
    origin = await startOrigin((req, res) => {
      res.setHeader('x-origin-path', String(req.headers['burrow-path'] ?? ''));
      res.end('hello');
    });
    const iad = net.pops.get('iad')!;
    const iadEdge = { edge: iad.edge, api: api('iad'), url: visitors('iad'), admin: new EdgeClient(api('iad'), net.adminToken) } as unknown as TestEdge;
    const credentials = await createTunnel(iadEdge, 'metrics', [HOST], 'localhost');
    connector = await startConnector({ ...credentials, edge: iad.tunnel }, { ingress: [{ service: origin.url }] });
    await eventually(async () => (await explain('fra')).path.join(',') === 'fra,lhr,iad', 15_000, 'fra to route over lhr');
    await eventually(async () => (await explain('lhr')).path.join(',') === 'lhr,iad', 15_000, 'lhr to route to iad');
  });
  after(() =>
    stopAll(
      () => connector?.stop(0),
      () => origin?.close(),
      () => net?.stop(),
    ),
  );

  it('burrow_network_forwarded_requests_total counts each forwarded request once per hop, by next hop', async () => {
    const before = Object.fromEntries(await Promise.all(POPS.map(async (pop) => [pop, forwarded(await scrape(pop))] as const)));
    const sent: Array<[pop: string, count: number, path: string]> = [
      ['fra', AT_FRA, 'fra,lhr,iad'],
      ['lhr', AT_LHR, 'lhr,iad'],
    ];
    for (const [pop, count, path] of sent) {
      for (let i = 0; i < count; i++) {
        const response = await visit(visitors(pop), `/${pop}/${i}`, { host: HOST });
        assert.equal(response.status, 200, response.text.slice(0, 300));
        assert.equal(response.headers['x-origin-path'], path, 'the request took the route the test counts on');
      }
    }
    const grew = (pop: string, after: Record<string, number>) =>
      Object.fromEntries(Object.entries(after).map(([link, value]) => [link, value - (before[pop]![link] ?? 0)]).filter(([, delta]) => delta !== 0));
    assert.deepEqual(grew('fra', forwarded(await scrape('fra'))), { 'fra>lhr': AT_FRA });
    assert.deepEqual(grew('lhr', forwarded(await scrape('lhr'))), { 'lhr>iad': AT_FRA + AT_LHR });
    assert.deepEqual(grew('iad', forwarded(await scrape('iad'))), {}, 'iad serves the tunnel itself and forwards nothing');
  });

  it('burrow_network_link_rtt_seconds{from,to} has every link each PoP dialed, near its emulated round trip', async () => {
    const near = (seconds: number, oneWayMs: number) => Math.abs(seconds * 1000 - 2 * oneWayMs) <= 0.25 * 2 * oneWayMs + 5;
    const pairs = Object.entries(ONE_WAY).map(([pair, ms]) => [...(pair.split('-') as [string, string]), ms] as const);
    let last: Sample[] = [];
    await eventually(
      async () => {
        last = (await Promise.all(POPS.map((pop) => scrape(pop)))).flat().filter((s) => s.name === 'burrow_network_link_rtt_seconds');
        return pairs.every(([from, to, ms]) => last.some((s) => s.labels.from === from && s.labels.to === to && near(s.value, ms)));
      },
      15_000,
      "every link's round trip near its emulated one",
    ).catch((error: Error) => assert.fail(`${error.message}; last scrape: ${JSON.stringify(last.map((s) => [s.labels.from, s.labels.to, s.value]))}`));
    // One series per link, none toward itself, all from the PoP that was scraped.
    assert.equal(last.length, pairs.length, JSON.stringify(last));
    assert.ok(last.every((s) => s.labels.from !== s.labels.to && s.value > 0));
  });

  it("each PoP's /ready answers 200 { status: 'ok', pop, connections } (its local connector connections), and /healthz answers", async () => {
    for (const pop of POPS) {
      const ready = await visit(api(pop), '/ready', { host: net.pops.get(pop)!.api });
      assert.equal(ready.status, 200);
      assert.deepEqual(JSON.parse(ready.text), { status: 'ok', pop, connections: pop === 'iad' ? 2 : 0 });
      const health = await visit(api(pop), '/healthz', { host: net.pops.get(pop)!.api });
      assert.equal(health.status, 200);
      assert.deepEqual(JSON.parse(health.text), { status: 'ok' });
    }
  });
});
