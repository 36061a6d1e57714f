// Chaos: one of two PoPs (each its own process, one Redis, DNS with SRV discovery) killed -9 under a closed loop of
// requests. The connector found both PoPs through SRV (2 + 2); no request fails, new requests succeed within 3 s, and
// the connector ends with all 4 connections on the live PoP.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Connector } from '../../core/connector/connector.ts';
import { configSchema } from '../../config/schema.ts';
import { EdgeClient } from '../../core/edge-client.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { initNetworkCa } from '../../plugins/network/ca-command.ts';
import { spawnEdge } from '../helpers/cli.ts';
import { ADMIN_TOKEN, createTunnel, eventually, removeDir, startOrigin, tempDir, type TestEdge, type TestOrigin } from '../helpers/harness.ts';
import { statusAt, stopAll } from '../helpers/http.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { dig } from '../helpers/dig.ts';

const HOST = 'app.example.test';

const get = (address: string) => statusAt(address, HOST);

describe('chaos: one of two PoPs killed -9, connector on SRV discovery', () => {
  let redis: TestRedis;
  let root: string;
  const pops = new Map<string, { child: ChildProcess; addresses: Record<string, string> }>();
  let origin: TestOrigin;
  let connector: Connector | undefined;
  const live = new Map<number, string>();

  before(async () => {
    redis = await startRedis();
    root = await tempDir('burrow-chaos-pop-');
    const caDir = path.join(root, 'ca');
    await initNetworkCa(caDir);
    for (const pop of ['fra', 'lhr']) {
      const dataDir = path.join(root, pop);
      pops.set(
        pop,
        await spawnEdge(
          root,
          {
            pop,
            dataDir,
            zones: ['example.test'],
            heartbeatInterval: '1s',
            heartbeatCount: 3,
            listen: { http: '127.0.0.1:0', tunnel: '127.0.0.1:0', api: '127.0.0.1:0', peer: '127.0.0.1:0', dns: '127.0.0.1:0' },
            network: { registry: redis.url, ca: caDir, probeInterval: '500ms' },
            dns: { discovery: 'edges.example.test' },
          },
          ADMIN_TOKEN,
          `${pop}.json`,
        ),
      );
    }
    const fra = pops.get('fra')!.addresses;
    origin = await startOrigin((_req, res) => res.end('ok'));
    const asEdge = { api: `http://${fra.api}`, admin: new EdgeClient(`http://${fra.api}`, ADMIN_TOKEN) } as TestEdge;
    const { apiToken: _token, ...credentials } = await createTunnel(asEdge, 'app', [HOST]);
    connector = new Connector({
      config: configSchema.parse({
        'ha-connections': 4,
        'heartbeat-interval': '1s',
        'heartbeat-count': 3,
        discovery: { domain: 'edges.example.test', resolver: fra.dns },
        ingress: [{ service: origin.url }],
      }),
      credentials: { ...credentials, edge: undefined },
      log: silentLogger,
      backoff: { baseMs: 200, capMs: 1_000 },
    });
    connector.hooks.afterConnect.tap('test', (info) => void live.set(info.index, info.pop));
    connector.hooks.connectionLost.tap('test', (info) => void live.delete(info.index));
    await connector.start();
    await eventually(() => [...live.values()].sort().join(',') === 'fra,fra,lhr,lhr', 15_000, 'two connections on each PoP');
  });
  after(() =>
    stopAll(
      () => connector?.stop(0),
      () => origin?.close(),
      ...[...pops.values()].map((pop) => async () => {
        if (pop.child.exitCode === null && pop.child.signalCode === null) {
          pop.child.kill('SIGKILL');
          await once(pop.child, 'exit');
        }
      }),
      () => removeDir(root),
      () => redis?.close(),
    ),
  );

  it('no request at the live PoP fails, and the connector ends on it with all 4 connections', async () => {
    const fra = pops.get('fra')!.addresses.http!;
    const results: Array<{ at: number; status: number }> = [];
    const end = Date.now() + 6_000;
    let killedAt = 0;
    const loops = Array.from({ length: 4 }, async () => {
      while (Date.now() < end) {
        const at = Date.now();
        results.push({ at, status: await get(fra) });
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const srv = () => dig(pops.get('fra')!.addresses.dns!, '_burrow._tcp.edges.example.test', 'SRV');
    assert.equal((await srv()).answers.length, 2, 'both PoPs in the SRV answer before the kill');
    const lhr = pops.get('lhr')!.child;
    lhr.kill('SIGKILL');
    killedAt = Date.now();
    await once(lhr, 'exit');
    await Promise.all(loops);

    const failed = results.filter((result) => result.status !== 200);
    assert.equal(failed.length, 0, `${failed.length} of ${results.length} requests failed: ${JSON.stringify(failed.slice(0, 5))}`);
    const afterKill = results.filter((result) => result.at >= killedAt + 3_000);
    assert.ok(afterKill.length > 10, `only ${afterKill.length} requests 3 s after the kill`);
    await eventually(() => [...live.values()].join(',') === 'fra,fra,fra,fra', 15_000, `all 4 connections on fra (now ${[...live.values()].join(',')})`);
    assert.equal(await get(fra), 200);
    // The dead PoP leaves the SRV answers of the live one once its record expires: new connectors are not sent there.
    const fraTunnelPort = pops.get('fra')!.addresses.tunnel!.split(':').pop()!;
    await eventually(async () => {
      const answers = (await srv()).answers;
      return answers.length === 1 && answers[0]!.data.split(' ')[2] === fraTunnelPort;
    }, 15_000, 'SRV to list fra alone');
  });
});
