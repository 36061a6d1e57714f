// A network of four PoPs on one Redis losing a PoP (kill -9 of its process) and then Redis itself, under load: requests
// at the surviving PoPs succeed again within 3 s of the PoP's loss, its presence leaves the registry, and while Redis
// restarts no request for the known tunnel fails.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Connector } from '../../core/connector/connector.ts';
import { configSchema } from '../../config/schema.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import type { PresenceRecord } from '../../core/index.ts';
import { initNetworkCa } from '../../plugins/network/ca-command.ts';
import type { NetworkStatus } from '../../plugins/network/view.ts';
import { spawnEdge } from '../helpers/cli.ts';
import { createTunnel, eventually, fullMesh, removeDir, startEdge, startOrigin, tempDir, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { stopAll } from '../helpers/http.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

const HOST = 'app.example.test';
const PROBE = 500;

function get(base: string): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const req = http.get({ host: url.hostname, port: url.port, path: '/', headers: { host: HOST }, timeout: 5_000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', () => resolve(0));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
  });
}

/** `workers` closed loops of GETs at `base` for `ms`; every answer with the time it was sent. */
async function load(base: string, ms: number, workers = 4): Promise<Array<{ at: number; status: number }>> {
  const results: Array<{ at: number; status: number }> = [];
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < end) {
        const at = Date.now();
        results.push({ at, status: await get(base) });
      }
    }),
  );
  return results;
}

describe('network: losing a PoP and restarting Redis under load', () => {
  let redis: TestRedis;
  let caDir: string;
  let lhrDir: string;
  let lhr: { child: ChildProcess; addresses: Record<string, string> };
  const edges: TestEdge[] = [];
  let origin: TestOrigin;
  let connector: Connector | undefined;
  const at = (pop: string) => edges.find((edge) => edge.edge.settings.pop === pop)!;
  const presence = async () => (await at('fra').admin.request<{ tunnel: { connections: PresenceRecord[] } }>('GET', '/v1/tunnels/app')).tunnel.connections;

  before(async () => {
    redis = await startRedis();
    caDir = path.join(await tempDir('burrow-network-ca-'), 'ca');
    await initNetworkCa(caDir);
    const network = { registry: redis.url, ca: caDir, probeInterval: `${PROBE}ms` };
    for (const pop of ['fra', 'ewr', 'iad']) edges.push(await startEdge({ pop, network }));
    lhrDir = await tempDir('burrow-edge-lhr-');
    lhr = await spawnEdge(lhrDir, {
      pop: 'lhr',
      dataDir: lhrDir,
      zones: ['example.test'],
      heartbeatInterval: '1s',
      heartbeatCount: 3,
      listen: { http: '127.0.0.1:0', tunnel: '127.0.0.1:0', api: '127.0.0.1:0', peer: '127.0.0.1:0' },
      network: { registry: redis.url, ca: caDir, probeInterval: `${PROBE}ms` },
    });
    origin = await startOrigin((_req, res) => res.end('ok'));
    const credentials = await createTunnel(at('fra'), 'app', [HOST]);
    // Two connections at lhr and two at iad; when lhr goes, its two move to iad.
    connector = new Connector({
      config: configSchema.parse({ 'ha-connections': 4, 'heartbeat-interval': '1s', 'heartbeat-count': 3, ingress: [{ service: origin.url }] }),
      credentials: { ...credentials, edge: undefined },
      edges: [lhr.addresses.tunnel!, at('iad').edge.addresses!.tunnel],
      log: silentLogger,
      backoff: { baseMs: 200, capMs: 1_000 },
    });
    await connector.start();
    await eventually(async () => {
      const pops = (await presence()).map((record) => record.pop).sort();
      return pops.join(',') === 'iad,iad,lhr,lhr';
    }, 10_000, 'two connections at lhr and two at iad');
    // Every PoP links to every other before the load starts.
    await fullMesh(at('fra').admin, 4, 10_000);
  });
  after(() =>
    stopAll(
      () => connector?.stop(0),
      () => origin.close(),
      ...edges.map((edge) => () => edge.stop()),
      async () => {
        if (lhr?.child.exitCode === null && lhr.child.signalCode === null) {
          lhr.child.kill('SIGKILL');
          await once(lhr.child, 'exit');
        }
      },
      () => removeDir(lhrDir),
      () => removeDir(path.dirname(caDir)),
      () => redis.close(),
    ),
  );

  it('kill -9 of lhr: requests at fra, ewr and iad succeed again within 3 s, and lhr leaves the registry', async () => {
    let killedAt = 0;
    const killer = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      killedAt = Date.now();
      lhr.child.kill('SIGKILL');
    })();
    const [fra, ewr, iad] = await Promise.all([load(at('fra').url, 6_500), load(at('ewr').url, 6_500, 2), load(at('iad').url, 6_500, 2), killer]);
    for (const [name, results] of Object.entries({ fra, ewr, iad })) {
      const before = results.filter((r) => r.at < killedAt);
      const settled = results.filter((r) => r.at >= killedAt + 3_000);
      assert.ok(before.length > 10 && settled.length > 10, `${name}: ${before.length} requests before the kill, ${settled.length} after the 3 s`);
      assert.deepEqual(before.filter((r) => r.status !== 200), [], `${name}: failures before the kill`);
      assert.deepEqual(settled.filter((r) => r.status !== 200), [], `${name}: failures more than 3 s after the kill`);
    }
    // Its presence expires (the connector's two connections there moved to iad).
    await eventually(async () => (await presence()).every((record) => record.pop !== 'lhr'), 10_500, "lhr's presence to leave the registry");
    await eventually(async () => (await presence()).filter((record) => record.pop === 'iad').length === 4, 10_000, 'all four connections at iad');
    const status = await at('fra').admin.request<NetworkStatus>('GET', '/v1/network');
    assert.deepEqual(status.pops.map((pop) => pop.name), ['ewr', 'fra', 'iad']);
  });

  it('restarting Redis mid-load fails no request for the known tunnel', async () => {
    const outage = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await redis.stop();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await redis.start();
    })();
    const [fra, ewr] = await Promise.all([load(at('fra').url, 6_000), load(at('ewr').url, 6_000, 2), outage]);
    for (const [name, results] of Object.entries({ fra, ewr })) {
      assert.ok(results.length > 20, `${name}: ${results.length} requests`);
      assert.deepEqual(results.filter((r) => r.status !== 200), [], `${name}: failed requests`);
    }
  });
});
